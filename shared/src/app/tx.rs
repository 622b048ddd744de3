//! A transaction under construction that remembers, for each conditional write, which domain error its
//! failed condition means (seat limit, e-mail taken, …), so a cancelled transaction answers precisely.

use crate::app::AppError;
use crate::ports::{ItemStore, StoreError, Write};

#[derive(Default)]
pub struct Tx {
    writes: Vec<Write>,
    on_fail: Vec<Option<Box<dyn FnOnce() -> AppError + Send>>>,
}

impl Tx {
    pub fn new() -> Self {
        Tx::default()
    }
    /// A write whose condition, if any, cannot fail in a correct program (a new random id, an audit entry).
    pub fn push(&mut self, w: Write) -> &mut Self {
        self.writes.push(w);
        self.on_fail.push(None);
        self
    }
    /// A write whose failed condition means `err`.
    pub fn guard(
        &mut self,
        w: Write,
        err: impl FnOnce() -> AppError + Send + 'static,
    ) -> &mut Self {
        self.writes.push(w);
        self.on_fail.push(Some(Box::new(err)));
        self
    }
    pub fn append(&mut self, other: Tx) -> &mut Self {
        self.writes.extend(other.writes);
        self.on_fail.extend(other.on_fail);
        self
    }
    pub fn len(&self) -> usize {
        self.writes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
    pub async fn commit(self, store: &dyn ItemStore) -> Result<(), AppError> {
        let Tx {
            writes,
            mut on_fail,
        } = self;
        match store.transact(writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index }) => {
                match on_fail.get_mut(index).and_then(Option::take) {
                    Some(err) => Err(err()),
                    None => Err(AppError::conflict(
                        "conflict",
                        "the item changed while this request ran; read it again and retry",
                    )),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Commits the transactions in order, as [`ItemStore::transact_all`] (the embedded store commits them
    /// together), until one fails: answers how many were committed and, for the one that failed, its
    /// error as [`Tx::commit`] gives it.
    pub async fn commit_all(txs: Vec<Tx>, store: &dyn ItemStore) -> (usize, Option<AppError>) {
        let (writes, mut on_fail): (Vec<_>, Vec<_>) =
            txs.into_iter().map(|t| (t.writes, t.on_fail)).unzip();
        match store.transact_all(writes).await {
            (done, None) => (done, None),
            (done, Some(StoreError::ConditionFailed { index })) => {
                let err = on_fail
                    .get_mut(done)
                    .and_then(|f| f.get_mut(index))
                    .and_then(Option::take);
                let e = match err {
                    Some(err) => err(),
                    None => AppError::conflict(
                        "conflict",
                        "the item changed while this request ran; read it again and retry",
                    ),
                };
                (done, Some(e))
            }
            (done, Some(e)) => (done, Some(e.into())),
        }
    }
}

/// Writes `items` in transactions of at most `per_tx` items, each built by `writes`. A transaction a condition
/// refuses is retried one item at a time, so one bad item costs only itself. Answers the items written and
/// the items whose own transaction was refused (for the caller to judge), each in the order given.
pub async fn in_chunks<'a, T>(
    store: &dyn ItemStore,
    items: &'a [T],
    per_tx: usize,
    writes: impl Fn(&[T]) -> Vec<Write>,
) -> Result<(Vec<&'a T>, Vec<&'a T>), StoreError> {
    let (mut written, mut refused) = (Vec::new(), Vec::new());
    for chunk in items.chunks(per_tx) {
        match store.transact(writes(chunk)).await {
            Ok(()) => written.extend(chunk),
            Err(StoreError::ConditionFailed { .. }) => {
                for item in chunk {
                    match store.transact(writes(std::slice::from_ref(item))).await {
                        Ok(()) => written.push(item),
                        Err(StoreError::ConditionFailed { .. }) => refused.push(item),
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((written, refused))
}
