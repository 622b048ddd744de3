//! Adapters for AWS: DynamoDB, KMS, SES. Nothing outside this module names an SDK type.

pub mod dynamo;
pub mod kms;
pub mod ses;

pub use dynamo::DynamoStore;
pub use kms::KmsKeyService;
pub use ses::SesMailer;

/// The SDK configuration from the standard AWS settings (`AWS_ENDPOINT_URL` points every client at a local
/// emulator). Loading is cheap: credentials are resolved on first use, not here.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
