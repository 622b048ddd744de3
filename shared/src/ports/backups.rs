//! The backup port: a generation is a consistent copy of both tables (DynamoDB on-demand backups, or a
//! snapshot file of the embedded database). Restoring is the operator's, into a new table or file.

use async_trait::async_trait;

use crate::ports::store::StoreResult;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The generation's name: its UTC time, `YYYYMMDDTHHMMSSZ`, so names sort by age.
    pub id: String,
    pub size: Option<u64>,
}

#[async_trait]
pub trait BackupService: Send + Sync {
    async fn create(&self, id: &str) -> StoreResult<Backup>;
    /// Every complete generation, oldest first.
    async fn list(&self) -> StoreResult<Vec<Backup>>;
    async fn delete(&self, id: &str) -> StoreResult<()>;
    /// Restores a generation into a new place: a file path (embedded) or a table-name suffix (DynamoDB:
    /// `<table>-<target>`). Never over live data.
    async fn restore(&self, id: &str, target: &str) -> StoreResult<()>;
}
