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
}
