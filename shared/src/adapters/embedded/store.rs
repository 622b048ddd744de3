//! The embedded item store: redb on disk. One redb write transaction per store transaction gives the same
//! all-or-nothing, condition-checked semantics as DynamoDB's `TransactWriteItems`; redb serialises writers.

use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::codec;
use crate::ports::store::{
    BatchWrite, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Write, apply_changes,
    eval_cond, validate_transaction,
};

const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
const LOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("log");
const KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("keys");

fn def(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match table {
        Table::Data => DATA,
        Table::Log => LOG,
        Table::Keys => KEYS,
    }
}

/// Keys are `pk \0 sk`: pk and sk never contain NUL (the layout builds them from ids and hex digests).
fn key(pk: &str, sk: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(pk.len() + sk.len() + 1);
    k.extend_from_slice(pk.as_bytes());
    k.push(0);
    k.extend_from_slice(sk.as_bytes());
    k
}

fn split_key(k: &[u8]) -> Option<(String, String)> {
    let pos = k.iter().position(|&b| b == 0)?;
    Some((
        String::from_utf8(k[..pos].to_vec()).ok()?,
        String::from_utf8(k[pos + 1..].to_vec()).ok()?,
    ))
}

fn to_item(k: &[u8], v: &[u8]) -> StoreResult<Item> {
    let (pk, sk) = split_key(k).ok_or_else(|| corrupt("key"))?;
    let attrs = codec::decode(v).ok_or_else(|| corrupt("value"))?;
    Ok(Item { pk, sk, attrs })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Backend {
        message: format!("embedded store holds a corrupt {what}"),
        source: None,
    }
}

/// Maps a redb error: an I/O error (a full disk, say) or the error redb answers after one, which asks
/// for the database to be closed and opened again, is [`StoreError::Unavailable`]; the store re-opens
/// itself on the next call (see [`EmbeddedStore`]).
fn err(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    if matches!(
        e,
        redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed
    ) {
        return StoreError::unavailable("embedded store I/O", Some(Box::new(e)));
    }
    StoreError::backend("embedded store", e)
}

fn check_key(pk: &str, sk: &str) -> StoreResult<()> {
    if pk.is_empty() || pk.contains('\0') || sk.contains('\0') {
        return Err(StoreError::Invalid(
            "keys must be non-empty and free of NUL".into(),
        ));
    }
    Ok(())
}

/// redb's page cache when nothing else is said (`KANRI_STORE_CACHE_MB`); redb's own default is 1 GiB,
/// which a long-running server fills with every page it ever touched.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

type Opener = Box<dyn Fn() -> Result<Database, redb::DatabaseError> + Send + Sync>;

/// The open database, or none while it is being re-opened after an I/O error.
struct Slot {
    db: Option<Arc<Database>>,
    /// Bumped at every re-open, so that a late error from an older handle closes nothing.
    generation: u64,
    /// The handle given up after an I/O error: its file lock goes when the last user lets go of it.
    retired: Option<Weak<Database>>,
}

struct Inner {
    open: Opener,
    slot: Mutex<Slot>,
    reopening: tokio::sync::Mutex<()>,
    /// The process's claim on the data dir, taken before the database is opened and held for the life
    /// of the store (also while the database is re-opened).
    _lock: Option<std::fs::File>,
}

/// The embedded store. After an I/O error (a full disk), redb refuses every later operation until the
/// database is opened again: the store then gives up its handle, answers [`StoreError::Unavailable`]
/// (503) meanwhile, and opens the file again on the next call, so writes recover without a restart once
/// the disk has room.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

/// Takes the data file's lock (`<file>.lock` beside it), or says which process holds it.
fn lock_file(path: &Path) -> StoreResult<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::backend(format!("opening {}", lock_path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend {
            message: format!(
                "{} is in use by another process (another server on the same data dir?)",
                path.display()
            ),
            source: None,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::backend(
            format!("locking {}", lock_path.display()),
            e,
        )),
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the database file with the default cache; the data survives restarts.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the database file with a page cache of `cache_bytes`. The file's lock is taken
    /// first: a second process on the same file is refused before it touches anything.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> StoreResult<Self> {
        let lock = lock_file(path)?;
        let path = path.to_owned();
        Self::from_opener(
            Box::new(move || {
                let mut b = Database::builder();
                b.set_cache_size(cache_bytes);
                b.create(&path)
            }),
            Some(lock),
        )
    }

    /// A store that lives in memory only (the task queue of a process without a durable one).
    pub fn in_memory() -> StoreResult<Self> {
        Self::from_opener(
            Box::new(|| {
                let mut b = Database::builder();
                b.set_cache_size(8 * 1024 * 1024);
                b.create_with_backend(redb::backends::InMemoryBackend::new())
            }),
            None,
        )
    }

    fn from_opener(open: Opener, lock: Option<std::fs::File>) -> StoreResult<Self> {
        let db = open().map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(DATA).map_err(err)?;
            txn.open_table(LOG).map_err(err)?;
            txn.open_table(KEYS).map_err(err)?;
            super::queue::create_tables(&txn)?;
        }
        txn.commit().map_err(err)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                open,
                slot: Mutex::new(Slot {
                    db: Some(Arc::new(db)),
                    generation: 0,
                    retired: None,
                }),
                reopening: tokio::sync::Mutex::new(()),
                _lock: lock,
            }),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.inner
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The open database and its generation, re-opening it first if an I/O error closed it.
    async fn handle(&self) -> StoreResult<(Arc<Database>, u64)> {
        {
            let slot = self.slot();
            if let Some(db) = &slot.db {
                return Ok((db.clone(), slot.generation));
            }
        }
        self.reopen().await?;
        let slot = self.slot();
        match &slot.db {
            Some(db) => Ok((db.clone(), slot.generation)),
            None => Err(StoreError::unavailable(
                "embedded store is being re-opened",
                None,
            )),
        }
    }

    async fn reopen(&self) -> StoreResult<()> {
        let _one_at_a_time = self.inner.reopening.lock().await;
        let retired = {
            let slot = self.slot();
            if slot.db.is_some() {
                return Ok(());
            }
            slot.retired.clone()
        };
        // redb releases the file when its last handle goes; the calls that held it fail fast now.
        if let Some(old) = retired {
            for _ in 0..500 {
                if old.strong_count() == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        let inner = self.inner.clone();
        let db = tokio::task::spawn_blocking(move || (inner.open)())
            .await
            .map_err(|e| StoreError::backend("embedded store task", e))?
            .map_err(|e| {
                StoreError::unavailable("re-opening the embedded store", Some(Box::new(e)))
            })?;
        let mut slot = self.slot();
        slot.db = Some(Arc::new(db));
        slot.generation += 1;
        slot.retired = None;
        tracing::warn!("embedded store re-opened after an I/O error");
        Ok(())
    }

    /// After an error of the handle of `generation`: an I/O error gives the handle up, so that the next
    /// call opens the database again.
    fn after(&self, generation: u64, e: &StoreError) {
        if !matches!(e, StoreError::Unavailable { .. }) {
            return;
        }
        let mut slot = self.slot();
        if slot.generation == generation
            && let Some(db) = slot.db.take()
        {
            slot.retired = Some(Arc::downgrade(&db));
            tracing::error!(error = %e, "embedded store failed; it is re-opened on the next call");
        }
    }

    /// Runs `f` on the database on a blocking thread (writes, long reads).
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (db, generation) = self.handle().await?;
        let result = tokio::task::spawn_blocking(move || {
            let r = f(&db);
            drop(db);
            r
        })
        .await
        .map_err(|e| StoreError::backend("embedded store task", e))?;
        if let Err(e) = &result {
            self.after(generation, e);
        }
        result
    }

    /// Runs `f` on the database on this thread: short reads, which never wait on writers (MVCC).
    async fn inline<T>(&self, f: impl FnOnce(&Database) -> StoreResult<T>) -> StoreResult<T> {
        let (db, generation) = self.handle().await?;
        let result = f(&db);
        drop(db);
        if let Err(e) = &result {
            self.after(generation, e);
        }
        result
    }

    /// Every item of a table, in key order (tests).
    pub async fn scan_all(&self, table: Table) -> StoreResult<Vec<Item>> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(err)?;
            let t = txn.open_table(def(table)).map_err(err)?;
            let mut out = Vec::new();
            for entry in t.iter().map_err(err)? {
                let (k, v) = entry.map_err(err)?;
                out.push(to_item(k.value(), v.value())?);
            }
            Ok(out)
        })
        .await
    }

    /// Copies the backed-up tables into a new database file, entry by entry from one read transaction
    /// (a consistent copy), committing every few thousand entries, so memory stays flat whatever the
    /// size of the store.
    pub(crate) async fn copy_into(&self, target: std::path::PathBuf) -> StoreResult<()> {
        self.blocking(move |db| {
            let mut b = Database::builder();
            b.set_cache_size(16 * 1024 * 1024);
            let copy = b.create(&target).map_err(err)?;
            let txn = db.begin_read().map_err(err)?;
            for table in [Table::Data, Table::Log] {
                let source = txn.open_table(def(table)).map_err(err)?;
                let mut entries = source.iter().map_err(err)?;
                loop {
                    let mut w = copy.begin_write().map_err(err)?;
                    w.set_durability(redb::Durability::None)
                        .map_err(|e| StoreError::backend("backup copy", e))?;
                    let mut copied = 0;
                    {
                        let mut t = w.open_table(def(table)).map_err(err)?;
                        for entry in entries.by_ref() {
                            let (k, v) = entry.map_err(err)?;
                            t.insert(k.value(), v.value()).map_err(err)?;
                            copied += 1;
                            if copied == COPY_BATCH {
                                break;
                            }
                        }
                    }
                    w.commit().map_err(err)?;
                    if copied < COPY_BATCH {
                        break;
                    }
                }
            }
            // One durable commit at the end makes everything before it durable.
            let mut w = copy.begin_write().map_err(err)?;
            w.set_durability(redb::Durability::Immediate)
                .map_err(|e| StoreError::backend("backup copy", e))?;
            {
                w.open_table(KEYS).map_err(err)?;
            }
            w.commit().map_err(err)?;
            Ok(())
        })
        .await
    }
}

/// Entries per commit of a backup copy.
const COPY_BATCH: usize = 5000;

type RawTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// The tables of a write transaction, each opened once however many writes go to it.
struct Open<'t> {
    txn: &'t redb::WriteTransaction,
    tables: [Option<RawTable<'t>>; 3],
}

impl<'t> Open<'t> {
    fn new(txn: &'t redb::WriteTransaction) -> Self {
        Open {
            txn,
            tables: [None, None, None],
        }
    }

    fn table(&mut self, table: Table) -> StoreResult<&mut RawTable<'t>> {
        let slot = &mut self.tables[match table {
            Table::Data => 0,
            Table::Log => 1,
            Table::Keys => 2,
        }];
        let t = match slot.take() {
            Some(t) => t,
            None => self.txn.open_table(def(table)).map_err(err)?,
        };
        Ok(slot.insert(t))
    }
}

fn current(t: &RawTable<'_>, k: &[u8]) -> StoreResult<Option<Item>> {
    match t.get(k).map_err(err)? {
        Some(v) => Ok(Some(to_item(k, v.value())?)),
        None => Ok(None),
    }
}

/// One store transaction inside a redb write transaction: every condition is checked against the state
/// before it (a failed one returns before anything is written), then every write is applied.
fn apply(open: &mut Open<'_>, writes: Vec<Write>) -> StoreResult<()> {
    for (index, w) in writes.iter().enumerate() {
        if let Some(cond) = w.cond() {
            let (table, pk, sk) = w.target();
            let k = key(pk, sk);
            let item = current(open.table(table)?, &k)?;
            if !eval_cond(cond, item.as_ref()) {
                return Err(StoreError::ConditionFailed { index });
            }
        }
    }
    for w in writes {
        let (table, pk, sk) = w.target();
        let k = key(pk, sk);
        let t = open.table(table)?;
        match w {
            Write::Put { item, .. } => {
                t.insert(k.as_slice(), codec::encode(&item.attrs).as_slice())
                    .map_err(err)?;
            }
            Write::Delete { .. } => {
                t.remove(k.as_slice()).map_err(err)?;
            }
            Write::Update {
                pk, sk, changes, ..
            } => {
                let item = apply_changes(current(t, &k)?, &pk, &sk, &changes);
                t.insert(k.as_slice(), codec::encode(&item.attrs).as_slice())
                    .map_err(err)?;
            }
            Write::Check { .. } => {}
        }
    }
    Ok(())
}

#[async_trait]
impl ItemStore for EmbeddedStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        check_key(pk, sk)?;
        let k = key(pk, sk);
        // Reads are short and never wait on writers (MVCC), so they run inline.
        self.inline(|db| {
            let txn = db.begin_read().map_err(err)?;
            let t = txn.open_table(def(table)).map_err(err)?;
            match t.get(k.as_slice()).map_err(err)? {
                Some(v) => Ok(Some(to_item(&k, v.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
        for (pk, sk) in keys {
            check_key(pk, sk)?;
        }
        self.inline(|db| {
            let txn = db.begin_read().map_err(err)?;
            let t = txn.open_table(def(table)).map_err(err)?;
            let mut out = Vec::with_capacity(keys.len());
            for (pk, sk) in keys {
                let k = key(pk, sk);
                if let Some(v) = t.get(k.as_slice()).map_err(err)? {
                    out.push(to_item(&k, v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        check_key(&q.pk, &q.sk_prefix)?;
        let limit = q.limit.max(1);
        let prefix = key(&q.pk, &q.sk_prefix);
        self.inline(|db| {
            let txn = db.begin_read().map_err(err)?;
            let t = txn.open_table(def(q.table)).map_err(err)?;
            let after = q.after.as_ref().map(|a| key(&q.pk, a));
            let mut items = Vec::with_capacity(limit + 1);
            let mut push = |k: &[u8], v: &[u8]| -> StoreResult<bool> {
                if !k.starts_with(&prefix) {
                    return Ok(false);
                }
                items.push(to_item(k, v)?);
                Ok(items.len() <= limit)
            };
            if q.forward {
                let start = match &after {
                    Some(a) if a.as_slice() >= prefix.as_slice() => Bound::Excluded(a.as_slice()),
                    _ => Bound::Included(prefix.as_slice()),
                };
                for entry in t.range::<&[u8]>((start, Bound::Unbounded)).map_err(err)? {
                    let (k, v) = entry.map_err(err)?;
                    if !push(k.value(), v.value())? {
                        break;
                    }
                }
            } else {
                let mut upper = prefix.clone();
                upper.push(0xff);
                let end = match &after {
                    Some(a) => Bound::Excluded(a.as_slice()),
                    None => Bound::Excluded(upper.as_slice()),
                };
                for entry in t
                    .range::<&[u8]>((Bound::Included(prefix.as_slice()), end))
                    .map_err(err)?
                    .rev()
                {
                    let (k, v) = entry.map_err(err)?;
                    if !push(k.value(), v.value())? {
                        break;
                    }
                }
            }
            let next = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|i| i.sk.clone())
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        for w in &writes {
            let (_, pk, sk) = w.target();
            check_key(pk, sk)?;
        }
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(err)?;
            {
                let mut open = Open::new(&txn);
                apply(&mut open, writes)?;
            }
            // Dropping an uncommitted transaction (the early return above) aborts it: nothing is written.
            txn.commit().map_err(err)?;
            Ok(())
        })
        .await
    }

    /// All the transactions in one redb transaction, so one commit (one sync to disk) for all of them:
    /// a background import commits a few hundred rows, in transactions of 24, at a time. A transaction
    /// whose condition fails wrote nothing (conditions are checked before its writes), so those before
    /// it are committed and it is reported; any other error aborts all of them (none committed).
    async fn transact_all(&self, transactions: Vec<Vec<Write>>) -> (usize, Option<StoreError>) {
        let n = transactions.len();
        // The transactions that pass the structural checks, up to the first that does not.
        let mut valid = Vec::with_capacity(n);
        let mut refused = None;
        for writes in transactions {
            let checked = validate_transaction(&writes).and_then(|()| {
                writes.iter().try_for_each(|w| {
                    let (_, pk, sk) = w.target();
                    check_key(pk, sk)
                })
            });
            if let Err(e) = checked {
                refused = Some(e);
                break;
            }
            valid.push(writes);
        }
        if valid.is_empty() {
            return (0, refused);
        }
        let result = self
            .blocking(move |db| {
                let txn = db.begin_write().map_err(err)?;
                let mut done = 0;
                let mut failed = None;
                {
                    let mut open = Open::new(&txn);
                    for writes in valid {
                        match apply(&mut open, writes) {
                            Ok(()) => done += 1,
                            Err(e @ StoreError::ConditionFailed { .. }) => {
                                failed = Some(e);
                                break;
                            }
                            // Perhaps half applied: the whole redb transaction is dropped (aborted).
                            Err(e) => return Err(e),
                        }
                    }
                }
                txn.commit().map_err(err)?;
                Ok((done, failed))
            })
            .await;
        match result {
            Ok((done, None)) => (done, refused),
            Ok((done, failed)) => (done, failed),
            Err(e) => (0, Some(e)),
        }
    }

    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        for w in &writes {
            let (pk, sk) = match w {
                BatchWrite::Put(i) => (i.pk.as_str(), i.sk.as_str()),
                BatchWrite::Delete { pk, sk } => (pk.as_str(), sk.as_str()),
            };
            check_key(pk, sk)?;
        }
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(err)?;
            {
                let mut t = txn.open_table(def(table)).map_err(err)?;
                for w in writes {
                    match w {
                        BatchWrite::Put(item) => {
                            let k = key(&item.pk, &item.sk);
                            t.insert(k.as_slice(), codec::encode(&item.attrs).as_slice())
                                .map_err(err)?;
                        }
                        BatchWrite::Delete { pk, sk } => {
                            t.remove(key(&pk, &sk).as_slice()).map_err(err)?;
                        }
                    }
                }
            }
            txn.commit().map_err(err)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::Value;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A file that lives in memory and can be made full: what a disk does when it runs out of space.
    #[derive(Debug, Clone)]
    struct Disk {
        bytes: Arc<std::sync::RwLock<Vec<u8>>>,
        full: Arc<AtomicBool>,
    }

    fn full() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device (test)",
        )
    }

    impl redb::StorageBackend for Disk {
        fn len(&self) -> Result<u64, std::io::Error> {
            Ok(self.bytes.read().map(|b| b.len()).unwrap_or(0) as u64)
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
            let b = self.bytes.read().map_err(|_| full())?;
            let at = offset as usize;
            out.copy_from_slice(b.get(at..at + out.len()).ok_or_else(full)?);
            Ok(())
        }
        fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
            let mut b = self.bytes.write().map_err(|_| full())?;
            if len as usize > b.len() && self.full.load(Ordering::SeqCst) {
                return Err(full());
            }
            b.resize(len as usize, 0);
            Ok(())
        }
        fn sync_data(&self) -> Result<(), std::io::Error> {
            if self.full.load(Ordering::SeqCst) {
                return Err(full());
            }
            Ok(())
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
            if self.full.load(Ordering::SeqCst) {
                return Err(full());
            }
            let mut b = self.bytes.write().map_err(|_| full())?;
            let at = offset as usize;
            b.get_mut(at..at + data.len())
                .ok_or_else(full)?
                .copy_from_slice(data);
            Ok(())
        }
    }

    fn put(n: i64) -> Write {
        Write::put(
            Table::Data,
            Item::new("P", format!("S{n}")).with("n", Value::N(n)),
        )
    }

    #[tokio::test]
    async fn after_a_full_disk_writes_recover_without_a_restart() {
        let disk = Disk {
            bytes: Arc::new(std::sync::RwLock::new(Vec::new())),
            full: Arc::new(AtomicBool::new(false)),
        };
        let d = disk.clone();
        let store = EmbeddedStore::from_opener(
            Box::new(move || Database::builder().create_with_backend(d.clone())),
            None,
        )
        .unwrap();
        store.transact(vec![put(1)]).await.unwrap();

        disk.full.store(true, Ordering::SeqCst);
        let e = store.transact(vec![put(2)]).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        // Still full: every call answers "unavailable" (503), never a lasting failure.
        for _ in 0..3 {
            if let Err(e) = store.transact(vec![put(3)]).await {
                assert!(e.is_transient(), "{e:?}");
            }
        }

        // Space again: the next write re-opens the database and goes through; nothing committed is lost.
        disk.full.store(false, Ordering::SeqCst);
        store.transact(vec![put(4)]).await.unwrap();
        for n in [1, 4] {
            let got = store.get(Table::Data, "P", &format!("S{n}")).await.unwrap();
            assert_eq!(got.and_then(|i| i.n("n")), Some(n));
        }
        assert!(store.get(Table::Data, "P", "S2").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn transactions_committed_together_stop_at_the_first_that_fails() {
        let dir = std::env::temp_dir().join(format!("kanri-all-{}", crate::domain::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = EmbeddedStore::open(&dir.join("kanri.redb")).unwrap();
        let new = |n: i64| {
            Write::put_new(
                Table::Data,
                Item::new("P", format!("S{n}")).with("n", Value::N(n)),
            )
        };
        let bump = |by: i64, below: i64| Write::Update {
            table: Table::Data,
            pk: "P".into(),
            sk: "C".into(),
            changes: vec![crate::ports::Change::Add("n", by)],
            cond: Some(crate::ports::Cond::Not(Box::new(crate::ports::Cond::Ge(
                "n", below,
            )))),
        };
        // Each transaction's conditions see the ones before it: the third finds the counter at 2.
        let (done, e) = store
            .transact_all(vec![
                vec![new(1), bump(1, 2)],
                vec![new(2), bump(1, 2)],
                vec![new(3), bump(1, 2)],
                vec![new(4)],
            ])
            .await;
        assert_eq!(done, 2);
        assert!(
            matches!(e, Some(StoreError::ConditionFailed { index: 1 })),
            "{e:?}"
        );
        let got = |n: i64| {
            let store = store.clone();
            async move { store.get(Table::Data, "P", &format!("S{n}")).await.unwrap() }
        };
        assert!(got(1).await.is_some() && got(2).await.is_some());
        // The one that failed wrote nothing, and the ones after it were not tried.
        assert!(got(3).await.is_none() && got(4).await.is_none());
        let c = store.get(Table::Data, "P", "C").await.unwrap().unwrap();
        assert_eq!(c.n("n"), Some(2));
        // A malformed transaction is refused as `transact` refuses it, after those before it.
        let (done, e) = store
            .transact_all(vec![vec![new(5)], vec![], vec![new(6)]])
            .await;
        assert_eq!(done, 1);
        assert!(matches!(e, Some(StoreError::Invalid(_))), "{e:?}");
        assert!(got(5).await.is_some() && got(6).await.is_none());
        let (done, e) = store.transact_all(vec![vec![new(7)], vec![new(8)]]).await;
        assert_eq!((done, e.is_none()), (2, true));
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_process_on_the_same_file_is_refused_before_it_opens_anything() {
        let dir = std::env::temp_dir().join(format!("kanri-lock-{}", crate::domain::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kanri.redb");
        let first = EmbeddedStore::open(&path).unwrap();
        let second = EmbeddedStore::open(&path);
        assert!(
            matches!(&second, Err(StoreError::Backend { message, .. }) if message.contains("in use")),
            "{:?}",
            second.err()
        );
        drop(first);
        assert!(EmbeddedStore::open(&path).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
