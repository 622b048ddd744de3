//! Adapters for AWS: DynamoDB, KMS, SES, SQS, S3. Nothing outside this module names an SDK type.

pub mod backups;
pub mod dynamo;
pub mod kms;
pub mod metrics;
pub mod s3;
pub mod ses;
pub mod sqs;

pub use backups::DynamoBackups;
pub use dynamo::DynamoStore;
pub use kms::KmsKeyService;
pub use s3::S3Files;
pub use ses::SesMailer;
pub use sqs::SqsQueue;

/// The SDK configuration from the standard AWS settings (`AWS_ENDPOINT_URL` points every client at a local
/// emulator), or for an explicit emulator endpoint with dummy credentials (tests). Credentials are resolved
/// on first use, not here.
pub async fn sdk_config(emulator: Option<&str>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    match emulator {
        None => loader.load().await,
        Some(url) => {
            loader
                .endpoint_url(url)
                .region(aws_config::Region::new("ap-northeast-1"))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "emulator",
                ))
                .load()
                .await
        }
    }
}
