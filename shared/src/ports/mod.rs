//! Small traits for the outside world, in domain terms. Adapters live in `crate::adapters`.

pub mod backups;
pub mod files;
pub mod keys;
pub mod mailer;
pub mod queue;
pub mod store;

pub use backups::{Backup, BackupService};
pub use files::{FileError, FileStore, PresignedPut};
pub use keys::{KeyError, KeyService, WrappedKey};
pub use mailer::{MailError, Mailer, OutgoingMail};
pub use queue::{QueueError, Task, TaskQueue};
pub use store::{
    BatchWrite, Change, Cond, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Value,
    Write,
};
