//! Uploaded files in S3. Every object is written with SSE-KMS under the data key (the presigned PUT signs
//! the encryption headers, so a client cannot leave them out, and the bucket policy refuses puts without
//! them); presigned PUTs also sign content type and length, which is how a size limit holds without
//! presigned POST. They sign `If-None-Match: *` too: a URL can create its object, never replace it (the
//! bucket policy refuses puts without it).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::ports::{FileError, FileStore, PresignedPut};
use crate::util::url_encode;

pub struct S3Files {
    client: Client,
    bucket: String,
    kms_key_id: String,
}

fn err(what: &str, e: impl std::error::Error) -> FileError {
    FileError::new(format!("S3 {what}: {}", DisplayErrorContext(e)))
}

fn sdk_err<E>(what: &str, e: aws_sdk_s3::error::SdkError<E>) -> FileError
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    let message = format!("S3 {what}: {}", DisplayErrorContext(&e));
    let source: Option<Box<dyn std::error::Error + Send + Sync>> =
        super::is_transient(&e).then(|| Box::new(crate::ports::Unavailable(message.clone())) as _);
    FileError {
        message,
        exists: false,
        source,
    }
}

impl S3Files {
    pub fn new(client: Client, bucket: String, kms_key_id: String) -> Self {
        S3Files {
            client,
            bucket,
            kms_key_id,
        }
    }

    fn presigning(expires_in: Duration) -> Result<PresigningConfig, FileError> {
        PresigningConfig::expires_in(expires_in).map_err(|e| err("presigning", e))
    }
}

#[async_trait]
impl FileStore for S3Files {
    fn sealed_by_app(&self) -> bool {
        false
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedPut, FileError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(size).map_err(|_| FileError::new("size too large"))?)
            // Signed, so the client must send it: S3 refuses the PUT once the object exists (412).
            .if_none_match("*")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_id)
            .presigned(Self::presigning(expires_in)?)
            .await
            .map_err(|e| err("presign PutObject", e))?;
        let headers: BTreeMap<String, String> = req
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: req.uri().to_owned(),
            headers,
        })
    }

    async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        expires_in: Duration,
    ) -> Result<String, FileError> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!(
                "attachment; filename*=UTF-8''{}",
                url_encode(filename)
            ))
            .presigned(Self::presigning(expires_in)?)
            .await
            .map_err(|e| err("presign GetObject", e))?;
        Ok(req.uri().to_owned())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, FileError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_err("HeadObject", e)),
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, FileError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| err("reading GetObject", e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_err("GetObject", e)),
        }
    }

    async fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), FileError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&self.kms_key_id)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_err("PutObject", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), FileError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_err("DeleteObject", e))?;
        Ok(())
    }
}
