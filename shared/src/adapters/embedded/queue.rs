//! The local server's task queue, kept in the embedded store (its own redb tables beside the data), so a
//! task queued before a crash or a restart is run after it, as SQS keeps tasks in AWS. The worker
//! (`crate::worker`) takes due tasks with a lease, extends the lease while a task runs (a heartbeat),
//! deletes a task that succeeded, and puts back one that failed with a delay; after
//! [`crate::worker::MAX_ATTEMPTS`] deliveries a task goes to a dead-letter table, like SQS's dead-letter
//! queue. Any [`Task`] goes through unchanged: the queue keeps its JSON, the SQS message body.
//!
//! Layout: `queue` maps `due (ms, u64 big-endian) ‖ id` to `attempts (u32 LE) ‖ task JSON`, so the due
//! tasks are the first keys in order; a taken task is moved to `now + lease`. `queue_dead` maps the id to
//! `attempts ‖ error length (u32 LE) ‖ error ‖ task JSON`.

use std::time::Duration;

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::EmbeddedStore;
use crate::ports::{QueueError, StoreError, Task, TaskQueue};

const QUEUE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("queue");
const DEAD: TableDefinition<&[u8], &[u8]> = TableDefinition::new("queue_dead");

/// Creates the queue's tables (at the store's first open), so readers never meet a missing table.
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    for t in [QUEUE, DEAD] {
        txn.open_table(t)
            .map_err(|e| StoreError::backend("creating the task queue", redb::Error::from(e)))?;
    }
    Ok(())
}

fn now_ms() -> u64 {
    u64::try_from(crate::domain::time::now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn key(due: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + id.len());
    k.extend_from_slice(&due.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

fn due_of(k: &[u8]) -> u64 {
    k.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn value(attempts: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(&attempts.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn split_value(v: &[u8]) -> (u32, &[u8]) {
    let attempts = v
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0);
    (attempts, v.get(4..).unwrap_or_default())
}

fn qerr(e: impl std::fmt::Display) -> QueueError {
    QueueError {
        message: format!("local task queue: {e}"),
        source: None,
    }
}

fn serr(e: impl Into<redb::Error>) -> StoreError {
    StoreError::backend("local task queue", e.into())
}

/// A task taken from the queue: run it, then say how it went ([`LocalQueue::done`], [`LocalQueue::retry`],
/// [`LocalQueue::bury`]).
#[derive(Debug)]
pub struct Leased {
    key: Vec<u8>,
    id: String,
    body: Vec<u8>,
    /// Deliveries of this task so far, this one included.
    pub attempts: u32,
    pub task: Result<Task, String>,
}

impl Leased {
    /// When the lease runs out (ms since the epoch) unless extended.
    pub fn lease_until(&self) -> u64 {
        due_of(&self.key)
    }
}

pub struct LocalQueue {
    store: EmbeddedStore,
    wake: tokio::sync::Notify,
}

impl LocalQueue {
    pub fn new(store: EmbeddedStore) -> Self {
        LocalQueue {
            store,
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Makes every task due now, those leased too. Called once at start: the store's lock proves that no
    /// other process runs them, so a leased task was left by a process that is gone. Returns how many
    /// tasks were waiting.
    pub async fn release_all(&self) -> Result<usize, QueueError> {
        let now = now_ms();
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                let mut n = 0;
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    let mut later = vec![];
                    for entry in t.iter().map_err(serr)? {
                        let (k, v) = entry.map_err(serr)?;
                        n += 1;
                        if due_of(k.value()) > now {
                            later.push((k.value().to_vec(), v.value().to_vec()));
                        }
                    }
                    for (k, v) in later {
                        t.remove(k.as_slice()).map_err(serr)?;
                        t.insert(key(now, id_of(&k)).as_slice(), v.as_slice())
                            .map_err(serr)?;
                    }
                }
                txn.commit().map_err(serr)?;
                Ok(n)
            })
            .await
            .map_err(qerr)
    }

    /// Up to `max` due tasks, each leased for `lease` (it comes back by itself when the lease runs out)
    /// and its delivery counted.
    pub async fn take(&self, max: usize, lease: Duration) -> Result<Vec<Leased>, QueueError> {
        let now = now_ms();
        // A read first: an idle queue costs no write (and no fsync).
        let due = self
            .store
            .blocking(move |db| {
                let txn = db.begin_read().map_err(serr)?;
                let t = txn.open_table(QUEUE).map_err(serr)?;
                Ok(match t.first().map_err(serr)? {
                    Some((k, _)) => due_of(k.value()) <= now,
                    None => false,
                })
            })
            .await
            .map_err(qerr)?;
        if !due || max == 0 {
            return Ok(vec![]);
        }
        let until = now + u64::try_from(lease.as_millis()).unwrap_or(u64::MAX / 2);
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                let mut out = vec![];
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    let mut picked = vec![];
                    for entry in t
                        .range::<&[u8]>(..key(now + 1, "").as_slice())
                        .map_err(serr)?
                    {
                        let (k, v) = entry.map_err(serr)?;
                        picked.push((k.value().to_vec(), v.value().to_vec()));
                        if picked.len() == max {
                            break;
                        }
                    }
                    for (k, v) in picked {
                        let id = id_of(&k).to_owned();
                        let (attempts, body) = split_value(&v);
                        let attempts = attempts.saturating_add(1);
                        let new_key = key(until, &id);
                        t.remove(k.as_slice()).map_err(serr)?;
                        t.insert(new_key.as_slice(), value(attempts, body).as_slice())
                            .map_err(serr)?;
                        out.push(Leased {
                            key: new_key,
                            task: serde_json::from_slice(body).map_err(|e| e.to_string()),
                            body: body.to_vec(),
                            id,
                            attempts,
                        });
                    }
                }
                txn.commit().map_err(serr)?;
                Ok(out)
            })
            .await
            .map_err(qerr)
    }

    /// Moves a leased task from its current key to `due`; false when it is no longer there (its lease ran
    /// out and it was taken again, or it was handled).
    async fn move_to(
        &self,
        l: &Leased,
        due: u64,
        attempts: u32,
    ) -> Result<Option<Vec<u8>>, QueueError> {
        let (from, id, body) = (l.key.clone(), l.id.clone(), l.body.clone());
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                let moved = {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    if t.remove(from.as_slice()).map_err(serr)?.is_some() {
                        let to = key(due, &id);
                        t.insert(to.as_slice(), value(attempts, &body).as_slice())
                            .map_err(serr)?;
                        Some(to)
                    } else {
                        None
                    }
                };
                txn.commit().map_err(serr)?;
                Ok(moved)
            })
            .await
            .map_err(qerr)
    }

    /// Extends the lease of a running task (the heartbeat); false when the task was lost meanwhile.
    pub async fn extend(&self, l: &mut Leased, lease: Duration) -> Result<bool, QueueError> {
        let until = now_ms() + u64::try_from(lease.as_millis()).unwrap_or(u64::MAX / 2);
        match self.move_to(l, until, l.attempts).await? {
            Some(k) => {
                l.key = k;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes a task that ran to its end.
    pub async fn done(&self, l: &Leased) -> Result<(), QueueError> {
        let k = l.key.clone();
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    t.remove(k.as_slice()).map_err(serr)?;
                }
                txn.commit().map_err(serr)?;
                Ok(())
            })
            .await
            .map_err(qerr)
    }

    /// Puts a failed task back, due after `delay`.
    pub async fn retry(&self, l: &Leased, delay: Duration) -> Result<(), QueueError> {
        let due = now_ms() + u64::try_from(delay.as_millis()).unwrap_or(u64::MAX / 2);
        self.move_to(l, due, l.attempts).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Moves a task that failed its last attempt (or cannot be read) to the dead-letter table.
    pub async fn bury(&self, l: &Leased, error: &str) -> Result<(), QueueError> {
        let (k, id, attempts) = (l.key.clone(), l.id.clone(), l.attempts);
        let mut v = Vec::with_capacity(8 + error.len() + l.body.len());
        v.extend_from_slice(&attempts.to_le_bytes());
        v.extend_from_slice(&u32::try_from(error.len()).unwrap_or(0).to_le_bytes());
        v.extend_from_slice(error.as_bytes());
        v.extend_from_slice(&l.body);
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    t.remove(k.as_slice()).map_err(serr)?;
                    let mut d = txn.open_table(DEAD).map_err(serr)?;
                    d.insert(id.as_bytes(), v.as_slice()).map_err(serr)?;
                }
                txn.commit().map_err(serr)?;
                Ok(())
            })
            .await
            .map_err(qerr)
    }

    /// Waits until a task is queued or `max` has passed.
    pub async fn wait(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.wake.notified()).await;
    }

    /// Tasks waiting or running, and tasks in the dead-letter table.
    pub async fn counts(&self) -> Result<(u64, u64), QueueError> {
        self.store
            .blocking(|db| {
                let txn = db.begin_read().map_err(serr)?;
                let q = txn.open_table(QUEUE).map_err(serr)?.len().map_err(serr)?;
                let d = txn.open_table(DEAD).map_err(serr)?.len().map_err(serr)?;
                Ok((q, d))
            })
            .await
            .map_err(qerr)
    }
}

fn id_of(k: &[u8]) -> &str {
    std::str::from_utf8(k.get(8..).unwrap_or_default()).unwrap_or_default()
}

#[async_trait]
impl TaskQueue for LocalQueue {
    async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), QueueError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(tasks.len());
        let now = now_ms();
        for t in &tasks {
            let body = serde_json::to_vec(t).map_err(qerr)?;
            rows.push((key(now, &crate::domain::ids::new_id()), value(0, &body)));
        }
        self.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    for (k, v) in rows {
                        t.insert(k.as_slice(), v.as_slice()).map_err(serr)?;
                    }
                }
                txn.commit().map_err(serr)?;
                Ok(())
            })
            .await
            .map_err(|e| QueueError {
                message: "local task queue: the task could not be stored".into(),
                source: Some(Box::new(e)),
            })?;
        self.wake.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(n: usize) -> Task {
        Task::Import {
            tenant: "T".into(),
            import: format!("I{n}"),
        }
    }

    #[tokio::test]
    async fn tasks_outlive_the_process_and_a_leased_one_comes_back_at_the_next_start() {
        let dir =
            std::env::temp_dir().join(format!("kanri-queue-{}", crate::domain::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.redb");
        {
            let q = LocalQueue::new(EmbeddedStore::open(&path).unwrap());
            q.enqueue(vec![task(1), task(2)]).await.unwrap();
            let taken = q.take(1, Duration::from_secs(600)).await.unwrap();
            assert_eq!(taken.len(), 1);
            assert_eq!(taken[0].attempts, 1);
            // Leased: not taken again while the lease runs.
            let more = q.take(5, Duration::from_secs(600)).await.unwrap();
            assert_eq!(more.len(), 1);
            assert!(
                q.take(5, Duration::from_secs(600))
                    .await
                    .unwrap()
                    .is_empty()
            );
            // The process dies with both tasks leased.
        }
        let q = LocalQueue::new(EmbeddedStore::open(&path).unwrap());
        assert_eq!(q.release_all().await.unwrap(), 2);
        let mut back = q.take(5, Duration::from_secs(60)).await.unwrap();
        back.sort_by(|a, b| format!("{:?}", a.task).cmp(&format!("{:?}", b.task)));
        assert_eq!(
            back.iter()
                .map(|l| l.task.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![task(1), task(2)]
        );
        assert!(back.iter().all(|l| l.attempts == 2));
        // A heartbeat keeps the lease; done removes; retry puts back with a delay; bury keeps it aside.
        let mut first = back.remove(0);
        let before = first.lease_until();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(q.extend(&mut first, Duration::from_secs(60)).await.unwrap());
        assert!(first.lease_until() > before);
        q.done(&first).await.unwrap();
        assert!(!q.extend(&mut first, Duration::from_secs(60)).await.unwrap());
        q.retry(&back[0], Duration::ZERO).await.unwrap();
        let again = q.take(5, Duration::from_secs(60)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 3);
        q.bury(&again[0], "gave up").await.unwrap();
        assert_eq!(q.counts().await.unwrap(), (0, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_unreadable_task_is_reported_not_lost() {
        let q = LocalQueue::new(EmbeddedStore::in_memory().unwrap());
        let body = br#"{"task":"from_a_newer_version"}"#.to_vec();
        q.store
            .blocking(move |db| {
                let txn = db.begin_write().map_err(serr)?;
                {
                    let mut t = txn.open_table(QUEUE).map_err(serr)?;
                    t.insert(key(0, "X").as_slice(), value(0, &body).as_slice())
                        .map_err(serr)?;
                }
                txn.commit().map_err(serr)?;
                Ok(())
            })
            .await
            .unwrap();
        let taken = q.take(1, Duration::from_secs(60)).await.unwrap();
        assert!(taken[0].task.is_err());
    }
}
