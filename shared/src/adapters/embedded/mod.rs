//! Adapters for one laptop and no AWS: redb on disk, a local master key, an `.eml` outbox, an in-process
//! task queue.

pub mod backups;
mod codec;
pub mod keys;
pub mod outbox;
pub mod queue;
pub mod store;

pub use backups::EmbeddedBackups;
pub use keys::LocalKeyService;
pub use outbox::Outbox;
pub use queue::InProcessQueue;
pub use store::EmbeddedStore;
