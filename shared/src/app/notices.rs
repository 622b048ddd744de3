//! Notices: release notes and incident notices that the operator publishes, every user reads, and the users
//! who subscribed to a kind receive by mail. Notices are not tenant data (a global partition the purge leaves
//! alone); subscriptions and the sent-claims are, so they go with the tenant.
//!
//! Mailing fans out through the task queue: publishing queues one `NoticeFanout`, which queues one
//! `NoticeMails` per active tenant, each of which mails one page of subscribers and queues the next page.
//! Before a mail goes out its recipient is claimed with a conditional write (`NSENT#notice#user`), so a task
//! that is delivered twice, or retried after a partial failure, never mails anyone twice; a failed send
//! releases its claim and fails the task, so the queue retries exactly the recipients that did not get it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::app::auth::Principal;
use crate::app::layout::{self, attr};
use crate::app::mail::Message;
use crate::app::users::UserRecord;
use crate::app::{AppError, Scope, Services, audit, tenants};
use crate::domain::ids::{TenantId, UserId, new_id};
use crate::domain::time::jst;
use crate::ports::{
    BatchWrite, Change, Cond, Item, OutgoingMail, Query, StoreError, Table, Task, Value, Write,
};

/// An incident notice should be published within this time of the incident.
pub const PROMISE: Duration = Duration::hours(72);
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;
/// Subscribers mailed by one `NoticeMails` task (also one transaction of claims).
pub const PAGE: usize = 100;
/// How long a sent-claim is kept (DynamoDB TTL); far longer than any retry.
const CLAIM_DAYS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Release,
    Incident,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Release, Kind::Incident];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Release => "release",
            Kind::Incident => "incident",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

pub struct NewNotice {
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub occurred: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct Notice {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// Milliseconds since the epoch.
    pub published: i64,
    pub occurred: Option<i64>,
    pub mails_sent: i64,
    pub mails_failed: i64,
}

/// The notice object of the API.
#[derive(Debug, Serialize)]
pub struct NoticeView {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub published_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// Incidents only: whether the notice came out within 72 hours of the incident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_within_72h: Option<bool>,
}

/// What the operator sees of a notice: the notice and how its mailing went so far.
#[derive(Debug, Serialize)]
pub struct OpsNoticeView {
    #[serde(flatten)]
    pub notice: NoticeView,
    pub mails_sent: i64,
    pub mails_failed: i64,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn time_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Notice {
    pub fn within_promise(&self) -> Option<bool> {
        let occurred = self.occurred?;
        Some(self.published - occurred <= PROMISE.whole_milliseconds() as i64)
    }

    pub fn view(&self) -> NoticeView {
        NoticeView {
            id: self.id.clone(),
            kind: self.kind,
            title: self.title.clone(),
            body: self.body.clone(),
            published_at: jst(time_of(self.published)),
            occurred_at: self.occurred.map(|o| jst(time_of(o))),
            published_within_72h: self.within_promise(),
        }
    }

    pub fn ops_view(&self) -> OpsNoticeView {
        OpsNoticeView {
            notice: self.view(),
            mails_sent: self.mails_sent,
            mails_failed: self.mails_failed,
        }
    }

    fn to_item(&self, pk: String) -> Item {
        let mut item = Item::new(pk, self.id.clone())
            .with(attr::KIND, Value::S(self.kind.as_str().into()))
            .with(attr::TITLE, Value::S(self.title.clone()))
            .with(attr::BODY, Value::S(self.body.clone()))
            .with(attr::PUBLISHED, Value::N(self.published));
        if let Some(o) = self.occurred {
            item = item.with(attr::OCCURRED, Value::N(o));
        }
        item
    }

    fn from_item(item: &Item) -> Option<Notice> {
        Some(Notice {
            id: item.sk.clone(),
            kind: Kind::parse(item.s(attr::KIND)?)?,
            title: item.s(attr::TITLE)?.to_owned(),
            body: item.s(attr::BODY)?.to_owned(),
            published: item.n(attr::PUBLISHED)?,
            occurred: item.n(attr::OCCURRED),
            mails_sent: item.n(attr::MAILS_SENT).unwrap_or(0),
            mails_failed: item.n(attr::MAILS_FAILED).unwrap_or(0),
        })
    }
}

fn text(field: &'static str, value: &str, max: usize, multiline: bool) -> Result<String, AppError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(AppError::invalid(
            field,
            format!("{field} must have 1 to {max} characters"),
        ));
    }
    // A title goes into the Subject header: no line breaks or other control characters there.
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(AppError::invalid(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Stores the notice and queues its mailing; the notice is readable at once, mails follow.
pub async fn publish(
    svc: &Services,
    new: NewNotice,
    now: OffsetDateTime,
) -> Result<Notice, AppError> {
    let title = text("title", &new.title, TITLE_MAX, false)?;
    let body = text("body", &new.body, BODY_MAX, true)?;
    let occurred = match (new.kind, new.occurred) {
        (Kind::Incident, None) => {
            return Err(AppError::invalid(
                "occurred_at",
                "an incident notice needs occurred_at, the time the incident happened",
            ));
        }
        (Kind::Release, Some(_)) => {
            return Err(AppError::invalid(
                "occurred_at",
                "occurred_at belongs to incident notices only",
            ));
        }
        (_, Some(o)) if o > now => {
            return Err(AppError::invalid(
                "occurred_at",
                "occurred_at lies in the future",
            ));
        }
        (_, o) => o.map(ms),
    };
    let notice = Notice {
        id: new_id(),
        kind: new.kind,
        title,
        body,
        published: ms(now),
        occurred,
        mails_sent: 0,
        mails_failed: 0,
    };
    svc.store
        .transact(vec![
            Write::put_new(Table::Data, notice.to_item(layout::NOTICES_PK.into())),
            Write::put_new(
                Table::Data,
                notice.to_item(layout::notices_kind_pk(notice.kind.as_str())),
            ),
        ])
        .await?;
    svc.queue
        .enqueue(vec![Task::NoticeFanout {
            notice: notice.id.clone(),
        }])
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    tracing::info!(notice = %notice.id, kind = notice.kind.as_str(), "notice published");
    Ok(notice)
}

pub async fn load(svc: &Services, id: &str) -> Result<Option<Notice>, AppError> {
    Ok(svc
        .store
        .get(Table::Data, layout::NOTICES_PK, id)
        .await?
        .as_ref()
        .and_then(Notice::from_item))
}

/// A page of notices, newest first, of one kind or all; `with_counts` fills in the mailing counters (the
/// operator's view), which a kind's page must read from the main items.
pub async fn list(
    svc: &Services,
    kind: Option<Kind>,
    limit: usize,
    after: Option<String>,
    with_counts: bool,
) -> Result<(Vec<Notice>, Option<String>), AppError> {
    let pk = match kind {
        Some(k) => layout::notices_kind_pk(k.as_str()),
        None => layout::NOTICES_PK.into(),
    };
    let page = svc
        .store
        .query(
            &Query::prefix(Table::Data, pk, "")
                .after(after)
                .limit(limit)
                .backward(),
        )
        .await?;
    let mut notices: Vec<Notice> = page.items.iter().filter_map(Notice::from_item).collect();
    if with_counts && kind.is_some() && !notices.is_empty() {
        // The per-kind copies carry no mailing counters; the operator's view reads them from the main item.
        let keys: Vec<(String, String)> = notices
            .iter()
            .map(|n| (layout::NOTICES_PK.to_owned(), n.id.clone()))
            .collect();
        let main = svc.store.batch_get(Table::Data, &keys).await?;
        for n in &mut notices {
            if let Some(m) = main.iter().find(|m| m.sk == n.id) {
                n.mails_sent = m.n(attr::MAILS_SENT).unwrap_or(0);
                n.mails_failed = m.n(attr::MAILS_FAILED).unwrap_or(0);
            }
        }
    }
    Ok((notices, page.next))
}

// ---- subscriptions ------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    pub release: bool,
    pub incident: bool,
}

impl Subscriptions {
    fn get(&self, k: Kind) -> bool {
        match k {
            Kind::Release => self.release,
            Kind::Incident => self.incident,
        }
    }
}

pub async fn subscriptions(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
) -> Result<Subscriptions, AppError> {
    let keys: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|k| (scope.pk(), layout::subscription_sk(k.as_str(), user)))
        .collect();
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let has = |k: Kind| {
        let sk = layout::subscription_sk(k.as_str(), user);
        items.iter().any(|i| i.sk == sk)
    };
    Ok(Subscriptions {
        release: has(Kind::Release),
        incident: has(Kind::Incident),
    })
}

/// Sets the caller's subscriptions; mails need an address, so a user without one cannot subscribe.
pub async fn subscribe(
    svc: &Services,
    p: &Principal,
    subs: Subscriptions,
    now: OffsetDateTime,
) -> Result<Subscriptions, AppError> {
    if p.user.email.is_none()
        && let Some(k) = Kind::ALL.into_iter().find(|k| subs.get(*k))
    {
        return Err(AppError::invalid(
            if k == Kind::Release {
                "release"
            } else {
                "incident"
            },
            "notice mails need an e-mail address, and your account has none",
        ));
    }
    let scope = &p.scope;
    let user = &p.user.id;
    let mut writes = vec![Write::Check {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::user_sk(user),
        cond: Cond::Exists,
    }];
    for k in Kind::ALL {
        let sk = layout::subscription_sk(k.as_str(), user);
        writes.push(if subs.get(k) {
            Write::put(
                Table::Data,
                Item::new(scope.pk(), sk).with(attr::USER, Value::S(user.to_string())),
            )
        } else {
            Write::delete(Table::Data, scope.pk(), sk)
        });
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    writes.push(audit::entry(
        &scope.tenant,
        &log_key,
        &p.actor(),
        audit::Entry {
            action: "subscriptions.update",
            target_type: "user",
            target_id: user.as_str(),
        },
        now,
    ));
    match svc.store.transact(writes).await {
        Ok(()) => Ok(subs),
        Err(StoreError::ConditionFailed { .. }) => Err(AppError::Unauthenticated),
        Err(e) => Err(e.into()),
    }
}

/// The deletes that remove a user's subscriptions, for the transaction that deletes the user.
pub fn unsubscribe_writes(scope: &Scope, user: &UserId) -> Vec<Write> {
    Kind::ALL
        .iter()
        .map(|k| {
            Write::delete(
                Table::Data,
                scope.pk(),
                layout::subscription_sk(k.as_str(), user),
            )
        })
        .collect()
}

// ---- mailing ------------------------------------------------------------------------------------------

/// Queues one `NoticeMails` task per tenant whose contract runs; returns how many.
pub async fn fan_out(svc: &Services, notice: &str, now: OffsetDateTime) -> Result<usize, AppError> {
    if load(svc, notice).await?.is_none() {
        tracing::warn!(notice, "notice to fan out not found");
        return Ok(0);
    }
    let today = now.to_offset(crate::domain::time::JST).date();
    let mut queued = 0;
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, layout::REGISTRY_PK, "")
                    .after(after)
                    .limit(500),
            )
            .await?;
        let tasks: Vec<Task> = page
            .items
            .iter()
            .filter(|e| e.s(attr::PURGE).is_none())
            .filter(|e| {
                e.s(attr::CONTRACT_END)
                    .and_then(tenants::parse_date)
                    .is_none_or(|end| today <= end)
            })
            .map(|e| Task::NoticeMails {
                notice: notice.to_owned(),
                tenant: e.sk.clone(),
                after: None,
            })
            .collect();
        queued += tasks.len();
        if !tasks.is_empty() {
            svc.queue
                .enqueue(tasks)
                .await
                .map_err(|e| AppError::Internal(Box::new(e)))?;
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(queued)
}

/// What one `NoticeMails` task did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PageReport {
    pub sent: usize,
    pub failed: usize,
    /// Subscribers already mailed by an earlier delivery of this task.
    pub skipped: usize,
    pub next: Option<String>,
}

struct Recipient {
    user: UserId,
    email: String,
    name: String,
}

/// Mails one page of a tenant's subscribers and queues the next page. Fails (so the queue retries it)
/// when a mail could not be sent; the recipients already mailed are skipped on the retry.
pub async fn mail_page(
    svc: &Services,
    notice_id: &str,
    tenant: &str,
    after: Option<String>,
    now: OffsetDateTime,
) -> Result<PageReport, AppError> {
    let mut report = PageReport::default();
    let Some(notice) = load(svc, notice_id).await? else {
        return Ok(report);
    };
    let notice = &notice;
    let tenant = TenantId::from_stored(tenant.to_owned());
    let page = svc
        .store
        .query(
            &Query::prefix(
                Table::Data,
                layout::tenant_pk(&tenant),
                layout::subscriptions_prefix(notice.kind.as_str()),
            )
            .after(after)
            .limit(PAGE),
        )
        .await?;
    if page.items.is_empty() {
        return Ok(report);
    }
    // Only now, with subscribers to mail, does the tenant's key matter (most tenants have none).
    match tenants::load(svc, &tenant).await {
        Ok(t) if !t.contract_ended(now) => {}
        Ok(_) | Err(AppError::NotFound(_)) => return Ok(report),
        Err(e) => return Err(e),
    }
    let scope = svc.scope(&tenant).await?;
    let keys: Vec<(String, String)> = page
        .items
        .iter()
        .filter_map(|i| i.s(attr::USER))
        .map(|u| {
            (
                scope.pk(),
                layout::user_sk(&UserId::from_stored(u.to_owned())),
            )
        })
        .collect();
    let mut recipients = Vec::with_capacity(keys.len());
    for item in svc.store.batch_get(Table::Data, &keys).await? {
        let user = UserRecord::from_item(&scope, &item)?;
        if let Some(email) = user.email {
            recipients.push(Recipient {
                user: user.id,
                email,
                name: user.name,
            });
        }
    }
    let before = recipients.len();
    let recipients = claim(svc, &scope, notice, recipients, now).await?;
    report.skipped = before - recipients.len();

    // At most `mail_rate` mails a second leave this worker (SES's sending rate is per account), a few in
    // flight at once.
    let mut pace = svc.settings.mail_rate.map(|r| {
        let mut i = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / f64::from(r)));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut results: Vec<(Recipient, Option<String>)> = Vec::with_capacity(recipients.len());
    let mut rest = recipients;
    while !rest.is_empty() {
        let mut sends = vec![];
        for r in rest.drain(..rest.len().min(crate::app::mail::MAIL_CONCURRENCY)) {
            if let Some(p) = pace.as_mut() {
                p.tick().await;
            }
            sends.push(send(svc, notice, r, now));
        }
        results.extend(futures_util::future::join_all(sends).await);
    }

    // Failed sends give their claim back, so the retry of this task mails exactly them.
    let released: Vec<BatchWrite> = results
        .iter()
        .filter(|(_, id)| id.is_none())
        .map(|(r, _)| BatchWrite::Delete {
            pk: scope.pk(),
            sk: layout::notice_sent_sk(&notice.id, &r.user),
        })
        .collect();
    report.failed = released.len();
    report.sent = results.len() - report.failed;
    if !released.is_empty() {
        svc.store.batch_write(Table::Data, released).await?;
    }
    if !results.is_empty() {
        let log_key = svc.log_key(&tenant).await?;
        let records = results
            .iter()
            .map(|(r, id)| {
                BatchWrite::Put(audit::mail_record(
                    &tenant,
                    &log_key,
                    &r.email,
                    "notice",
                    id.as_deref(),
                    now,
                ))
            })
            .collect();
        svc.store.batch_write(Table::Log, records).await?;
        svc.store
            .transact(vec![Write::Update {
                table: Table::Data,
                pk: layout::NOTICES_PK.into(),
                sk: notice.id.clone(),
                changes: vec![
                    Change::Add(attr::MAILS_SENT, report.sent as i64),
                    Change::Add(attr::MAILS_FAILED, report.failed as i64),
                ],
                cond: None,
            }])
            .await?;
    }
    if let Some(next) = &page.next {
        svc.queue
            .enqueue(vec![Task::NoticeMails {
                notice: notice.id.clone(),
                tenant: tenant.to_string(),
                after: Some(next.clone()),
            }])
            .await
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        report.next = Some(next.clone());
    }
    if report.failed > 0 {
        return Err(AppError::Internal(
            format!(
                "{} of {} notice mails failed; the task is retried for them",
                report.failed,
                report.failed + report.sent
            )
            .into(),
        ));
    }
    Ok(report)
}

async fn send(
    svc: &Services,
    notice: &Notice,
    r: Recipient,
    now: OffsetDateTime,
) -> (Recipient, Option<String>) {
    let m = mail(svc, notice, &r);
    let raw = crate::app::mail::render(&svc.settings.mail_from, &m, now);
    match svc.mailer.send(&OutgoingMail { to: m.to, raw }).await {
        Ok(id) => (r, Some(id)),
        Err(e) => {
            tracing::error!(error = %e, notice = %notice.id, "notice mail not sent");
            (r, None)
        }
    }
}

/// Claims the recipients not mailed yet for this notice, in one transaction; a claim that already
/// exists (an earlier delivery of the task) drops its recipient and the rest are tried again.
async fn claim(
    svc: &Services,
    scope: &Scope,
    notice: &Notice,
    mut recipients: Vec<Recipient>,
    now: OffsetDateTime,
) -> Result<Vec<Recipient>, AppError> {
    let ttl = now.unix_timestamp() + Duration::days(CLAIM_DAYS).whole_seconds();
    while !recipients.is_empty() {
        let writes = recipients
            .iter()
            .map(|r| {
                Write::put_new(
                    Table::Data,
                    Item::new(scope.pk(), layout::notice_sent_sk(&notice.id, &r.user))
                        .with(attr::TTL, Value::N(ttl)),
                )
            })
            .collect();
        match svc.store.transact(writes).await {
            Ok(()) => break,
            Err(StoreError::ConditionFailed { index }) if index < recipients.len() => {
                recipients.remove(index);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recipients)
}

/// The notice mail: a Japanese and an English header, the notice as written, how to unsubscribe.
fn mail(svc: &Services, n: &Notice, r: &Recipient) -> Message {
    let (ja, en) = match n.kind {
        Kind::Release => ("リリースのお知らせ", "Release note"),
        Kind::Incident => ("障害・インシデントのお知らせ", "Incident notice"),
    };
    let published = jst(time_of(n.published));
    let occurred = n
        .occurred
        .map(|o| {
            let at = jst(time_of(o));
            format!("発生日時 / Occurred at: {at}\n")
        })
        .unwrap_or_default();
    let url = &svc.settings.public_url;
    Message {
        to: r.email.clone(),
        subject: format!("【Kanri】{ja}: {} / {en}", n.title),
        body: format!(
            "{name} 様 / Dear {name},\n\n\
             Kanri から{ja}をお送りします。\n\
             This is a {en_lower} from Kanri.\n\n\
             ■ {title}\n\
             公開日時 / Published at: {published}\n\
             {occurred}\n\
             {body}\n\n\
             ----\n\
             配信停止: このメールはお知らせメールを購読している方にお送りしています。\
             Kanri にログインし、設定の「お知らせメール」で購読を解除できます\
             （API: PUT /v1/me/subscriptions）。\n\
             To unsubscribe: you receive this mail because you subscribed to Kanri notices. Sign in to Kanri \
             and turn notice mails off in your settings (API: PUT /v1/me/subscriptions).\n\
             {url}\n",
            name = r.name,
            en_lower = en.to_lowercase(),
            title = n.title,
            body = n.body,
        ),
    }
}
