//! The items one request's session check read on the handler's behalf, and the store decorator that hands
//! them to the handler instead of reading them again (issue 19: a warm single-user read in one request).
//!
//! The session check (`app::principal::authenticate_with`) reads, in its one BatchGetItem, the items the
//! route will read by key (the user, group, role… its path names, the tenant's SSO configuration), besides
//! the session, the caller and the tenant item. The HTTP layer runs the rest of the request [`within`]
//! those reads; [`PrefetchingStore`], which stands in front of the real store in every process, then:
//! - serves each prefetched key (present or known absent) ONCE, to the first `get` or `batch_get` of it, and
//!   delegates every later read of it: a handler that reads an item twice reads it again the second time;
//! - forgets a key as soon as this request writes it (`transact`, whether it succeeds or not, and
//!   `batch_write`), before the write: a read after the request's own write reads the store;
//! - outside a request that was given reads (workers, jobs, tasks, tools, a task spawned by a handler) it
//!   only delegates.
//!
//! Nothing outlives the request: the reads are a value of the request's task, dropped with it, so a role
//! change, a revocation, a disabling or a deletion is seen by the very next request. A served item is what
//! the store held when the session check read it, a few milliseconds earlier, with the same strong
//! consistency; writes stay conditional on the store's state, so a read that earlier changes nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::store::{
    BatchWrite, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Write,
};

/// Items of the data table read for a request, by (partition key, sort key); `None` when the item was
/// found absent.
#[derive(Debug, Default)]
pub struct Prefetched(HashMap<(String, String), Option<Item>>);

impl Prefetched {
    /// Records what the read of `pk`/`sk` found.
    pub fn insert(&mut self, pk: String, sk: String, item: Option<Item>) {
        self.0.insert((pk, sk), item);
    }
}

tokio::task_local! {
    static READS: RefCell<Prefetched>;
}

/// Runs `f`, one request's handling, with `reads` served by [`PrefetchingStore`] (each once); they are
/// dropped when `f` ends.
pub async fn within<F: Future>(reads: Prefetched, f: F) -> F::Output {
    READS.scope(RefCell::new(reads), f).await
}

/// The prefetched read of `pk`/`sk`, taken (served once): `Some(found)` when this request holds it.
fn take(table: Table, pk: &str, sk: &str) -> Option<Option<Item>> {
    if table != Table::Data {
        return None;
    }
    READS
        .try_with(|r| r.borrow_mut().0.remove(&(pk.to_owned(), sk.to_owned())))
        .ok()
        .flatten()
}

/// Forgets the reads of keys about to be written.
fn forget<'a>(keys: impl IntoIterator<Item = (Table, &'a str, &'a str)>) {
    let _ = READS.try_with(|r| {
        let mut r = r.borrow_mut();
        if r.0.is_empty() {
            return;
        }
        for (table, pk, sk) in keys {
            if table == Table::Data {
                r.0.remove(&(pk.to_owned(), sk.to_owned()));
            }
        }
    });
}

/// The store every process uses: the real one, behind the request's prefetched reads (see the module).
pub struct PrefetchingStore(pub Arc<dyn ItemStore>);

#[async_trait]
impl ItemStore for PrefetchingStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        match take(table, pk, sk) {
            Some(found) => Ok(found),
            None => self.0.get(table, pk, sk).await,
        }
    }

    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        let mut rest = Vec::new();
        for (pk, sk) in keys {
            match take(table, pk, sk) {
                Some(item) => found.extend(item),
                None => rest.push((pk.clone(), sk.clone())),
            }
        }
        if !rest.is_empty() {
            found.extend(self.0.batch_get(table, &rest).await?);
        }
        Ok(found)
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.0.query(query).await
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        forget(writes.iter().map(Write::target));
        self.0.transact(writes).await
    }

    async fn transact_all(&self, transactions: Vec<Vec<Write>>) -> (usize, Option<StoreError>) {
        forget(transactions.iter().flatten().map(Write::target));
        self.0.transact_all(transactions).await
    }

    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
        forget(writes.iter().map(|w| match w {
            BatchWrite::Put(item) => (table, item.pk.as_str(), item.sk.as_str()),
            BatchWrite::Delete { pk, sk } => (table, pk.as_str(), sk.as_str()),
        }));
        self.0.batch_write(table, writes).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::ports::store::{Value, apply_changes};

    /// A store in memory that counts the reads it is sent.
    #[derive(Default)]
    struct Counted {
        items: Mutex<BTreeMap<(String, String), Item>>,
        reads: Mutex<usize>,
        batches: Mutex<usize>,
    }

    #[async_trait]
    impl ItemStore for Counted {
        async fn get(&self, _: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
            *self.reads.lock().unwrap() += 1;
            Ok(self
                .items
                .lock()
                .unwrap()
                .get(&(pk.to_owned(), sk.to_owned()))
                .cloned())
        }
        async fn batch_get(&self, _: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
            *self.reads.lock().unwrap() += 1;
            let items = self.items.lock().unwrap();
            Ok(keys.iter().filter_map(|k| items.get(k).cloned()).collect())
        }
        async fn query(&self, _: &Query) -> StoreResult<Page> {
            Ok(Page::default())
        }
        async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
            let mut items = self.items.lock().unwrap();
            for w in writes {
                match w {
                    Write::Put { item, .. } => {
                        items.insert((item.pk.clone(), item.sk.clone()), item);
                    }
                    Write::Update {
                        pk, sk, changes, ..
                    } => {
                        let key = (pk.clone(), sk.clone());
                        let item = apply_changes(items.remove(&key), &pk, &sk, &changes);
                        items.insert(key, item);
                    }
                    Write::Delete { pk, sk, .. } => {
                        items.remove(&(pk, sk));
                    }
                    Write::Check { .. } => {}
                }
            }
            Ok(())
        }
        async fn transact_all(&self, all: Vec<Vec<Write>>) -> (usize, Option<StoreError>) {
            *self.batches.lock().unwrap() += 1;
            let n = all.len();
            for writes in all {
                self.transact(writes).await.unwrap();
            }
            (n, None)
        }
        async fn batch_write(&self, _: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
            let mut items = self.items.lock().unwrap();
            for w in writes {
                match w {
                    BatchWrite::Put(item) => {
                        items.insert((item.pk.clone(), item.sk.clone()), item);
                    }
                    BatchWrite::Delete { pk, sk } => {
                        items.remove(&(pk, sk));
                    }
                }
            }
            Ok(())
        }
    }

    fn item(sk: &str, name: &str) -> Item {
        Item::new("T#1", sk).with("name", Value::S(name.into()))
    }

    #[tokio::test]
    async fn a_read_is_served_once_and_a_written_key_is_read_again() {
        let real = Arc::new(Counted::default());
        let store = PrefetchingStore(real.clone());
        real.transact(vec![
            Write::put(Table::Data, item("A", "stored a")),
            Write::put(Table::Data, item("B", "stored b")),
        ])
        .await
        .unwrap();
        let mut reads = Prefetched::default();
        // What the session check read (older than the store now holds, to see which answers).
        reads.insert("T#1".into(), "A".into(), Some(item("A", "read a")));
        reads.insert("T#1".into(), "B".into(), Some(item("B", "read b")));
        reads.insert("T#1".into(), "GONE".into(), None);
        within(reads, async {
            let name = |i: Option<Item>| i.and_then(|i| i.s("name").map(str::to_owned));
            // Served from the reads, without a request; then from the store.
            let a = store.get(Table::Data, "T#1", "A").await.unwrap();
            assert_eq!(name(a).as_deref(), Some("read a"));
            assert_eq!(*real.reads.lock().unwrap(), 0);
            assert!(
                store
                    .get(Table::Data, "T#1", "GONE")
                    .await
                    .unwrap()
                    .is_none()
            );
            assert_eq!(*real.reads.lock().unwrap(), 0);
            let a = store.get(Table::Data, "T#1", "A").await.unwrap();
            assert_eq!(name(a).as_deref(), Some("stored a"));
            assert_eq!(*real.reads.lock().unwrap(), 1);
            // The request's own write of B: the next read of B sees it.
            store
                .transact(vec![Write::put(Table::Data, item("B", "written b"))])
                .await
                .unwrap();
            let b = store.get(Table::Data, "T#1", "B").await.unwrap();
            assert_eq!(name(b).as_deref(), Some("written b"));
            // Another table's key of the same name is never served from the reads.
            assert!(store.get(Table::Log, "T#1", "C").await.unwrap().is_none());
        })
        .await;
        // Outside the request: the store only.
        let before = *real.reads.lock().unwrap();
        let b = store.get(Table::Data, "T#1", "B").await.unwrap().unwrap();
        assert_eq!(b.s("name"), Some("written b"));
        assert_eq!(*real.reads.lock().unwrap(), before + 1);
    }

    #[tokio::test]
    async fn a_batch_read_sends_only_what_was_not_prefetched() {
        let real = Arc::new(Counted::default());
        let store = PrefetchingStore(real.clone());
        real.batch_write(Table::Data, vec![BatchWrite::Put(item("C", "stored c"))])
            .await
            .unwrap();
        let mut reads = Prefetched::default();
        reads.insert("T#1".into(), "A".into(), Some(item("A", "read a")));
        reads.insert("T#1".into(), "B".into(), None);
        reads.insert("T#1".into(), "D".into(), Some(item("D", "read d")));
        within(reads, async {
            let key = |sk: &str| ("T#1".to_owned(), sk.to_owned());
            let got = store
                .batch_get(Table::Data, &[key("A"), key("B")])
                .await
                .unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(*real.reads.lock().unwrap(), 0);
            let got = store
                .batch_get(Table::Data, &[key("A"), key("C")])
                .await
                .unwrap();
            assert_eq!(
                got.len(),
                1,
                "A is served once, then read: it is not stored"
            );
            assert_eq!(got[0].s("name"), Some("stored c"));
            assert_eq!(*real.reads.lock().unwrap(), 1);
            // A batched delete forgets D.
            store
                .batch_write(
                    Table::Data,
                    vec![BatchWrite::Delete {
                        pk: "T#1".into(),
                        sk: "D".into(),
                    }],
                )
                .await
                .unwrap();
            assert!(store.get(Table::Data, "T#1", "D").await.unwrap().is_none());
            assert_eq!(*real.reads.lock().unwrap(), 2);
        })
        .await;
    }

    #[tokio::test]
    async fn transactions_committed_together_reach_the_store_as_one_call_and_are_read_again() {
        let real = Arc::new(Counted::default());
        let store = PrefetchingStore(real.clone());
        let mut reads = Prefetched::default();
        reads.insert("T#1".into(), "A".into(), Some(item("A", "read a")));
        within(reads, async {
            let (done, err) = store
                .transact_all(vec![
                    vec![Write::put(Table::Data, item("A", "written a"))],
                    vec![Write::put(Table::Data, item("E", "written e"))],
                ])
                .await;
            assert_eq!((done, err.is_none()), (2, true));
            // The store's own batching is kept (the embedded store commits them as one).
            assert_eq!(*real.batches.lock().unwrap(), 1);
            let a = store.get(Table::Data, "T#1", "A").await.unwrap().unwrap();
            assert_eq!(a.s("name"), Some("written a"));
        })
        .await;
    }
}
