//! The embedded item store: redb on disk. One redb write transaction per store transaction gives the same
//! all-or-nothing, condition-checked semantics as DynamoDB's `TransactWriteItems`; redb serialises writers.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

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

fn err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::backend("embedded store", e.into())
}

fn check_key(pk: &str, sk: &str) -> StoreResult<()> {
    if pk.is_empty() || pk.contains('\0') || sk.contains('\0') {
        return Err(StoreError::Invalid(
            "keys must be non-empty and free of NUL".into(),
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    /// Opens (or creates) the database file; the data survives restarts.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let db = Database::create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(DATA).map_err(err)?;
            txn.open_table(LOG).map_err(err)?;
            txn.open_table(KEYS).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(EmbeddedStore { db: Arc::new(db) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::backend("embedded store task", e))?
    }

    /// Every item of a table, in key order (backups and their tests).
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
}

#[async_trait]
impl ItemStore for EmbeddedStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        check_key(pk, sk)?;
        let k = key(pk, sk);
        let db = self.db.clone();
        // Reads are short and never wait on writers (MVCC), so they run inline.
        let txn = db.begin_read().map_err(err)?;
        let t = txn.open_table(def(table)).map_err(err)?;
        match t.get(k.as_slice()).map_err(err)? {
            Some(v) => Ok(Some(to_item(&k, v.value())?)),
            None => Ok(None),
        }
    }

    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(def(table)).map_err(err)?;
        let mut out = Vec::with_capacity(keys.len());
        for (pk, sk) in keys {
            check_key(pk, sk)?;
            let k = key(pk, sk);
            if let Some(v) = t.get(k.as_slice()).map_err(err)? {
                out.push(to_item(&k, v.value())?);
            }
        }
        Ok(out)
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        check_key(&q.pk, &q.sk_prefix)?;
        let limit = q.limit.max(1);
        let prefix = key(&q.pk, &q.sk_prefix);
        let txn = self.db.begin_read().map_err(err)?;
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
                // Check every condition against the state before the transaction, then apply.
                for (index, w) in writes.iter().enumerate() {
                    if let Some(cond) = w.cond() {
                        let (table, pk, sk) = w.target();
                        let t = txn.open_table(def(table)).map_err(err)?;
                        let k = key(pk, sk);
                        let current = match t.get(k.as_slice()).map_err(err)? {
                            Some(v) => Some(to_item(&k, v.value())?),
                            None => None,
                        };
                        if !eval_cond(cond, current.as_ref()) {
                            return Err(StoreError::ConditionFailed { index });
                        }
                    }
                }
                for w in writes {
                    let (table, pk, sk) = w.target();
                    let k = key(pk, sk);
                    let mut t = txn.open_table(def(table)).map_err(err)?;
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
                            let current = match t.get(k.as_slice()).map_err(err)? {
                                Some(v) => Some(to_item(&k, v.value())?),
                                None => None,
                            };
                            let item = apply_changes(current, &pk, &sk, &changes);
                            t.insert(k.as_slice(), codec::encode(&item.attrs).as_slice())
                                .map_err(err)?;
                        }
                        Write::Check { .. } => {}
                    }
                }
            }
            // Dropping an uncommitted transaction (the early returns above) aborts it: nothing is written.
            txn.commit().map_err(err)?;
            Ok(())
        })
        .await
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
