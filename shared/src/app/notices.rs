//! Notices: release notes and incident notices that the operator publishes, every user reads, and the users
//! who subscribed to a kind receive by mail. Notices are not tenant data (a global partition the purge leaves
//! alone); subscriptions and the sent-claims are, so they go with the tenant.
//!
//! Mailing fans out through the task queue: publishing queues one `NoticeFanout`, which counts each active
//! tenant's subscribers into the notice's `mails_due` and queues one `NoticeMails` per tenant that has
//! any; each mails one page of subscribers and queues the next page. Recipients go in small batches:
//! claimed with a conditional write (`NSENT#notice#user`, pending and held for a while), mailed, then
//! marked sent (or failed) together with the notice's counters. A task delivered twice or retried never
//! mails anyone twice; one that resumes after a crash mails exactly the recipients not marked sent (the
//! crashed batch once its hold ends, with the same mail key, so the local outbox does not write a mail
//! twice; SES has no such key, so there a batch in flight at the crash may be mailed twice).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::app::layout::{self, attr};
use crate::app::mail::Message;
use crate::app::paging::{Page, PageRequest};
use crate::app::principal::Principal;
pub use crate::app::records::subscription::Kind;
use crate::app::records::tenant;
use crate::app::records::user::UserRecord;
use crate::app::{AppError, Scope, Services, audit};
use crate::domain::ids::{TenantId, UserId, new_id};
use crate::domain::time::jst;
use crate::ports::{
    BatchWrite, Change, Cond, Item, OutgoingMail, Query, StoreError, Table, Task, Value, Write,
};

/// An incident notice should be published within this time of the incident.
pub const PROMISE: Duration = Duration::hours(72);
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;
/// Subscribers mailed by one `NoticeMails` task.
pub const PAGE: usize = 100;
/// Recipients claimed, mailed and marked together: what a crash can leave in flight.
pub const BATCH: usize = 16;
/// How long a worker holds the recipients it is mailing: longer than a batch takes (two rounds of
/// `MAIL_CONCURRENCY` sends, each bounded by the AWS operation timeout, plus pacing). A pending claim
/// older than this was left by a worker that died, and is taken over.
pub const CLAIM_LEASE: Duration = Duration::seconds(30);
/// How long a sent-claim is kept (DynamoDB TTL); far longer than any retry.
const CLAIM_DAYS: i64 = 30;

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
    /// Recipients counted for the mailing (see `fan_out`), and those found not mailable.
    pub mails_due: i64,
    pub mails_skipped: i64,
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
    /// Recipients mailed.
    pub mails_sent: i64,
    /// Failed attempts (each retried).
    pub mails_failed: i64,
    /// Recipients not mailed yet: 0 once the mailing is through.
    pub mails_remaining: i64,
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
            mails_remaining: (self.mails_due - self.mails_sent - self.mails_skipped).max(0),
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
            mails_due: item.n(attr::MAILS_DUE).unwrap_or(0),
            mails_skipped: item.n(attr::MAILS_SKIPPED).unwrap_or(0),
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
        mails_due: 0,
        mails_skipped: 0,
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
    req: PageRequest,
    with_counts: bool,
) -> Result<Page<Notice>, AppError> {
    let after = req.after_key(|k| layout::is_id_key("", k))?;
    let pk = match kind {
        Some(k) => layout::notices_kind_pk(k.as_str()),
        None => layout::NOTICES_PK.into(),
    };
    let page = svc
        .store
        .query(
            &Query::prefix(Table::Data, pk, "")
                .after(after)
                .limit(req.limit)
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
                n.mails_due = m.n(attr::MAILS_DUE).unwrap_or(0);
                n.mails_skipped = m.n(attr::MAILS_SKIPPED).unwrap_or(0);
            }
        }
    }
    Ok(Page::after_key(notices, page.next))
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

// ---- mailing ------------------------------------------------------------------------------------------

/// Queues one `NoticeMails` task per tenant whose contract runs and that has subscribers of the notice's
/// kind, after counting them into the notice's `mails_due` (once per tenant: a mailing record in the
/// tenant's partition says it was counted). Returns how many tasks were queued.
pub async fn fan_out(svc: &Services, notice: &str, now: OffsetDateTime) -> Result<usize, AppError> {
    use futures_util::{StreamExt, TryStreamExt};
    let Some(n) = load(svc, notice).await? else {
        tracing::warn!(notice, "notice to fan out not found");
        return Ok(0);
    };
    let today = now.to_offset(crate::domain::time::JST).date();
    let ttl = now.unix_timestamp() + Duration::days(CLAIM_DAYS).whole_seconds();
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
        let active: Vec<TenantId> = page
            .items
            .iter()
            .filter(|e| e.s(attr::PURGE).is_none())
            .filter(|e| {
                e.s(attr::CONTRACT_END)
                    .and_then(tenant::parse_date)
                    .is_none_or(|end| today <= end)
            })
            .map(|e| TenantId::from_stored(e.sk.clone()))
            .collect();
        // One query per tenant (a tenant without subscribers costs nothing more), a few at a time.
        let counted: Vec<(TenantId, i64)> = futures_util::stream::iter(active)
            .map(|t| async move {
                let n = count(
                    svc,
                    &layout::tenant_pk(&t),
                    &layout::subscriptions_prefix(n.kind.as_str()),
                )
                .await?;
                Ok::<_, AppError>((t, n))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        let mut tasks = vec![];
        for (t, subscribers) in counted.into_iter().filter(|(_, c)| *c > 0) {
            let counted_once = svc
                .store
                .transact(vec![
                    Write::put_new(
                        Table::Data,
                        Item::new(layout::tenant_pk(&t), layout::notice_mailing_sk(notice))
                            .with(attr::DUE, Value::N(subscribers))
                            .with(attr::TTL, Value::N(ttl)),
                    ),
                    Write::Update {
                        table: Table::Data,
                        pk: layout::NOTICES_PK.into(),
                        sk: notice.to_owned(),
                        changes: vec![Change::Add(attr::MAILS_DUE, subscribers)],
                        cond: Some(Cond::Exists),
                    },
                ])
                .await;
            match counted_once {
                // Counted by an earlier delivery of this fan-out: the task is queued again, harmlessly.
                Ok(()) | Err(StoreError::ConditionFailed { index: 0 }) => {}
                Err(StoreError::ConditionFailed { .. }) => return Ok(queued),
                Err(e) => return Err(e.into()),
            }
            tasks.push(Task::NoticeMails {
                notice: notice.to_owned(),
                tenant: t.to_string(),
                after: None,
            });
        }
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

/// Items of a partition under a prefix, counted page by page.
async fn count(svc: &Services, pk: &str, prefix: &str) -> Result<i64, AppError> {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, pk, prefix)
                    .after(after)
                    .limit(1000),
            )
            .await?;
        n += page.items.len() as i64;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(n),
        }
    }
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

/// A recipient's claim as found: none yet, or its state and lease.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Claim {
    None,
    Pending { lease: i64, holder: Option<String> },
    Failed { lease: i64 },
    Done,
    Sent,
}

impl Claim {
    fn of(item: Option<&Item>) -> Claim {
        let Some(i) = item else {
            return Claim::None;
        };
        let lease = i.n(attr::LEASE).unwrap_or(0);
        match i.s(attr::STATE) {
            Some("sent") | None => Claim::Sent,
            Some("pending") => Claim::Pending {
                lease,
                holder: i.s(attr::HOLDER).map(str::to_owned),
            },
            Some("failed") => Claim::Failed { lease },
            Some(_) => Claim::Done,
        }
    }

    /// The condition under which this claim, as found, may be taken.
    fn cond(&self) -> Cond {
        match self {
            Claim::None => Cond::NotExists,
            Claim::Pending { lease, .. } | Claim::Failed { lease } => {
                Cond::Eq(attr::LEASE, Value::N(*lease))
            }
            Claim::Done | Claim::Sent => Cond::Not(Box::new(Cond::Exists)),
        }
    }
}

fn ms_of(t: OffsetDateTime) -> i64 {
    ms(t)
}

/// Mails one page of a tenant's subscribers and queues the next page. Recipients are taken a batch at a
/// time ([`BATCH`]): claimed (pending, held for [`CLAIM_LEASE`]), mailed, then marked sent or failed
/// with the notice's counters, so a worker that dies loses nothing: its batch's claims are taken over
/// once their hold ends, and mailed with the same key ([`crate::ports::Mailer::send_once`]). Fails (so
/// the queue retries it) when a mail could not be sent; the retry mails exactly those recipients.
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
    // Only with subscribers to mail does the tenant's key matter (the fan-out skips tenants without).
    match tenant::load(svc, &tenant).await {
        Ok(t) if !t.contract_ended(now) => {}
        Ok(_) => {
            // The contract ended meanwhile: the rest of this tenant is not mailed, nor still to go.
            settle(svc, &layout::tenant_pk(&tenant), notice).await?;
            return Ok(report);
        }
        Err(AppError::NotFound(_)) => return Ok(report),
        Err(e) => return Err(e),
    }
    let scope = svc.scope(&tenant).await?;
    let started = std::time::Instant::now();
    // The clock of this run: the task's `now`, moved on by the time the run has taken.
    let clock = || now + started.elapsed();
    let subscribers: Vec<UserId> = page
        .items
        .iter()
        .filter_map(|i| i.s(attr::USER))
        .map(|u| UserId::from_stored(u.to_owned()))
        .collect();
    let profiles: Vec<(String, String)> = subscribers
        .iter()
        .map(|u| (scope.pk(), layout::user_sk(u)))
        .collect();
    let mut recipients: std::collections::HashMap<UserId, Option<Recipient>> =
        subscribers.iter().map(|u| (u.clone(), None)).collect();
    for item in svc.store.batch_get(Table::Data, &profiles).await? {
        let user = UserRecord::from_item(&scope, &item)?;
        if let Some(email) = user.email {
            recipients.insert(
                user.id.clone(),
                Some(Recipient {
                    user: user.id,
                    email,
                    name: user.name,
                }),
            );
        }
    }
    // At most `mail_rate` mails a second leave this worker (SES's sending rate is per account).
    let mut pace = svc.settings.mail_rate.map(|r| {
        let mut i = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / f64::from(r)));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut tried: std::collections::HashSet<UserId> = std::collections::HashSet::new();
    let mut counted = false;
    loop {
        let claim_keys: Vec<(String, String)> = subscribers
            .iter()
            .map(|u| (scope.pk(), layout::notice_sent_sk(&notice.id, u)))
            .collect();
        let found = svc.store.batch_get(Table::Data, &claim_keys).await?;
        let now_ms = ms_of(clock());
        let mut todo = vec![];
        let mut held_until: Option<i64> = None;
        for u in &subscribers {
            if tried.contains(u) {
                continue;
            }
            let sk = layout::notice_sent_sk(&notice.id, u);
            match Claim::of(found.iter().find(|i| i.sk == sk)) {
                Claim::Sent => {
                    if !counted {
                        report.skipped += 1;
                    }
                }
                Claim::Done => {}
                Claim::Pending { lease, holder }
                    if lease > now_ms && svc.settings.must_wait_for(holder.as_deref()) =>
                {
                    held_until = Some(held_until.map_or(lease, |h: i64| h.min(lease)));
                }
                c => todo.push((u.clone(), c)),
            }
        }
        counted = true;
        if todo.is_empty() {
            match held_until {
                // Another worker holds some (or a crashed one did): wait for its hold to end.
                Some(until) => {
                    let wait = (until - now_ms).clamp(0, CLAIM_LEASE.whole_milliseconds() as i64);
                    tokio::time::sleep(std::time::Duration::from_millis(wait as u64 + 50)).await;
                    continue;
                }
                None => break,
            }
        }
        for batch in todo.chunks(BATCH) {
            let lease = ms_of(clock() + CLAIM_LEASE);
            let mut batch: Vec<(UserId, Claim)> = batch.to_vec();
            // Claim the batch in one transaction; a claim someone else changed meanwhile drops out.
            let mut mailable: Vec<&Recipient>;
            loop {
                mailable = vec![];
                let mut writes = vec![];
                let mut unmailable = 0;
                for (u, c) in &batch {
                    let claim = Item::new(scope.pk(), layout::notice_sent_sk(&notice.id, u))
                        .with(attr::TTL, Value::N(ttl_of(now)));
                    let claim = match recipients.get(u).and_then(Option::as_ref) {
                        Some(r) => {
                            mailable.push(r);
                            claim
                                .with(attr::STATE, Value::S("pending".into()))
                                .with(attr::LEASE, Value::N(lease))
                                .with(attr::HOLDER, Value::S(svc.settings.holder().into()))
                        }
                        None => {
                            // Deleted since, or no address: nothing to mail, and counted as such.
                            unmailable += 1;
                            claim.with(attr::STATE, Value::S("skipped".into()))
                        }
                    };
                    writes.push(Write::Put {
                        table: Table::Data,
                        item: claim,
                        cond: Some(c.cond()),
                    });
                }
                if unmailable > 0 {
                    writes.push(counter(
                        notice,
                        vec![Change::Add(attr::MAILS_SKIPPED, unmailable)],
                    ));
                }
                match svc.store.transact(writes).await {
                    Ok(()) => break,
                    Err(StoreError::ConditionFailed { index }) if index < batch.len() => {
                        batch.remove(index);
                        if batch.is_empty() {
                            mailable = vec![];
                            break;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            for (u, _) in &batch {
                tried.insert(u.clone());
            }
            if mailable.is_empty() {
                continue;
            }
            let mut results: Vec<(&Recipient, Option<String>)> = Vec::with_capacity(mailable.len());
            for group in mailable.chunks(crate::app::mail::MAIL_CONCURRENCY) {
                let mut sends = vec![];
                for r in group {
                    if let Some(p) = pace.as_mut() {
                        p.tick().await;
                    }
                    sends.push(send(svc, notice, r, now));
                }
                results.extend(futures_util::future::join_all(sends).await);
            }
            record(svc, &scope, notice, &results, lease, &mut report, now).await?;
        }
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
    } else {
        settle(svc, &scope.pk(), notice).await?;
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

fn ttl_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp() + Duration::days(CLAIM_DAYS).whole_seconds()
}

fn counter(notice: &Notice, changes: Vec<Change>) -> Write {
    Write::Update {
        table: Table::Data,
        pk: layout::NOTICES_PK.into(),
        sk: notice.id.clone(),
        changes,
        cond: None,
    }
}

/// Marks a batch's claims sent or failed (only while this run still holds them) and moves the notice's
/// counters in the same transaction, then writes the mail log.
async fn record(
    svc: &Services,
    scope: &Scope,
    notice: &Notice,
    results: &[(&Recipient, Option<String>)],
    lease: i64,
    report: &mut PageReport,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut kept: Vec<&(&Recipient, Option<String>)> = results.iter().collect();
    loop {
        let sent = kept.iter().filter(|(_, id)| id.is_some()).count() as i64;
        let failed = kept.len() as i64 - sent;
        let mut writes: Vec<Write> = kept
            .iter()
            .map(|(r, id)| Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::notice_sent_sk(&notice.id, &r.user),
                changes: vec![Change::Set(
                    attr::STATE,
                    Value::S(if id.is_some() { "sent" } else { "failed" }.into()),
                )],
                cond: Some(Cond::Eq(attr::LEASE, Value::N(lease))),
            })
            .collect();
        writes.push(counter(
            notice,
            vec![
                Change::Add(attr::MAILS_SENT, sent),
                Change::Add(attr::MAILS_FAILED, failed),
            ],
        ));
        match svc.store.transact(writes).await {
            Ok(()) => {
                report.sent += sent as usize;
                report.failed += failed as usize;
                break;
            }
            // This run's hold ran out and another took the recipient over: it counts it.
            Err(StoreError::ConditionFailed { index }) if index < kept.len() => {
                tracing::warn!(notice = %notice.id, "a notice claim was taken over while its mail was sent");
                kept.remove(index);
                if kept.is_empty() {
                    break;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    let records = results
        .iter()
        .map(|(r, id)| {
            BatchWrite::Put(audit::mail_record(
                &scope.tenant,
                &log_key,
                &r.email,
                "notice",
                id.as_deref(),
                now,
            ))
        })
        .collect();
    svc.store.batch_write(Table::Log, records).await?;
    Ok(())
}

/// At a tenant's last page: the subscribers actually met (one claim each, whatever its state) replace
/// the count made at fan-out in the notice's `mails_due`, once.
async fn settle(svc: &Services, pk: &str, notice: &Notice) -> Result<(), AppError> {
    let sk = layout::notice_mailing_sk(&notice.id);
    let record = svc.store.get(Table::Data, pk, &sk).await?;
    if record.as_ref().and_then(|r| r.bool(attr::SETTLED)) == Some(true) {
        return Ok(());
    }
    let due = record.as_ref().and_then(|r| r.n(attr::DUE)).unwrap_or(0);
    let met = count(svc, pk, &layout::notice_sent_prefix(&notice.id)).await?;
    let result = svc
        .store
        .transact(vec![
            Write::Update {
                table: Table::Data,
                pk: pk.to_owned(),
                sk,
                changes: vec![
                    Change::Set(attr::SETTLED, Value::Bool(true)),
                    Change::Set(attr::DUE, Value::N(met)),
                ],
                cond: Some(Cond::Not(Box::new(Cond::Eq(
                    attr::SETTLED,
                    Value::Bool(true),
                )))),
            },
            counter(notice, vec![Change::Add(attr::MAILS_DUE, met - due)]),
        ])
        .await;
    match result {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn send<'r>(
    svc: &Services,
    notice: &Notice,
    r: &'r Recipient,
    now: OffsetDateTime,
) -> (&'r Recipient, Option<String>) {
    let m = mail(svc, notice, r);
    let raw = crate::app::mail::render(&svc.settings.mail_from, &m, now);
    let key = format!("notice/{}/{}", notice.id, r.user);
    match svc
        .mailer
        .send_once(&key, &OutgoingMail { to: m.to, raw })
        .await
    {
        Ok(id) => (r, Some(id)),
        Err(e) => {
            tracing::error!(error = %e, notice = %notice.id, "notice mail not sent");
            (r, None)
        }
    }
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
