//! Reading the operation log and the mail log (newest first, in JST). They live in the log table under
//! the tenant's log key, which the purge keeps, so the operator can still read them afterwards.

use serde::Serialize;
use time::OffsetDateTime;

use crate::app::layout::{self, attr};
use crate::app::paging::{Page, PageRequest};
use crate::app::{AppError, Services};
use crate::domain::ids::TenantId;
use crate::domain::time::jst;
use crate::ports::{Item, Query, Table};

#[derive(Debug, Serialize)]
pub struct Actor {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: Actor,
    pub action: String,
    pub target: Target,
    pub result: String,
}

#[derive(Debug, Serialize)]
pub struct MailEntry {
    pub id: String,
    pub at: String,
    pub to: String,
    pub kind: String,
    pub message_id: String,
    pub status: String,
}

/// The window of a log query: `from` inclusive, `to` exclusive; a cursor continues below it.
pub struct Window {
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

async fn page(
    svc: &Services,
    pk: String,
    window: &Window,
    req: &PageRequest,
) -> Result<(Vec<Item>, Option<String>), AppError> {
    let limit = req.limit;
    // Newest first: query backwards from `to` (or the cursor), stop at `from`.
    let after = req
        .after_key(layout::is_log_sk)?
        .or_else(|| window.to.map(|t| layout::log_sk(ms(t), "")));
    let p = svc
        .store
        .query(
            &Query::prefix(Table::Log, pk, "")
                .after(after)
                .limit(limit)
                .backward(),
        )
        .await?;
    let floor = window.from.map(|t| layout::log_sk(ms(t), ""));
    let mut items = p.items;
    let cut = floor
        .as_ref()
        .map(|f| items.iter().position(|i| &i.sk < f))
        .unwrap_or(None);
    let next = match cut {
        Some(i) => {
            items.truncate(i);
            None
        }
        None => p.next,
    };
    Ok((items, next))
}

fn entry_id(sk: &str) -> String {
    sk.split_once('#')
        .map(|(_, id)| id.to_owned())
        .unwrap_or_default()
}

fn at(item: &Item) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(item.n(attr::AT).unwrap_or(0)) * 1_000_000)
        .map(jst)
        .unwrap_or_default()
}

pub async fn audit(
    svc: &Services,
    tenant: &TenantId,
    window: &Window,
    req: PageRequest,
) -> Result<Page<AuditEntry>, AppError> {
    let key = svc.log_key(tenant).await?;
    let (items, next) = page(svc, layout::audit_pk(tenant), window, &req).await?;
    let items = items
        .iter()
        .map(|i| {
            let id = entry_id(&i.sk);
            let name = i
                .b(attr::ACTOR_NAME)
                .and_then(|b| key.open(&format!("{tenant}/audit/{id}/actor_name"), b).ok());
            AuditEntry {
                at: at(i),
                actor: Actor {
                    id: i.s(attr::ACTOR).unwrap_or_default().to_owned(),
                    name,
                },
                action: i.s(attr::ACTION).unwrap_or_default().to_owned(),
                target: Target {
                    kind: i.s(attr::TARGET_TYPE).unwrap_or_default().to_owned(),
                    id: i.s(attr::TARGET_ID).unwrap_or_default().to_owned(),
                },
                result: i.s(attr::RESULT).unwrap_or_default().to_owned(),
                id,
            }
        })
        .collect();
    Ok(Page::after_key(items, next))
}

pub async fn mail(
    svc: &Services,
    tenant: &TenantId,
    window: &Window,
    req: PageRequest,
) -> Result<Page<MailEntry>, AppError> {
    let key = svc.log_key(tenant).await?;
    let (items, next) = page(svc, layout::mail_pk(tenant), window, &req).await?;
    let items = items
        .iter()
        .map(|i| {
            let id = entry_id(&i.sk);
            let to = i
                .b(attr::TO)
                .and_then(|b| key.open(&format!("{tenant}/mail/{id}/to"), b).ok())
                .unwrap_or_default();
            MailEntry {
                at: at(i),
                to,
                kind: i.s(attr::KIND).unwrap_or_default().to_owned(),
                message_id: i.s(attr::MESSAGE_ID).unwrap_or_default().to_owned(),
                status: i.s(attr::STATUS).unwrap_or_default().to_owned(),
                id,
            }
        })
        .collect();
    Ok(Page::after_key(items, next))
}
