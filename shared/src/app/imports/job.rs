//! Background imports (`POST /v1/imports`): an uploaded CSV of users or groups, imported by the worker with
//! the same code as the synchronous import, chunk by chunk, with progress the client can watch.
//!
//! Exactly once by row: every transaction that creates users also moves the import's `done_line` (with the
//! condition that it is still before the transaction's first line), so a worker that dies half-way, or a
//! second delivery of the same task, resumes after the last committed row and never creates anyone twice.
//! Rows that fail are kept as items keyed by line, so writing one again is harmless.
//!
//! Invitations exactly once: the transaction that creates invited users also lists them in an item
//! (`IMPINV#`) that is deleted once their mails went; a run that finds such an item left by a crashed
//! one (its lease over) issues their links and mails them, keyed so that a mail sent just before the
//! crash is not sent again ([`crate::ports::Mailer::send_once`]).
//!
//! Alive or stalled: `updated_at` moves with every committed transaction and every [`HEARTBEAT`] while a
//! run works; an import queued or running whose `updated_at` is older than [`STALLED_AFTER`] has lost its
//! worker, and the hourly clean-up queues it again. An admin can cancel an import; its file is deleted at
//! once and the run stops at its next transaction.

use serde::Serialize;
use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::imports::{self, PROGRESS_MOVED, RowFailure, RowProgress};
use crate::app::layout::{self, attr};
use crate::app::principal::Principal;
pub use crate::app::records::import::{
    FailedRow, Kind, MAX_ROWS, STALLED_AFTER, Status, Watch, requeue, running, watch,
};
use crate::app::records::import::{Record, actor_context, get};
use crate::app::records::upload;
use crate::app::records::user::Delivery;
use crate::app::{AppError, Scope, Services, csv_file};
use crate::domain::ids::{ImportId, TenantId, UploadId, UserId, new_id};
use crate::domain::time::jst_from_unix;
use crate::ports::{BatchWrite, Change, Cond, Item, Query, StoreError, Table, Task, Value, Write};

/// Rows checked and committed together (their guards read in one go, their invitations mailed together).
pub const CHUNK: usize = 1000;
/// Rows one task handles before it queues its continuation (a Lambda invocation stays well inside its
/// timeout; the in-process worker interleaves other tasks).
pub const ROWS_PER_TASK: usize = 20_000;
/// Failed rows shown by `GET /v1/imports/{id}` (all are counted).
pub const FAILURES_SHOWN: usize = 1000;
/// Runs of an import in a row that may fail without progress (a store that keeps failing, say) before the
/// import ends as `failed` instead of being retried: the worker's attempts at one task
/// (`worker::MAX_ATTEMPTS` locally, the queue's `maxReceiveCount` in AWS).
pub const MAX_ATTEMPTS: i64 = 5;
/// Rows committed and then mailed together: their invitations leave right after their transactions.
pub const MAIL_BATCH: usize = 250;
/// How long a run holds the list of invitations it is about to mail; a run that finds one older than
/// this takes it over (its worker crashed between creating the users and mailing them).
pub const INVITES_LEASE: time::Duration = time::Duration::seconds(30);
/// How often a running import moves `updated_at` even when no row is committed.
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Serialize)]
pub struct ImportView {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    /// Rows in the file, once the worker has read it.
    pub total: Option<i64>,
    pub processed: i64,
    pub created: i64,
    pub failed: i64,
    pub failed_rows: Vec<FailedRow>,
    /// Why the import failed as a whole (unreadable file, file deleted), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Cancels a queued or running import: its file is deleted at once (the names and addresses in it go
/// with it), and its run stops at its next transaction. Users created so far stay (and get their
/// invitations); the import reports how far it came.
pub async fn cancel(
    svc: &Services,
    p: &Principal,
    id: &ImportId,
    now: OffsetDateTime,
) -> Result<ImportView, AppError> {
    let scope = &p.scope;
    let r = get(svc, scope, id)
        .await?
        .ok_or(AppError::NotFound("import"))?;
    if r.status.ended() {
        return Err(AppError::conflict(
            "import_ended",
            format!("the import has ended ({})", r.status.as_str()),
        ));
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    let result = svc
        .store
        .transact(vec![
            Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::import_sk(id.as_str()),
                changes: vec![
                    Change::Set(attr::STATUS, Value::S(Status::Cancelled.as_str().into())),
                    Change::Set(attr::MESSAGE, Value::S("cancelled by an admin".into())),
                    Change::Set(attr::UPDATED, Value::N(now.unix_timestamp())),
                ],
                cond: Some(Cond::And(vec![
                    Cond::Exists,
                    Cond::Eq(attr::STATUS, Value::S(r.status.as_str().into())),
                ])),
            },
            audit::entry(
                &scope.tenant,
                &log_key,
                &p.actor(),
                Entry {
                    action: "import.cancel",
                    target_type: "import",
                    target_id: id.as_str(),
                },
                now,
            ),
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(AppError::conflict(
                "import_ended",
                "the import changed meanwhile; read it again",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    match upload::load(svc, scope, &UploadId::from_stored(r.upload.as_str())).await {
        Ok(u) => upload::erase(svc, scope, &u, &p.actor(), now).await?,
        Err(AppError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    tracing::info!(import = %id, tenant = %scope.tenant, "import cancelled");
    view(svc, scope, id).await
}

/// Queues the import of a stored upload. Background imports mail invitation links; generated passwords,
/// which must be shown once, stay with the synchronous `POST /v1/users/import`.
pub async fn start(
    svc: &Services,
    p: &Principal,
    upload_id: &str,
    kind: Kind,
    delivery: Option<Delivery>,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    match (kind, delivery) {
        (Kind::Users, Some(Delivery::Generated)) => {
            return Err(AppError::invalid(
                "delivery",
                "background imports mail invitation links; for generated passwords, which are shown \
                 once, use POST /v1/users/import",
            ));
        }
        (Kind::Groups, Some(_)) => {
            return Err(AppError::invalid(
                "delivery",
                "delivery applies to user imports only",
            ));
        }
        _ => {}
    }
    let scope = &p.scope;
    // An id that cannot be one of ours names no upload either.
    let Some(upload_id) = UploadId::parse(upload_id) else {
        return Err(AppError::invalid("upload_id", "no such upload"));
    };
    let upload = match upload::load(svc, scope, &upload_id).await {
        Ok(u) => u,
        Err(AppError::NotFound(_)) => {
            return Err(AppError::invalid("upload_id", "no such upload"));
        }
        Err(e) => return Err(e),
    };
    if upload.purpose != kind.purpose() {
        return Err(AppError::invalid(
            "upload_id",
            format!(
                "a {} import needs an upload with purpose {}",
                kind.as_str(),
                kind.purpose().as_str()
            ),
        ));
    }
    if upload.import.is_some() {
        return Err(AppError::conflict(
            "upload_in_use",
            "this file has been imported already; upload it again to import it again",
        ));
    }
    let upload = upload::refresh(svc, scope, upload).await?;
    if upload.status != upload::Status::Stored {
        return Err(AppError::conflict(
            "upload_pending",
            "the file has not arrived yet: PUT it to the upload URL first",
        ));
    }
    let id = new_id();
    let ts = now.unix_timestamp();
    let (actor_id, actor_name) = (p.user.id.to_string(), p.user.name.clone());
    let item = Item::new(scope.pk(), layout::import_sk(&id))
        .with(attr::KIND, Value::S(kind.as_str().into()))
        .with(attr::UPLOAD, Value::S(upload.id.clone()))
        .with(attr::STATUS, Value::S(Status::Queued.as_str().into()))
        .with(attr::PROCESSED, Value::N(0))
        .with(attr::CREATED_COUNT, Value::N(0))
        .with(attr::DONE_LINE, Value::N(0))
        .with(attr::ACTOR, Value::S(actor_id))
        .with(
            attr::ACTOR_NAME,
            Value::B(
                scope
                    .key
                    .seal(&actor_context(&scope.tenant, &id), &actor_name),
            ),
        )
        .with(attr::CREATED, Value::N(ts))
        .with(attr::UPDATED, Value::N(ts));
    let log_key = svc.log_key(&scope.tenant).await?;
    let result = svc
        .store
        .transact(vec![
            Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::upload_sk(&upload.id),
                changes: vec![
                    Change::Set(attr::IMPORT, Value::S(id.clone())),
                    Change::Add(attr::IMPORTS, 1),
                ],
                // The file exists and no import took it meanwhile.
                cond: Some(Cond::And(vec![
                    Cond::Exists,
                    Cond::Not(Box::new(Cond::Ge(attr::IMPORTS, 1))),
                ])),
            },
            Write::put_new(Table::Data, item),
            audit::entry(
                &scope.tenant,
                &log_key,
                &p.actor(),
                Entry {
                    action: "import.create",
                    target_type: "import",
                    target_id: &id,
                },
                now,
            ),
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0 }) => {
            return Err(AppError::conflict(
                "upload_in_use",
                "this file is being imported already",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    svc.queue
        .enqueue(vec![Task::Import {
            tenant: scope.tenant.to_string(),
            import: id.clone(),
        }])
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(id)
}

pub async fn view(svc: &Services, scope: &Scope, id: &ImportId) -> Result<ImportView, AppError> {
    let r = get(svc, scope, id)
        .await?
        .ok_or(AppError::NotFound("import"))?;
    let page = svc
        .store
        .query(
            &Query::prefix(
                Table::Data,
                scope.pk(),
                layout::import_failures_prefix(id.as_str()),
            )
            .limit(FAILURES_SHOWN),
        )
        .await?;
    let failed_rows = page
        .items
        .iter()
        .map(|i| FailedRow {
            line: i.n(attr::LINE).unwrap_or(0).max(0) as u64,
            code: i.s(attr::CODE).unwrap_or_default().to_owned(),
            message: i.s(attr::MESSAGE).unwrap_or_default().to_owned(),
        })
        .collect();
    Ok(ImportView {
        id: r.id,
        kind: r.kind,
        status: r.status,
        total: r.total,
        processed: r.processed,
        created: r.created,
        failed: (r.processed - r.created).max(0),
        failed_rows,
        message: r.message,
        created_at: jst_from_unix(r.created_at),
        updated_at: jst_from_unix(r.updated_at),
    })
}

/// Every failed row of an import, by line (`GET /v1/imports/{id}` shows the first [`FAILURES_SHOWN`]):
/// the per-row report a download writes out.
pub async fn failures(
    svc: &Services,
    scope: &Scope,
    id: &ImportId,
) -> Result<Vec<FailedRow>, AppError> {
    get(svc, scope, id)
        .await?
        .ok_or(AppError::NotFound("import"))?;
    let mut out = Vec::new();
    let mut query = Query::prefix(
        Table::Data,
        scope.pk(),
        layout::import_failures_prefix(id.as_str()),
    );
    loop {
        let page = svc.store.query(&query).await?;
        out.extend(page.items.iter().map(|i| FailedRow {
            line: i.n(attr::LINE).unwrap_or(0).max(0) as u64,
            code: i.s(attr::CODE).unwrap_or_default().to_owned(),
            message: i.s(attr::MESSAGE).unwrap_or_default().to_owned(),
        }));
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => return Ok(out),
        }
    }
}

/// What one run of the import task did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub processed: usize,
    pub finished: bool,
}

async fn set(
    svc: &Services,
    scope: &Scope,
    id: &str,
    changes: Vec<Change>,
    cond: Option<Cond>,
) -> Result<bool, AppError> {
    match svc
        .store
        .transact(vec![Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::import_sk(id),
            changes,
            cond,
        }])
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn record_failures(
    svc: &Services,
    scope: &Scope,
    id: &str,
    failures: Vec<RowFailure>,
) -> Result<(), AppError> {
    if failures.is_empty() {
        return Ok(());
    }
    let writes = failures
        .into_iter()
        .map(|f| {
            // The code and message for the row, as the synchronous import reports them.
            let (code, message) = f.error.failed_item("import row failed");
            BatchWrite::Put(
                Item::new(scope.pk(), layout::import_failure_sk(id, f.line))
                    .with(attr::LINE, Value::N(f.line as i64))
                    .with(attr::CODE, Value::S(code.into()))
                    .with(attr::MESSAGE, Value::S(message)),
            )
        })
        .collect();
    svc.store.batch_write(Table::Data, writes).await?;
    Ok(())
}

/// The import exists and was not cancelled (a cancellation is never overwritten).
fn live() -> Cond {
    Cond::And(vec![
        Cond::Exists,
        Cond::Not(Box::new(Cond::Eq(
            attr::STATUS,
            Value::S(Status::Cancelled.as_str().into()),
        ))),
    ])
}

/// The clock of a run: the task's `now`, moved on by the time the run has taken (holds on invitation
/// lists are set and compared on it, so a test can play a later run by passing a later `now`).
struct Clock {
    start: OffsetDateTime,
    at: std::time::Instant,
}

impl Clock {
    fn new(start: OffsetDateTime) -> Self {
        Clock {
            start,
            at: std::time::Instant::now(),
        }
    }
    fn now(&self) -> OffsetDateTime {
        self.start + self.at.elapsed()
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn invite_key(import: &str, user: &str) -> String {
    format!("invite/{import}/{user}")
}

/// Mails the invitations that a crashed run created users for but did not mail: each list whose hold
/// has run out is taken over (a conditional write, so two runs never both take it), its users still
/// invited get a new link, mailed with the same key as the first attempt, and the list is deleted. With
/// `wait`, lists still held by another run are waited for until their hold ends.
async fn mail_left_invitations(
    svc: &Services,
    scope: &Scope,
    import: &str,
    clock: &Clock,
    wait: bool,
) -> Result<usize, AppError> {
    let mut mailed = 0;
    loop {
        let page = svc
            .store
            .query(&Query::prefix(
                Table::Data,
                scope.pk(),
                layout::import_invites_prefix(import),
            ))
            .await?;
        if page.items.is_empty() {
            return Ok(mailed);
        }
        let now = clock.now();
        let mut held_until = None;
        for list in &page.items {
            let lease = list.n(attr::LEASE).unwrap_or(0);
            if lease > ms(now) && svc.settings.must_wait_for(list.s(attr::HOLDER)) {
                held_until = Some(held_until.unwrap_or(lease).min(lease));
                continue;
            }
            let taken = svc
                .store
                .transact(vec![Write::Update {
                    table: Table::Data,
                    pk: scope.pk(),
                    sk: list.sk.clone(),
                    changes: vec![Change::Set(attr::LEASE, Value::N(ms(now + INVITES_LEASE)))],
                    cond: Some(Cond::Eq(attr::LEASE, Value::N(lease))),
                }])
                .await;
            match taken {
                Ok(()) => {}
                Err(StoreError::ConditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            mailed += reissue(svc, scope, import, &list.ss(attr::USERS), now).await?;
            svc.store
                .batch_write(
                    Table::Data,
                    vec![BatchWrite::Delete {
                        pk: scope.pk(),
                        sk: list.sk.clone(),
                    }],
                )
                .await?;
        }
        match held_until {
            Some(until) if wait => {
                let left = (until - ms(clock.now())).clamp(0, 60_000) as u64;
                tokio::time::sleep(std::time::Duration::from_millis(left + 50)).await;
            }
            _ if page.next.is_some() => {}
            _ => return Ok(mailed),
        }
    }
}

/// New invitation links for users an import created and could not mail (the first link's secret died
/// with the crashed run), mailed with the first attempt's key.
async fn reissue(
    svc: &Services,
    scope: &Scope,
    import: &str,
    users: &[String],
    now: OffsetDateTime,
) -> Result<usize, AppError> {
    let keys: Vec<(String, String)> = users
        .iter()
        .map(|u| {
            (
                scope.pk(),
                layout::user_sk(&crate::domain::ids::UserId::from_stored(u.clone())),
            )
        })
        .collect();
    let mut invited = vec![];
    for item in svc.store.batch_get(Table::Data, &keys).await? {
        let user = crate::app::records::user::UserRecord::from_item(scope, &item)?;
        if user.status == crate::app::records::user::Status::Invited
            && let Some(email) = user.email.clone()
        {
            invited.push((user, email));
        }
    }
    if invited.is_empty() {
        return Ok(0);
    }
    let tenant = crate::app::records::tenant::load(svc, &scope.tenant).await?;
    let mut writes = vec![];
    let mut messages = vec![];
    for (user, email) in &invited {
        let (token, hash) = crate::crypto::new_token();
        writes.extend(crate::app::records::token::token_writes(
            scope,
            &user.id,
            &hash,
            crate::app::records::token::INVITATION,
            now + svc.settings.invitation_ttl,
        ));
        messages.push((
            Some(invite_key(import, user.id.as_str())),
            crate::app::mail::invitation(
                email,
                &user.name,
                &tenant.name,
                &crate::app::records::user::set_password_link(svc, &token),
            ),
        ));
    }
    for chunk in writes.chunks(crate::ports::store::MAX_TRANSACTION_ITEMS) {
        svc.store.transact(chunk.to_vec()).await?;
    }
    tracing::warn!(
        import,
        users = invited.len(),
        "invitations a crashed run left are mailed"
    );
    svc.send_mails_keyed(&scope.tenant, "invitation", messages, now)
        .await;
    Ok(invited.len())
}

/// Ends the import (done, or failed with a reason) and deletes its file, which is no longer needed.
async fn finish(
    svc: &Services,
    scope: &Scope,
    r: &Record,
    failure: Option<String>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut changes = vec![
        Change::Set(
            attr::STATUS,
            Value::S(
                if failure.is_some() {
                    Status::Failed
                } else {
                    Status::Done
                }
                .as_str()
                .into(),
            ),
        ),
        Change::Set(
            attr::UPDATED,
            Value::N(crate::domain::time::now().unix_timestamp()),
        ),
    ];
    if let Some(m) = &failure {
        tracing::warn!(import = %r.id, reason = %m, "import failed");
        changes.push(Change::Set(attr::MESSAGE, Value::S(m.clone())));
    }
    if !set(svc, scope, &r.id, changes, Some(live())).await? {
        // Cancelled meanwhile: the cancellation deleted the file and has the last word.
        return Ok(());
    }
    match upload::load(svc, scope, &UploadId::from_stored(r.upload.as_str())).await {
        Ok(u) => upload::erase(svc, scope, &u, &r.actor, now).await,
        Err(AppError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs (or resumes) an import for up to `max_rows` rows; queues its continuation when rows remain.
pub async fn run(
    svc: &Services,
    tenant: &str,
    import: &str,
    max_rows: usize,
    now: OffsetDateTime,
) -> Result<RunReport, AppError> {
    let done = RunReport {
        processed: 0,
        finished: true,
    };
    let tenant = TenantId::from_stored(tenant.to_owned());
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Ok(done),
        Err(e) => return Err(e),
    };
    let Some(r) = get(svc, &scope, &ImportId::from_stored(import)).await? else {
        return Ok(done);
    };
    // Invitations a crashed run left unmailed go first, whatever became of the import since.
    if r.kind == Kind::Users {
        mail_left_invitations(svc, &scope, &r.id, &Clock::new(now), false).await?;
    }
    if r.status.ended() {
        return Ok(done);
    }
    // This run counts as an attempt until it makes progress (each committed chunk resets the count).
    let attempt = r.attempts + 1;
    set(
        svc,
        &scope,
        &r.id,
        vec![Change::Set(attr::ATTEMPTS, Value::N(attempt))],
        Some(Cond::Exists),
    )
    .await?;
    // The run, with a heartbeat on `updated_at` while it goes on.
    let result = {
        let work = run_record(svc, &scope, &r, max_rows, now);
        tokio::pin!(work);
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        loop {
            tokio::select! {
                report = &mut work => break report,
                _ = beat.tick() => heartbeat(svc, &scope, import).await,
            }
        }
    };
    match result {
        Ok(report) => Ok(report),
        // An error that will come back on every retry, or the last attempt: the import ends as failed
        // with a reason (its file deleted), never `running` for good.
        Err(e) if attempt >= MAX_ATTEMPTS || !transient(&e) => {
            tracing::error!(
                import = %r.id,
                attempt,
                error = %crate::telemetry::ErrorChain(&e),
                "import stopped"
            );
            let r = get(svc, &scope, &ImportId::from_stored(r.id.as_str()))
                .await?
                .unwrap_or(r);
            let reason = match &e {
                AppError::Internal(_) => format!(
                    "the import stopped after an error on our side (it has been logged); rows up to line {} \
                     were imported, upload the rest again to import it",
                    r.done_line
                ),
                other => format!(
                    "the import stopped: {other}; rows up to line {} were imported",
                    r.done_line
                ),
            };
            finish(svc, &scope, &r, Some(reason), now).await?;
            Ok(done)
        }
        Err(e) => Err(e),
    }
}

/// Whether a retry may succeed: a store that failed, throttled or conflicted may answer next time; a
/// malformed request to it (too many writes in a transaction, say) or a refusal by the rules will not.
fn transient(e: &AppError) -> bool {
    match e {
        AppError::Internal(source) => !matches!(
            source.downcast_ref::<StoreError>(),
            Some(StoreError::Invalid(_))
        ),
        _ => false,
    }
}

/// Moves a running import's `updated_at` (a failed heartbeat is logged, not fatal).
async fn heartbeat(svc: &Services, scope: &Scope, id: &str) {
    let r = set(
        svc,
        scope,
        id,
        vec![Change::Set(
            attr::UPDATED,
            Value::N(crate::domain::time::now().unix_timestamp()),
        )],
        Some(Cond::Eq(
            attr::STATUS,
            Value::S(Status::Running.as_str().into()),
        )),
    )
    .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, import = id, "import heartbeat not written");
    }
}

async fn run_record(
    svc: &Services,
    scope: &Scope,
    r: &Record,
    max_rows: usize,
    now: OffsetDateTime,
) -> Result<RunReport, AppError> {
    let done = RunReport {
        processed: 0,
        finished: true,
    };
    let upload = match upload::load(svc, scope, &UploadId::from_stored(r.upload.as_str())).await {
        Ok(u) => u,
        Err(AppError::NotFound(_)) => {
            finish(svc, scope, r, Some("the file was deleted".into()), now).await?;
            return Ok(done);
        }
        Err(e) => return Err(e),
    };
    let Some(bytes) = upload::read(svc, scope, &upload).await? else {
        finish(svc, scope, r, Some("the file is missing".into()), now).await?;
        return Ok(done);
    };
    let text = match csv_file::decode(&bytes) {
        Ok(t) => t,
        Err(e) => {
            finish(svc, scope, r, Some(e.to_string()), now).await?;
            return Ok(done);
        }
    };
    // The import acts with what the user who started it may do now (each run reads it again): one who was
    // deleted or lost settings/edit meanwhile imports nothing more, one whose grants shrank gives no role
    // beyond them.
    let by = match &r.actor {
        Actor::User { id, .. } => {
            Authority::of_user(svc, scope, &UserId::from_stored(id.clone())).await?
        }
        _ => None,
    };
    let Some(by) = by else {
        let m = "the user who started this import no longer exists or may no longer register users";
        finish(svc, scope, r, Some(m.into()), now).await?;
        return Ok(done);
    };
    match r.kind {
        Kind::Users => run_users(svc, scope, r, &by, &text, max_rows, now).await,
        Kind::Groups => {
            // Group files are small (one line per group); they go in one run. Re-running is harmless:
            // existing groups are updated and existing members stay.
            set(
                svc,
                scope,
                &r.id,
                vec![Change::Set(
                    attr::STATUS,
                    Value::S(Status::Running.as_str().into()),
                )],
                Some(live()),
            )
            .await?;
            let report =
                match imports::import_groups(svc, scope, &r.actor, text.as_bytes(), now).await {
                    Ok(rep) => rep,
                    Err(e @ AppError::Invalid { .. }) => {
                        finish(svc, scope, r, Some(e.to_string()), now).await?;
                        return Ok(done);
                    }
                    Err(e) => return Err(e),
                };
            let failed = report.failed.len() as i64;
            let created = (report.created + report.updated) as i64;
            record_failures(svc, scope, &r.id, report.failed).await?;
            set(
                svc,
                scope,
                &r.id,
                vec![
                    Change::Set(attr::TOTAL, Value::N(created + failed)),
                    Change::Set(attr::PROCESSED, Value::N(created + failed)),
                    Change::Set(attr::CREATED_COUNT, Value::N(created)),
                ],
                Some(Cond::Exists),
            )
            .await?;
            finish(svc, scope, r, None, now).await?;
            Ok(RunReport {
                processed: (created + failed) as usize,
                finished: true,
            })
        }
    }
}

async fn run_users(
    svc: &Services,
    scope: &Scope,
    r: &Record,
    by: &Authority,
    text: &str,
    max_rows: usize,
    now: OffsetDateTime,
) -> Result<RunReport, AppError> {
    let clock = Clock::new(now);
    let rows = match imports::user_rows(text) {
        Ok(rows) if rows.len() <= MAX_ROWS => rows,
        Ok(rows) => {
            let m = format!("{} rows; at most {MAX_ROWS} per file", rows.len());
            finish(svc, scope, r, Some(m), now).await?;
            return Ok(RunReport {
                processed: 0,
                finished: true,
            });
        }
        Err(e) => {
            finish(svc, scope, r, Some(e.to_string()), now).await?;
            return Ok(RunReport {
                processed: 0,
                finished: true,
            });
        }
    };
    if r.status == Status::Queued {
        set(
            svc,
            scope,
            &r.id,
            vec![
                Change::Set(attr::STATUS, Value::S(Status::Running.as_str().into())),
                Change::Set(attr::TOTAL, Value::N(rows.len() as i64)),
                Change::Set(
                    attr::UPDATED,
                    Value::N(crate::domain::time::now().unix_timestamp()),
                ),
            ],
            Some(live()),
        )
        .await?;
    }
    // Resume after the last committed line.
    let start = rows.partition_point(|row| (row.line as i64) <= r.done_line);
    let mut processed = 0;
    let mut at = start;
    while at < rows.len() && processed < max_rows {
        let end = (at + CHUNK).min(rows.len());
        let chunk = &rows[at..end];
        let (prepared, failed) =
            // Invitation links only: `start` refuses generated passwords for background imports.
            imports::prepare_user_rows(svc, scope, by, chunk, Delivery::InviteLink, now).await?;
        record_failures(svc, scope, &r.id, failed).await?;
        let mut last_created = None;
        let positions: Vec<(u64, usize)> = chunk
            .iter()
            .enumerate()
            .map(|(i, row)| (row.line, i + 1))
            .collect();
        // A few hundred rows at a time: their users are created, then their invitations mailed, while
        // this run's hold on the list of mails to send is fresh.
        for part in prepared.chunks(MAIL_BATCH) {
            let invites = layout::import_invites_sk(&r.id, part[0].line);
            let lease = ms(clock.now() + INVITES_LEASE);
            let progress = RowProgress {
                pk: scope.pk(),
                sk: layout::import_sk(&r.id),
                base: at,
                positions: positions.clone(),
                invites: Some((invites.clone(), lease, svc.settings.holder().to_owned())),
            };
            let created =
                match imports::commit_user_rows(svc, scope, &r.actor, part, Some(&progress), now)
                    .await
                {
                    Ok((created, more)) => {
                        record_failures(svc, scope, &r.id, more).await?;
                        if let Some(u) = created.last() {
                            last_created = Some(u.line);
                        }
                        created
                    }
                    Err(AppError::Conflict {
                        code: PROGRESS_MOVED,
                        ..
                    }) => {
                        // Another delivery of this task is importing the same rows (it carries on), or
                        // the import was cancelled.
                        return Ok(RunReport {
                            processed,
                            finished: false,
                        });
                    }
                    Err(e) => return Err(e),
                };
            imports::send_invitations_keyed(
                svc,
                scope,
                &created,
                |u| Some(invite_key(&r.id, u.as_str())),
                now,
            )
            .await?;
            svc.store
                .batch_write(
                    Table::Data,
                    vec![BatchWrite::Delete {
                        pk: scope.pk(),
                        sk: invites,
                    }],
                )
                .await?;
        }
        // The chunk's failed rows after its last created one: move the progress past them (unless the
        // chunk's last row was created: its transaction moved the progress to the chunk's end already).
        let last = chunk[chunk.len() - 1].line;
        if last_created != Some(last) {
            set(
                svc,
                scope,
                &r.id,
                vec![
                    Change::Set(attr::DONE_LINE, Value::N(last as i64)),
                    Change::Set(attr::PROCESSED, Value::N(end as i64)),
                    Change::Set(attr::UPDATED, Value::N(now.unix_timestamp())),
                    Change::Set(attr::ATTEMPTS, Value::N(0)),
                ],
                Some(Cond::Lt(attr::DONE_LINE, last as i64)),
            )
            .await?;
        }
        processed += chunk.len();
        at = end;
    }
    if at < rows.len() {
        svc.queue
            .enqueue(vec![Task::Import {
                tenant: scope.tenant.to_string(),
                import: r.id.clone(),
            }])
            .await
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        return Ok(RunReport {
            processed,
            finished: false,
        });
    }
    // Before the import says done: the invitations a crashed run left, once its hold on them is over.
    mail_left_invitations(svc, scope, &r.id, &clock, true).await?;
    let r = get(svc, scope, &ImportId::from_stored(r.id.as_str()))
        .await?
        .ok_or(AppError::NotFound("import"))?;
    finish(svc, scope, &r, None, now).await?;
    Ok(RunReport {
        processed,
        finished: true,
    })
}
