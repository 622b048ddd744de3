//! A background import as stored: its kind and status, its record and codec, load, and how the clean-up
//! tells a running import from a stalled one and queues it again.

use serde::Serialize;
use time::OffsetDateTime;

use crate::app::audit::Actor;
use crate::app::layout::{self, attr};
use crate::app::records::upload::Purpose;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{ImportId, TenantId};
use crate::ports::{Item, Table, Task};

/// Most rows of one file (a 20 MiB file of short rows holds about this many).
pub const MAX_ROWS: usize = 200_000;

/// An import queued or running without a sign of life for this long has lost its worker.
pub const STALLED_AFTER: time::Duration = time::Duration::minutes(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "users" => Some(Kind::Users),
            "groups" => Some(Kind::Groups),
            _ => None,
        }
    }
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
        }
    }
    pub(crate) fn purpose(self) -> Purpose {
        match self {
            Kind::Users => Purpose::UserImport,
            Kind::Groups => Purpose::GroupImport,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
    pub(crate) fn parse(s: &str) -> Status {
        match s {
            "running" => Status::Running,
            "done" => Status::Done,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => Status::Queued,
        }
    }
    pub(crate) fn ended(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) upload: String,
    pub(crate) status: Status,
    pub(crate) total: Option<i64>,
    pub(crate) processed: i64,
    pub(crate) created: i64,
    pub(crate) done_line: i64,
    pub(crate) attempts: i64,
    pub(crate) actor: Actor,
    pub(crate) message: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Serialize)]
pub struct FailedRow {
    pub line: u64,
    pub code: String,
    pub message: String,
}

pub(crate) fn actor_context(t: &TenantId, id: &str) -> String {
    format!("{t}/import/{id}/actor")
}

pub(crate) fn load_record(scope: &Scope, item: &Item) -> Result<Record, AppError> {
    let id = item
        .sk
        .strip_prefix(layout::IMPORT_PREFIX)
        .unwrap_or_default()
        .to_owned();
    let actor_id = item.s(attr::ACTOR).unwrap_or_default().to_owned();
    let name = match item.b(attr::ACTOR_NAME) {
        Some(b) => scope.key.open(&actor_context(&scope.tenant, &id), b)?,
        None => String::new(),
    };
    Ok(Record {
        kind: item
            .s(attr::KIND)
            .and_then(Kind::parse)
            .unwrap_or(Kind::Users),
        upload: item.s(attr::UPLOAD).unwrap_or_default().to_owned(),
        status: Status::parse(item.s(attr::STATUS).unwrap_or_default()),
        total: item.n(attr::TOTAL),
        processed: item.n(attr::PROCESSED).unwrap_or(0),
        created: item.n(attr::CREATED_COUNT).unwrap_or(0),
        done_line: item.n(attr::DONE_LINE).unwrap_or(0),
        attempts: item.n(attr::ATTEMPTS).unwrap_or(0),
        actor: Actor::User { id: actor_id, name },
        message: item.s(attr::MESSAGE).map(str::to_owned),
        created_at: item.n(attr::CREATED).unwrap_or(0),
        updated_at: item.n(attr::UPDATED).unwrap_or(0),
        id,
    })
}

pub(crate) async fn get(
    svc: &Services,
    scope: &Scope,
    id: &ImportId,
) -> Result<Option<Record>, AppError> {
    match svc
        .store
        .get(Table::Data, &scope.pk(), &layout::import_sk(id.as_str()))
        .await?
    {
        Some(item) => Ok(Some(load_record(scope, &item)?)),
        None => Ok(None),
    }
}

/// Whether the import is queued or running (its file must stay).
pub async fn running(svc: &Services, scope: &Scope, id: &ImportId) -> Result<bool, AppError> {
    Ok(get(svc, scope, id)
        .await?
        .is_some_and(|r| !r.status.ended()))
}

/// What the clean-up makes of an import whose file it looks at.
#[derive(Debug, PartialEq, Eq)]
pub enum Watch {
    /// Gone, done, failed or cancelled: its file can go.
    Ended,
    /// Queued or running, with a sign of life within [`STALLED_AFTER`].
    Alive,
    /// Queued or running, but silent for longer: its worker is gone.
    Stalled,
}

pub async fn watch(
    svc: &Services,
    scope: &Scope,
    id: &ImportId,
    now: OffsetDateTime,
) -> Result<Watch, AppError> {
    Ok(match get(svc, scope, id).await? {
        None => Watch::Ended,
        Some(r) if r.status.ended() => Watch::Ended,
        Some(r) if r.updated_at < (now - STALLED_AFTER).unix_timestamp() => Watch::Stalled,
        Some(_) => Watch::Alive,
    })
}

/// Queues an import's task again (an import whose worker is gone resumes after its last committed row).
pub async fn requeue(svc: &Services, scope: &Scope, id: &ImportId) -> Result<(), AppError> {
    tracing::warn!(import = %id, tenant = %scope.tenant, "stalled import queued again");
    svc.queue
        .enqueue(vec![Task::Import {
            tenant: scope.tenant.to_string(),
            import: id.to_string(),
        }])
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))
}
