//! Adapters for one laptop and no AWS: redb on disk, a local master key, an `.eml` outbox, a task queue
//! kept in the store, files on disk.

pub mod backups;
mod codec;
pub mod files;
pub mod keys;
pub mod outbox;
pub mod queue;
pub mod store;

pub use backups::EmbeddedBackups;
pub use files::LocalFiles;
pub use keys::LocalKeyService;
pub use outbox::Outbox;
pub use queue::LocalQueue;
pub use store::EmbeddedStore;
