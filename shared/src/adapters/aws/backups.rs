//! DynamoDB backups: a generation is an on-demand backup of each table, all named after the generation.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::BackupSummary;

use crate::ports::backups::{Backup, BackupService};
use crate::ports::store::{StoreError, StoreResult};

pub struct DynamoBackups {
    client: Client,
    tables: Vec<String>,
}

impl DynamoBackups {
    pub fn new(client: Client, tables: Vec<String>) -> Self {
        DynamoBackups { client, tables }
    }

    async fn summaries(&self, table: &str) -> StoreResult<Vec<BackupSummary>> {
        let mut out = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let resp = self
                .client
                .list_backups()
                .table_name(table)
                .set_exclusive_start_backup_arn(start.take())
                .send()
                .await
                .map_err(|e| err("ListBackups", e))?;
            out.extend(resp.backup_summaries.unwrap_or_default());
            match resp.last_evaluated_backup_arn {
                Some(arn) => start = Some(arn),
                None => return Ok(out),
            }
        }
    }
}

fn err(op: &str, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend {
        message: format!(
            "DynamoDB {op}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ),
        source: None,
    }
}

#[async_trait]
impl BackupService for DynamoBackups {
    async fn create(&self, id: &str) -> StoreResult<Backup> {
        let mut size = 0u64;
        for t in &self.tables {
            let out = self
                .client
                .create_backup()
                .table_name(t)
                .backup_name(id)
                .send()
                .await
                .map_err(|e| err("CreateBackup", e))?;
            size += out
                .backup_details
                .and_then(|d| d.backup_size_bytes)
                .unwrap_or(0)
                .max(0) as u64;
        }
        Ok(Backup {
            id: id.to_owned(),
            size: Some(size),
        })
    }

    async fn list(&self) -> StoreResult<Vec<Backup>> {
        let mut by_name: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
        for t in &self.tables {
            for s in self.summaries(t).await? {
                if let Some(name) = s.backup_name {
                    let e = by_name.entry(name).or_default();
                    e.0 += 1;
                    e.1 += s.backup_size_bytes.unwrap_or(0).max(0) as u64;
                }
            }
        }
        // Only generations with a backup of every table count.
        Ok(by_name
            .into_iter()
            .filter(|(_, (n, _))| *n == self.tables.len())
            .map(|(id, (_, size))| Backup {
                id,
                size: Some(size),
            })
            .collect())
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        for t in &self.tables {
            for s in self.summaries(t).await? {
                if s.backup_name.as_deref() == Some(id)
                    && let Some(arn) = s.backup_arn
                {
                    self.client
                        .delete_backup()
                        .backup_arn(arn)
                        .send()
                        .await
                        .map_err(|e| err("DeleteBackup", e))?;
                }
            }
        }
        Ok(())
    }

    async fn restore(&self, id: &str, target: &str) -> StoreResult<()> {
        for t in &self.tables {
            let arn = self
                .summaries(t)
                .await?
                .into_iter()
                .find(|s| s.backup_name.as_deref() == Some(id))
                .and_then(|s| s.backup_arn)
                .ok_or_else(|| StoreError::Invalid(format!("no backup {id} of {t}")))?;
            self.client
                .restore_table_from_backup()
                .target_table_name(format!("{t}-{target}"))
                .backup_arn(arn)
                .send()
                .await
                .map_err(|e| err("RestoreTableFromBackup", e))?;
        }
        Ok(())
    }
}
