//! Embedded backups: snapshot files `backups/<id>.redb` beside the database, each written from one read
//! transaction (a consistent copy) into a new database file, `<id>.partial` until it is complete. A
//! process killed mid-backup leaves its `.partial`, removed at the next start and the next backup.

use std::path::PathBuf;

use async_trait::async_trait;

use super::EmbeddedStore;
use crate::ports::backups::{Backup, BackupService};
use crate::ports::store::{StoreError, StoreResult};

pub struct EmbeddedBackups {
    store: EmbeddedStore,
    dir: PathBuf,
}

impl EmbeddedBackups {
    pub fn new(store: EmbeddedStore, dir: PathBuf) -> Self {
        EmbeddedBackups { store, dir }
    }
    /// Deletes the `.partial` files a killed backup left behind. Called at start and before each backup,
    /// when this process holds the store's lock, so no other backup can be writing them.
    pub fn remove_partials(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("partial") {
                match std::fs::remove_file(&path) {
                    Ok(()) => tracing::warn!(file = %path.display(), "stale backup part removed"),
                    Err(e) => {
                        tracing::error!(file = %path.display(), error = %e, "stale backup part not removed")
                    }
                }
            }
        }
    }

    fn path(&self, id: &str) -> StoreResult<PathBuf> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StoreError::Invalid(format!("{id:?} is not a backup id")));
        }
        Ok(self.dir.join(format!("{id}.redb")))
    }
}

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::backend(what.to_owned(), e)
}

#[async_trait]
impl BackupService for EmbeddedBackups {
    async fn create(&self, id: &str) -> StoreResult<Backup> {
        let path = self.path(id)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| io("creating the backup dir", e))?;
        self.remove_partials();
        let tmp = self.dir.join(format!("{id}.partial"));
        // Streamed: entry by entry from one read transaction, never a whole table in memory.
        if let Err(e) = self.store.copy_into(tmp.clone()).await {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &path).map_err(|e| io("finishing the backup file", e))?;
        let size = std::fs::metadata(&path).map(|m| m.len()).ok();
        Ok(Backup {
            id: id.to_owned(),
            size,
        })
    }

    async fn list(&self) -> StoreResult<Vec<Backup>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("reading the backup dir", e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) == Some("redb")
                && let Some(id) = path.file_stem().and_then(|s| s.to_str())
            {
                out.push(Backup {
                    id: id.to_owned(),
                    size: entry.metadata().map(|m| m.len()).ok(),
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        std::fs::remove_file(self.path(id)?).map_err(|e| io("deleting a backup", e))
    }

    async fn restore(&self, id: &str, target: &str) -> StoreResult<()> {
        let from = self.path(id)?;
        let to = PathBuf::from(target);
        if to.exists() {
            return Err(StoreError::Invalid(format!(
                "{target} exists; restore only into a new file"
            )));
        }
        std::fs::copy(&from, &to)
            .map(|_| ())
            .map_err(|e| io("restoring a backup", e))
    }
}
