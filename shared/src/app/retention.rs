//! The retention jobs, each a function of `now` returning a typed report (the scheduled Lambdas pass the
//! time of their EventBridge event; `POST /v1/ops/jobs/...` passes `as_of`).
//!
//! - Backup: one generation of both tables, then exactly the seven newest generations remain.
//! - Purge: tenants whose contract ended 90 or more days ago lose every item and their data key. Their
//!   questionnaires are first kept anonymised under the log key; logs stay. Resumable: each run deletes at
//!   most `max_items` items and the next run continues; a purged tenant is never visited again.

use serde::Serialize;
use time::OffsetDateTime;

use crate::app::layout::{self, attr};
use crate::app::records::questionnaire;
use crate::app::records::tenant;
use crate::app::{AppError, Services};
use crate::domain::ids::TenantId;
use crate::ports::{BatchWrite, Change, Item, Query, Table, Value, Write};

pub const GENERATIONS: usize = 7;
pub const PURGE_AFTER_DAYS: i64 = 90;
/// Items one purge run deletes at most (about a minute of batched deletes on DynamoDB).
pub const PURGE_BUDGET: usize = 20_000;

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub backup: BackupInfo,
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BackupInfo {
    pub id: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

const GENERATION_ID: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// The time a generation id names, in JST.
pub fn created_at(id: &str) -> String {
    time::PrimitiveDateTime::parse(id, GENERATION_ID)
        .map(|t| crate::domain::time::jst(t.assume_utc()))
        .unwrap_or_default()
}

pub fn info(b: &crate::ports::Backup) -> BackupInfo {
    BackupInfo {
        created_at: created_at(&b.id),
        id: b.id.clone(),
        size: b.size,
    }
}

pub async fn backup(svc: &Services, now: OffsetDateTime) -> Result<BackupReport, AppError> {
    let id = now
        .to_offset(time::UtcOffset::UTC)
        .format(GENERATION_ID)
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let made = match svc.backups.list().await?.into_iter().find(|b| b.id == id) {
        // The same scheduled run delivered twice: keep the first.
        Some(existing) => existing,
        None => svc.backups.create(&id).await?,
    };
    let all = svc.backups.list().await?;
    let cut = all.len().saturating_sub(GENERATIONS);
    let (old, kept) = all.split_at(cut);
    let mut deleted = Vec::new();
    for b in old {
        svc.backups.delete(&b.id).await?;
        deleted.push(b.id.clone());
    }
    Ok(BackupReport {
        backup: info(&made),
        kept: kept.iter().map(|b| b.id.clone()).collect(),
        deleted,
    })
}

#[derive(Debug, Default, Serialize)]
pub struct PurgeReport {
    /// Tenants whose data is now entirely gone.
    pub purged: Vec<String>,
    /// Tenants started but not finished within this run's budget; the next run continues.
    pub in_progress: Vec<String>,
    pub items_deleted: usize,
}

/// The purge states kept on the registry item.
const SHREDDED: &str = "shredded";
const DONE: &str = "done";

pub async fn purge(
    svc: &Services,
    now: OffsetDateTime,
    max_items: usize,
) -> Result<PurgeReport, AppError> {
    let mut report = PurgeReport::default();
    let mut budget = max_items.max(1);
    let today = now.to_offset(crate::domain::time::JST).date();
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
        for entry in &page.items {
            if entry.s(attr::PURGE) == Some(DONE) {
                continue;
            }
            let Some(end) = entry.s(attr::CONTRACT_END).and_then(tenant::parse_date) else {
                continue;
            };
            if today < end + time::Duration::days(PURGE_AFTER_DAYS) {
                continue;
            }
            let tenant = TenantId::from_stored(entry.sk.clone());
            if budget == 0 {
                report.in_progress.push(tenant.to_string());
                continue;
            }
            if entry.s(attr::PURGE) != Some(SHREDDED) {
                shred(svc, &tenant, now).await?;
            }
            let deleted = erase_items(svc, &tenant, budget).await?;
            report.items_deleted += deleted.count;
            budget -= deleted.count.min(budget);
            if deleted.finished {
                set_state(svc, &tenant, DONE).await?;
                report.purged.push(tenant.to_string());
            } else {
                report.in_progress.push(tenant.to_string());
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(report),
        }
    }
}

async fn set_state(svc: &Services, tenant: &TenantId, state: &str) -> Result<(), AppError> {
    svc.store
        .transact(vec![Write::Update {
            table: Table::Data,
            pk: layout::REGISTRY_PK.into(),
            sk: layout::registry_sk(tenant),
            changes: vec![Change::Set(attr::PURGE, Value::S(state.into()))],
            cond: None,
        }])
        .await?;
    Ok(())
}

/// Keeps the questionnaires anonymised, then destroys the data key (the tenant item holding it, and the
/// slug): from here on every copy of the tenant's data, in the table or in any backup, is unreadable.
async fn shred(svc: &Services, tenant: &TenantId, now: OffsetDateTime) -> Result<(), AppError> {
    let meta = svc
        .store
        .get(Table::Data, &layout::tenant_pk(tenant), layout::META)
        .await?;
    if let Some(meta) = &meta {
        let scope = svc.scope(tenant).await?;
        let log_key = svc.log_key(tenant).await?;
        let mut archive: Vec<BatchWrite> = Vec::new();
        for q in questionnaire::all(svc, &scope).await? {
            archive.extend(
                questionnaire::archive_items(tenant, &log_key, &q)?
                    .into_iter()
                    .map(BatchWrite::Put),
            );
        }
        svc.store.batch_write(Table::Log, archive).await?;
        let mut writes = vec![
            Write::delete(Table::Keys, layout::tenant_pk(tenant), layout::DATA_KEY_SK),
            Write::delete(Table::Data, layout::tenant_pk(tenant), layout::META),
        ];
        if let Some(slug) = meta.s(attr::SLUG) {
            writes.push(Write::delete(
                Table::Data,
                layout::slug_pk(slug),
                layout::SLUG_SK,
            ));
        }
        writes.push(Write::Update {
            table: Table::Data,
            pk: layout::REGISTRY_PK.into(),
            sk: layout::registry_sk(tenant),
            changes: vec![Change::Set(attr::PURGE, Value::S(SHREDDED.into()))],
            cond: None,
        });
        writes.push(crate::app::audit::entry(
            tenant,
            &log_key,
            &crate::app::audit::Actor::Operator,
            crate::app::audit::Entry {
                action: "tenant.purge",
                target_type: "tenant",
                target_id: tenant.as_str(),
            },
            now,
        ));
        svc.store.transact(writes).await?;
    } else {
        svc.store
            .transact(vec![Write::delete(
                Table::Keys,
                layout::tenant_pk(tenant),
                layout::DATA_KEY_SK,
            )])
            .await?;
        set_state(svc, tenant, SHREDDED).await?;
    }
    svc.keyring.forget(&format!("data:{tenant}"));
    Ok(())
}

struct Erased {
    count: usize,
    finished: bool,
}

/// Deletes the tenant's items page by page (and the global token records its users' tokens point to).
async fn erase_items(svc: &Services, tenant: &TenantId, budget: usize) -> Result<Erased, AppError> {
    let pk = layout::tenant_pk(tenant);
    let mut count = 0;
    while count < budget {
        let page = svc
            .store
            .query(&Query::prefix(Table::Data, pk.clone(), "").limit(100.min(budget - count)))
            .await?;
        if page.items.is_empty() {
            return Ok(Erased {
                count,
                finished: true,
            });
        }
        let tokens: Vec<BatchWrite> = page
            .items
            .iter()
            .filter_map(|i: &Item| {
                if i.sk.starts_with("UTOK#") {
                    i.sk.rsplit('#').next()
                } else if i.sk.starts_with(layout::SCIM_TOKEN_PREFIX) {
                    i.s(layout::attr::HASH)
                } else {
                    None
                }
            })
            .map(|hash| BatchWrite::Delete {
                pk: layout::token_pk(hash),
                sk: layout::TOKEN_SK.into(),
            })
            .collect();
        svc.store.batch_write(Table::Data, tokens).await?;
        // Uploaded files go before their records, so a crash leaves a record to find them by.
        for key in crate::app::records::upload::keys_of_items(&page.items, tenant) {
            svc.files
                .delete(&key)
                .await
                .map_err(|e| AppError::Internal(Box::new(e)))?;
        }
        count += page.items.len();
        let deletes = page
            .items
            .into_iter()
            .map(|i| BatchWrite::Delete {
                pk: pk.clone(),
                sk: i.sk,
            })
            .collect();
        svc.store.batch_write(Table::Data, deletes).await?;
    }
    let rest = svc
        .store
        .query(&Query::prefix(Table::Data, pk, "").limit(1))
        .await?;
    Ok(Erased {
        count,
        finished: rest.items.is_empty(),
    })
}
