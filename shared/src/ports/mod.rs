//! Small traits for the outside world, in domain terms. Adapters live in `crate::adapters`.

pub mod backups;
pub mod files;
pub mod keys;
pub mod mailer;
pub mod prefetch;
pub mod queue;
pub mod store;
pub mod web;

pub use backups::{Backup, BackupService};
pub use files::{FileError, FileStore, PresignedPut};
pub use keys::{KeyError, KeyService, WrappedKey};
pub use mailer::{MailError, Mailer, OutgoingMail};
pub use queue::{QueueError, Task, TaskQueue};
pub use store::{
    BatchWrite, Change, Cond, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Value,
    Write,
};
pub use web::{WebClient, WebError, WebResponse};

/// Put in the source chain of an adapter's error when the dependency cannot serve right now (throttled,
/// unreachable, timed out): the request is answered 503 `unavailable` with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Whether an error, or any error in its source chain, says that trying again later may succeed.
pub fn is_unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<Unavailable>()
            || e.downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_transient)
            || matches!(
                e.downcast_ref::<KeyError>(),
                Some(KeyError::Unavailable { .. })
            )
        {
            return true;
        }
        cur = e.source();
    }
    false
}
