//! The KMS key service: `GenerateDataKey` / `Decrypt` under the (multi-region) key, with the tenant context
//! as encryption context so a wrapped key only unwraps for its own tenant.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use secrecy::SecretBox;

use crate::ports::keys::{KeyError, KeyService, WrappedKey};

pub struct KmsKeyService {
    client: Client,
    key_id: String,
}

impl KmsKeyService {
    pub fn new(client: Client, key_id: String) -> Self {
        KmsKeyService { client, key_id }
    }
}

fn sdk_err<E>(op: &str, e: aws_sdk_kms::error::SdkError<E>) -> KeyError
where
    E: std::error::Error + aws_sdk_kms::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    if super::is_transient(&e) {
        return KeyError::Unavailable {
            message: format!("KMS {op}: {}", aws_sdk_kms::error::DisplayErrorContext(&e)),
            source: None,
        };
    }
    backend(op, aws_sdk_kms::error::DisplayErrorContext(e))
}

fn backend(op: &str, e: impl std::fmt::Display) -> KeyError {
    KeyError::Backend {
        message: format!("KMS {op}: {e}"),
        source: None,
    }
}

fn to_key(bytes: &[u8]) -> Result<SecretBox<[u8; 32]>, KeyError> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Undecryptable)?;
    Ok(SecretBox::new(Box::new(key)))
}

#[async_trait]
impl KeyService for KmsKeyService {
    async fn generate(&self, context: &str) -> Result<(SecretBox<[u8; 32]>, WrappedKey), KeyError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("kanri", context)
            .send()
            .await
            .map_err(|e| sdk_err("GenerateDataKey", e))?;
        let plain = out
            .plaintext
            .ok_or_else(|| backend("GenerateDataKey", "no plaintext returned"))?;
        let wrapped = out
            .ciphertext_blob
            .ok_or_else(|| backend("GenerateDataKey", "no ciphertext returned"))?;
        Ok((to_key(plain.as_ref())?, WrappedKey(wrapped.into_inner())))
    }

    async fn unwrap(
        &self,
        wrapped: &WrappedKey,
        context: &str,
    ) -> Result<SecretBox<[u8; 32]>, KeyError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.0.clone()))
            .encryption_context("kanri", context)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception())
                {
                    KeyError::Undecryptable
                } else {
                    sdk_err("Decrypt", e)
                }
            })?;
        let plain = out
            .plaintext
            .ok_or_else(|| backend("Decrypt", "no plaintext returned"))?;
        to_key(plain.as_ref())
    }
}
