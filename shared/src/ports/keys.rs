//! The key-service port: makes and unwraps per-tenant data keys (envelope encryption). KMS in AWS, a local
//! master key in the data dir for the embedded backend.

use async_trait::async_trait;
use secrecy::SecretBox;

/// A data key as stored: encrypted by the key service, bound to its context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key service failed: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("the wrapped key does not decrypt under this context")]
    Undecryptable,
    /// The key service throttled or cannot be reached right now (503 with `Retry-After`).
    #[error("key service unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

#[async_trait]
pub trait KeyService: Send + Sync {
    /// A new random 256-bit data key, returned in plain and wrapped. `context` is bound to the wrapping
    /// (KMS encryption context / AES-GCM associated data), so a key cannot be unwrapped for another tenant.
    async fn generate(&self, context: &str) -> Result<(SecretBox<[u8; 32]>, WrappedKey), KeyError>;
    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &str,
    ) -> Result<SecretBox<[u8; 32]>, KeyError>;
}
