//! Adapters for one laptop and no AWS: redb on disk, a local master key, an `.eml` outbox.

pub mod backups;
mod codec;
pub mod keys;
pub mod outbox;
pub mod store;

pub use backups::EmbeddedBackups;
pub use keys::LocalKeyService;
pub use outbox::Outbox;
pub use store::EmbeddedStore;
