//! The local key service: a 256-bit master key in the data dir (created at first start, mode 0600) wraps
//! each tenant's data key with AES-256-GCM, the context as associated data. Stands in for KMS.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretBox};

use crate::ports::keys::{KeyError, KeyService, WrappedKey};

pub struct LocalKeyService {
    master: SecretBox<[u8; 32]>,
}

impl LocalKeyService {
    /// Loads `master.key` from the data dir, creating it on first use.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        let master = crate::util::load_or_create_key(&dir.join("master.key"))?;
        Ok(LocalKeyService {
            master: SecretBox::new(Box::new(master)),
        })
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.master.expose_secret().into())
    }
}

#[async_trait]
impl KeyService for LocalKeyService {
    async fn generate(&self, context: &str) -> Result<(SecretBox<[u8; 32]>, WrappedKey), KeyError> {
        let mut key = Box::new([0u8; 32]);
        OsRng.fill_bytes(key.as_mut());
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.as_ref(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Backend {
                message: "local key wrap failed".into(),
                source: None,
            })?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok((SecretBox::new(key), WrappedKey(wrapped)))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &str,
    ) -> Result<SecretBox<[u8; 32]>, KeyError> {
        let (nonce, sealed) = wrapped
            .0
            .split_at_checked(12)
            .ok_or(KeyError::Undecryptable)?;
        let plain = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Undecryptable)?;
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Undecryptable)?;
        Ok(SecretBox::new(Box::new(key)))
    }
}
