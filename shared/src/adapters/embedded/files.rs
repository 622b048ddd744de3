//! Uploaded files on local disk, under `$KANRI_DATA_DIR/files/`. The app seals the bytes under the tenant
//! key before they get here. The "presigned" URLs point at the local server's `/files/...` route and carry
//! an HMAC-SHA256 signature over method, key, expiry, size and content type, under a key kept in the data
//! dir, so they behave like S3's: exact object, exact size and type, until they expire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox};

use crate::ports::{FileError, FileStore, PresignedPut};
use crate::util::url_encode;

pub struct LocalFiles {
    dir: PathBuf,
    base_url: String,
    key: SecretBox<[u8; 32]>,
}

/// What a signed local URL says, read back from its query.
pub struct Signed<'a> {
    pub op: &'a str,
    pub key: &'a str,
    pub expires: i64,
    /// `put`: the size and content type the URL was issued for; `get`: the file name to download as.
    pub size: Option<u64>,
    pub content_type: Option<&'a str>,
    pub name: Option<&'a str>,
    pub signature: &'a str,
}

fn io(what: &str, e: std::io::Error) -> FileError {
    FileError {
        message: format!("{what}: {e}"),
        exists: e.kind() == std::io::ErrorKind::AlreadyExists,
        source: Some(Box::new(e)),
    }
}

impl LocalFiles {
    /// Opens (creating) the files dir and the URL-signing key in `data_dir`.
    pub fn open(data_dir: &Path, base_url: String) -> std::io::Result<Self> {
        let dir = data_dir.join("files");
        std::fs::create_dir_all(&dir)?;
        let key = crate::util::load_or_create_key(&data_dir.join("file-urls.key"))?;
        Ok(LocalFiles {
            dir,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: SecretBox::new(Box::new(key)),
        })
    }

    fn sign(&self, s: &Signed<'_>) -> String {
        let size = s.size.map(|n| n.to_string()).unwrap_or_default();
        let expires = s.expires.to_string();
        let parts = [
            s.op,
            s.key,
            &expires,
            &size,
            s.content_type.unwrap_or_default(),
            s.name.unwrap_or_default(),
        ];
        crate::util::hex(&crate::crypto::hmac_parts(self.key.expose_secret(), &parts))
    }

    /// Whether a URL's signature is ours and it has not expired at `now` (unix seconds).
    pub fn verify(&self, s: &Signed<'_>, now: i64) -> bool {
        let want = self.sign(s);
        // Constant-time comparison of the hex strings.
        let same = want.len() == s.signature.len()
            && want
                .bytes()
                .zip(s.signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        same && now <= s.expires
    }

    fn path(&self, key: &str) -> Result<PathBuf, FileError> {
        let ok = !key.is_empty()
            && key
                .split('/')
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'));
        if !ok {
            return Err(FileError::new(format!("invalid file key {key:?}")));
        }
        Ok(self.dir.join(key))
    }

    fn expires(expires_in: Duration) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + expires_in.as_secs() as i64
    }
}

#[async_trait]
impl FileStore for LocalFiles {
    fn sealed_by_app(&self) -> bool {
        true
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, FileError> {
        self.path(key)?;
        let expires = Self::expires(expires_in);
        let signature = self.sign(&Signed {
            op: "put",
            key,
            expires,
            size: Some(size),
            content_type: Some(content_type),
            name: None,
            signature: "",
        });
        let url = format!(
            "{}/files/{key}?op=put&expires={expires}&size={size}&type={}&sig={signature}",
            self.base_url,
            url_encode(content_type)
        );
        let headers = BTreeMap::from([("content-type".to_owned(), content_type.to_owned())]);
        Ok(PresignedPut { url, headers })
    }

    async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<String, FileError> {
        self.path(key)?;
        let expires = Self::expires(expires_in);
        let signature = self.sign(&Signed {
            op: "get",
            key,
            expires,
            size: None,
            content_type: None,
            name: Some(filename),
            signature: "",
        });
        Ok(format!(
            "{}/files/{key}?op=get&expires={expires}&name={}&sig={signature}",
            self.base_url,
            url_encode(filename)
        ))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, FileError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("stat", e)),
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, FileError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", e)),
        }
    }

    async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io("mkdir", e))?;
        }
        // Write aside, then link into place: a reader never sees half a file, and the link fails when the
        // file exists (two PUTs racing on one URL store one file; a stored file is never replaced).
        let tmp = path.with_extension(format!("part-{}", crate::util::random_u32()));
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| io("write", e))?;
        let linked = tokio::fs::hard_link(&tmp, &path).await;
        let _ = tokio::fs::remove_file(&tmp).await;
        linked.map_err(|e| io("link", e))
    }

    async fn delete(&self, key: &str) -> Result<(), FileError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", e)),
        }
    }
}
