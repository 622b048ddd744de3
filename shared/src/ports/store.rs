//! The item-store port: DynamoDB-shaped on purpose (partition key, sort key, get, prefix query with a cursor,
//! an atomic transaction of conditional writes, batched writes). The key layout lives above this port
//! (`app::layout`); each adapter only maps these few operations.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

/// Most items one transaction may hold (DynamoDB's `TransactWriteItems` limit).
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// Most items one batched write call sends (DynamoDB's `BatchWriteItem` limit); adapters chunk larger batches.
pub const BATCH_WRITE_CHUNK: usize = 25;
/// Most keys one batched read sends (DynamoDB's `BatchGetItem` limit); adapters chunk larger reads.
pub const BATCH_GET_CHUNK: usize = 100;

/// The tables: tenant data; the logs that outlive a tenant's purge; and the wrapped data keys, kept apart
/// and never backed up, so that deleting a tenant's key makes every backup copy of its data unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Data,
    Log,
    Keys,
}

/// An attribute value. Only the kinds the domain uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    S(String),
    N(i64),
    B(Vec<u8>),
    Bool(bool),
    /// A string set; never empty (an update that empties it removes the attribute, as DynamoDB does).
    Ss(BTreeSet<String>),
}

pub type Attrs = BTreeMap<String, Value>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Item {
            pk: pk.into(),
            sk: sk.into(),
            attrs: Attrs::new(),
        }
    }
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.attrs.insert(name.to_owned(), value);
        self
    }
    pub fn s(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Value::S(s)) => Some(s),
            _ => None,
        }
    }
    pub fn n(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Value::N(n)) => Some(*n),
            _ => None,
        }
    }
    pub fn b(&self, name: &str) -> Option<&[u8]> {
        match self.attrs.get(name) {
            Some(Value::B(b)) => Some(b),
            _ => None,
        }
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.attrs.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn ss(&self, name: &str) -> Vec<String> {
        match self.attrs.get(name) {
            Some(Value::Ss(set)) => set.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// A condition on the current state of one item, checked atomically with the write it guards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    Exists,
    NotExists,
    /// The attribute exists and equals the value.
    Eq(&'static str, Value),
    /// Both numeric attributes exist and the first is less than the second (seats: `used < limit`).
    LtAttr(&'static str, &'static str),
    /// The numeric attribute exists and is less than the value.
    Lt(&'static str, i64),
    /// The numeric attribute exists and is greater than the value (expiry: `expires_at > now`).
    Gt(&'static str, i64),
    /// The numeric attribute exists and is at least the value (`count >= 1` before decrementing).
    Ge(&'static str, i64),
    And(Vec<Cond>),
    Not(Box<Cond>),
}

/// One change of an update; an update of a missing item creates it (unless its condition says `Exists`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Set(&'static str, Value),
    Remove(&'static str),
    /// Adds to a numeric attribute (a missing one counts as 0).
    Add(&'static str, i64),
    SetInsert(&'static str, Vec<String>),
    SetDelete(&'static str, Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Put {
        table: Table,
        item: Item,
        cond: Option<Cond>,
    },
    Delete {
        table: Table,
        pk: String,
        sk: String,
        cond: Option<Cond>,
    },
    Update {
        table: Table,
        pk: String,
        sk: String,
        changes: Vec<Change>,
        cond: Option<Cond>,
    },
    Check {
        table: Table,
        pk: String,
        sk: String,
        cond: Cond,
    },
}

impl Write {
    pub fn put(table: Table, item: Item) -> Self {
        Write::Put {
            table,
            item,
            cond: None,
        }
    }
    pub fn put_new(table: Table, item: Item) -> Self {
        Write::Put {
            table,
            item,
            cond: Some(Cond::NotExists),
        }
    }
    pub fn delete(table: Table, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Write::Delete {
            table,
            pk: pk.into(),
            sk: sk.into(),
            cond: None,
        }
    }
    pub fn target(&self) -> (Table, &str, &str) {
        match self {
            Write::Put { table, item, .. } => (*table, &item.pk, &item.sk),
            Write::Delete { table, pk, sk, .. }
            | Write::Update { table, pk, sk, .. }
            | Write::Check { table, pk, sk, .. } => (*table, pk, sk),
        }
    }
    pub fn cond(&self) -> Option<&Cond> {
        match self {
            Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Update { cond, .. } => {
                cond.as_ref()
            }
            Write::Check { cond, .. } => Some(cond),
        }
    }
}

/// An unconditional write inside a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchWrite {
    Put(Item),
    Delete { pk: String, sk: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub table: Table,
    pub pk: String,
    pub sk_prefix: String,
    /// Exclusive start: the sort key of the last item of the previous page.
    pub after: Option<String>,
    pub limit: usize,
    /// Ascending sort-key order when true.
    pub forward: bool,
}

impl Query {
    pub fn prefix(table: Table, pk: impl Into<String>, sk_prefix: impl Into<String>) -> Self {
        Query {
            table,
            pk: pk.into(),
            sk_prefix: sk_prefix.into(),
            after: None,
            limit: 100,
            forward: true,
        }
    }
    pub fn after(mut self, after: Option<String>) -> Self {
        self.after = after;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Set when more items follow: the sort key to pass as `after` for the next page.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of the write at this index of the transaction (0 for a single write) did not hold;
    /// nothing was written.
    #[error("condition of write {index} failed")]
    ConditionFailed { index: usize },
    /// Another transaction kept touching the same items; retried with backoff and still failing.
    #[error("transaction conflict persisted after retries")]
    Conflict,
    /// The backend kept throttling; retried with backoff and still failing. Answered 503 with
    /// `Retry-After`: the request may succeed later.
    #[error("store throttled the request after retries")]
    Throttled,
    /// The backend cannot be reached or used right now (a timeout, a refused connection, a 5xx, an I/O
    /// error of the local disk); answered 503 with `Retry-After` like [`StoreError::Throttled`].
    #[error("store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The request itself is malformed (too many items, the same item twice, a key too long).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// Anything else from the backend; the source chain says what.
    #[error("store backend failed: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    pub fn backend(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl StoreError {
    pub fn unavailable(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source,
        }
    }

    /// Whether trying again later may succeed (throttling, an unreachable or failing backend).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Throttled | StoreError::Unavailable { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Strongly consistent read of one item.
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>>;
    /// Reads many items; missing ones are absent from the result (order not kept).
    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>>;
    /// Items of one partition whose sort key starts with a prefix, in sort-key order, one page.
    async fn query(&self, query: &Query) -> StoreResult<Page>;
    /// All writes or none; conditions are checked against the state before the transaction.
    /// At most [`MAX_TRANSACTION_ITEMS`], each item at most once.
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()>;
    /// Several transactions, each as [`ItemStore::transact`], applied in order until one fails: answers how
    /// many were committed and the error of the one that failed (the ones after it are not tried). Each
    /// one's conditions see the writes of those before it. A store may commit them together (the
    /// embedded one: one commit, one sync to disk, for all of them); whichever it does, a crash leaves a
    /// prefix of them committed, never a later one without an earlier one.
    async fn transact_all(&self, transactions: Vec<Vec<Write>>) -> (usize, Option<StoreError>) {
        let n = transactions.len();
        for (i, writes) in transactions.into_iter().enumerate() {
            if let Err(e) = self.transact(writes).await {
                return (i, Some(e));
            }
        }
        (n, None)
    }
    /// Unconditional puts and deletes on one table, any number; not atomic as a whole, but every write is
    /// applied (unprocessed ones are retried) or the call fails.
    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()>;
}

/// Checks the structural rules every adapter enforces the same way.
pub fn validate_transaction(writes: &[Write]) -> StoreResult<()> {
    if writes.is_empty() {
        return Err(StoreError::Invalid(
            "a transaction needs at least one write".into(),
        ));
    }
    if writes.len() > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_ITEMS} writes, got {}",
            writes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for w in writes {
        let (t, pk, sk) = w.target();
        if !seen.insert((t, pk, sk)) {
            return Err(StoreError::Invalid(format!(
                "item {pk}/{sk} appears twice in one transaction"
            )));
        }
    }
    Ok(())
}

/// Evaluates a condition against an item's current state (used by adapters that evaluate conditions
/// themselves, and by the conformance suite's expectations).
pub fn eval_cond(cond: &Cond, item: Option<&Item>) -> bool {
    match cond {
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::Eq(name, v) => item.and_then(|i| i.attrs.get(*name)) == Some(v),
        Cond::LtAttr(a, b) => match item {
            Some(i) => matches!((i.n(a), i.n(b)), (Some(x), Some(y)) if x < y),
            None => false,
        },
        Cond::Lt(name, v) => item.and_then(|i| i.n(name)).is_some_and(|x| x < *v),
        Cond::Gt(name, v) => item.and_then(|i| i.n(name)).is_some_and(|x| x > *v),
        Cond::Ge(name, v) => item.and_then(|i| i.n(name)).is_some_and(|x| x >= *v),
        Cond::And(all) => all.iter().all(|c| eval_cond(c, item)),
        Cond::Not(c) => !eval_cond(c, item),
    }
}

/// Applies update changes to an item (or creates it), with DynamoDB's semantics.
pub fn apply_changes(existing: Option<Item>, pk: &str, sk: &str, changes: &[Change]) -> Item {
    let mut item = existing.unwrap_or_else(|| Item::new(pk, sk));
    for change in changes {
        match change {
            Change::Set(name, v) => {
                item.attrs.insert((*name).to_owned(), v.clone());
            }
            Change::Remove(name) => {
                item.attrs.remove(*name);
            }
            Change::Add(name, delta) => {
                let cur = item.n(name).unwrap_or(0);
                item.attrs.insert((*name).to_owned(), Value::N(cur + delta));
            }
            Change::SetInsert(name, values) => {
                let mut set = match item.attrs.remove(*name) {
                    Some(Value::Ss(s)) => s,
                    _ => BTreeSet::new(),
                };
                set.extend(values.iter().cloned());
                if !set.is_empty() {
                    item.attrs.insert((*name).to_owned(), Value::Ss(set));
                }
            }
            Change::SetDelete(name, values) => {
                if let Some(Value::Ss(mut set)) = item.attrs.remove(*name) {
                    for v in values {
                        set.remove(v);
                    }
                    if !set.is_empty() {
                        item.attrs.insert((*name).to_owned(), Value::Ss(set));
                    }
                }
            }
        }
    }
    item
}
