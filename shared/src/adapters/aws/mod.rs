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

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// The time limits of every AWS call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to the endpoint (DNS, TCP, TLS).
    pub connect: Duration,
    /// One attempt, from sending to the whole response.
    pub attempt: Duration,
    /// The call with its retries.
    pub operation: Duration,
}

impl Timeouts {
    /// AWS: 3 s to connect, 5 s per attempt, 8 s per call with its retries, well inside the API
    /// functions' 10-second timeout (template.yaml), so a hung dependency is answered 503 `unavailable`
    /// by the function, not cut off by Lambda.
    pub const AWS: Timeouts = Timeouts {
        connect: Duration::from_secs(3),
        attempt: Duration::from_secs(5),
        operation: Duration::from_secs(8),
    };
    /// An emulator named explicitly (tests, benchmarks): moto serves one request at a time, so under a
    /// parallel test run a request may wait in its line for many seconds.
    pub const EMULATOR: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        attempt: Duration::from_secs(120),
        operation: Duration::from_secs(180),
    };

    fn config(self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// Error codes AWS services answer when they throttle.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// Whether an AWS call may succeed if tried again later: it timed out, the service could not be reached
/// or answered a 5xx, or it throttled. These become 503 `unavailable` with `Retry-After`.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || s.err().code().is_some_and(|c| THROTTLING.contains(&c))
        }
        _ => false,
    }
}

/// The SDK configuration from the standard AWS settings (`AWS_ENDPOINT_URL` points every client at a local
/// emulator) with [`Timeouts::AWS`], or for an explicit emulator endpoint with dummy credentials (tests)
/// with [`Timeouts::EMULATOR`]. Credentials are resolved on first use, not here.
pub async fn sdk_config(emulator: Option<&str>) -> aws_config::SdkConfig {
    let timeouts = match emulator {
        Some(_) => Timeouts::EMULATOR,
        None => Timeouts::AWS,
    };
    sdk_config_with(emulator, timeouts).await
}

/// [`sdk_config`] with the given timeouts.
pub async fn sdk_config_with(emulator: Option<&str>, timeouts: Timeouts) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts.config());
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
