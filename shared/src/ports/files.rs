//! The file store port: uploaded files (S3 with SSE-KMS in AWS, files on disk locally). Clients move the
//! bytes themselves, through presigned URLs; the app reads import files and deletes what is no longer needed.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

/// A URL the client sends the bytes to, with the headers it must send along (they are signed).
#[derive(Clone, Debug)]
pub struct PresignedPut {
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("file store: {message}")]
pub struct FileError {
    pub message: String,
    /// A create-only write found the object there already.
    pub exists: bool,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl FileError {
    pub fn new(message: impl Into<String>) -> Self {
        FileError {
            message: message.into(),
            exists: false,
            source: None,
        }
    }
}

#[async_trait]
pub trait FileStore: Send + Sync {
    /// Whether the app seals the bytes under the tenant key itself (the local store) or the store
    /// encrypts at rest (S3, SSE-KMS). `read` returns what was written either way.
    fn sealed_by_app(&self) -> bool;
    /// A URL that accepts exactly this object: this content type and this many bytes, until it expires, and
    /// only while the object does not exist (a stored file is never replaced through it).
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, FileError>;
    /// A short-lived URL that downloads the object under its file name.
    async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<String, FileError>;
    /// The stored size, or `None` when nothing was uploaded yet.
    async fn size(&self, key: &str) -> Result<Option<u64>, FileError>;
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, FileError>;
    /// Creates the object; one that exists already is left as it is (an error with `exists`).
    async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError>;
    /// Deleting what does not exist is not an error.
    async fn delete(&self, key: &str) -> Result<(), FileError>;
}
