//! Counting AWS requests (for `make bench`): an SDK interceptor that counts every request put on the wire,
//! per service and operation, in one process-wide map. Retries count as requests, as AWS bills them.
//!
//! Off unless `KANRI_COUNT_AWS_REQUESTS=1`: then [`clients`] builds the clients exactly as
//! `Client::new(&sdk)` does, with no interceptor. Read the counts with [`snapshot`] and subtract two
//! snapshots to get what one piece of work cost; [`waited`] is the time spent waiting for the responses.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

/// The environment variable that turns counting on.
pub const ENV: &str = "KANRI_COUNT_AWS_REQUESTS";

/// (service, operation) → requests sent, e.g. `("DynamoDB", "GetItem")`.
pub type Counts = BTreeMap<(String, String), u64>;

fn counts() -> &'static Mutex<Counts> {
    static COUNTS: OnceLock<Mutex<Counts>> = OnceLock::new();
    COUNTS.get_or_init(|| Mutex::new(Counts::new()))
}

/// Time spent waiting for AWS (send to response headers), summed over every counted request.
fn waited_total() -> &'static Mutex<Duration> {
    static WAITED: OnceLock<Mutex<Duration>> = OnceLock::new();
    WAITED.get_or_init(|| Mutex::new(Duration::ZERO))
}

/// The time this process has waited for AWS responses so far (counted requests only).
pub fn waited() -> Duration {
    waited_total().lock().map(|d| *d).unwrap_or_default()
}

/// Whether this process counts AWS requests (read once).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var(ENV).is_ok_and(|v| v == "1"))
}

/// The requests counted so far in this process.
pub fn snapshot() -> Counts {
    counts().lock().map(|c| c.clone()).unwrap_or_default()
}

/// What was sent between two snapshots (operations with no request left out).
pub fn delta(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn record(service: &str, operation: String) {
    if let Ok(mut c) = counts().lock() {
        *c.entry((service.to_owned(), operation)).or_insert(0) += 1;
    }
}

/// The operation of a request: the `X-Amz-Target` header of the JSON protocols (DynamoDB, KMS), or the
/// method and path of the REST protocol (SES v2).
fn operation(service: &str, target: Option<&str>, method: &str, uri: &str) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_owned();
    }
    let path = uri
        .split_once("://")
        .map_or(uri, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = path.split('?').next().unwrap_or(path);
    match (service, method, path) {
        ("SES", "POST", "/v2/email/outbound-emails") => "SendEmail".to_owned(),
        _ => format!("{method} {path}"),
    }
}

#[derive(Debug)]
struct Counter {
    service: &'static str,
    /// When the requests in flight were sent, oldest first (the request itself is gone once sent, so a
    /// response is matched to the oldest; exact for one request at a time, approximate when they overlap).
    sent: Mutex<VecDeque<(String, Instant)>>,
}

impl Counter {
    fn new(service: &'static str) -> Self {
        Counter {
            service,
            sent: Mutex::new(VecDeque::new()),
        }
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "KanriRequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let req = context.request();
        // Presigning runs the interceptors up to here but sends nothing: a presigned URL is not a request.
        if req.uri().contains("X-Amz-Signature=") {
            return Ok(());
        }
        let op = operation(
            self.service,
            req.headers().get("x-amz-target"),
            req.method(),
            req.uri(),
        );
        if let Ok(mut q) = self.sent.lock() {
            q.push_back((op.clone(), Instant::now()));
        }
        record(self.service, op);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let sent = self.sent.lock().ok().and_then(|mut q| q.pop_front());
        if let Some((op, sent)) = sent {
            let took = sent.elapsed();
            if let Ok(mut w) = waited_total().lock() {
                *w += took;
            }
            // For processes that cannot be asked (Lambda binaries under `make bench`): one debug line per
            // request, shown with RUST_LOG=kanri_aws=debug.
            tracing::debug!(
                target: "kanri_aws",
                service = self.service,
                operation = %op,
                ms = took.as_secs_f64() * 1000.0,
                "aws request"
            );
        }
        Ok(())
    }
}

/// The DynamoDB, KMS and SES v2 clients of one SDK configuration, counting their requests when
/// [`enabled`]; otherwise the same clients `Client::new(sdk)` builds.
pub fn clients(
    sdk: &aws_config::SdkConfig,
) -> (
    aws_sdk_dynamodb::Client,
    aws_sdk_kms::Client,
    aws_sdk_sesv2::Client,
) {
    if !enabled() {
        return (
            aws_sdk_dynamodb::Client::new(sdk),
            aws_sdk_kms::Client::new(sdk),
            aws_sdk_sesv2::Client::new(sdk),
        );
    }
    let ddb = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(Counter::new("DynamoDB"))
        .build();
    let kms = aws_sdk_kms::config::Builder::from(sdk)
        .interceptor(Counter::new("KMS"))
        .build();
    let ses = aws_sdk_sesv2::config::Builder::from(sdk)
        .interceptor(Counter::new("SES"))
        .build();
    (
        aws_sdk_dynamodb::Client::from_conf(ddb),
        aws_sdk_kms::Client::from_conf(kms),
        aws_sdk_sesv2::Client::from_conf(ses),
    )
}

/// The SQS client of one SDK configuration, counting its requests when [`enabled`].
pub fn sqs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    if !enabled() {
        return aws_sdk_sqs::Client::new(sdk);
    }
    let conf = aws_sdk_sqs::config::Builder::from(sdk)
        .interceptor(Counter::new("SQS"))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// The S3 client of one SDK configuration, counting its requests when [`enabled`]. Path-style addressing
/// when `path_style` (emulators answer on one host).
pub fn s3_client(sdk: &aws_config::SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let mut conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
    if enabled() {
        conf = conf.interceptor(Counter::new("S3"));
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_from_target_or_path() {
        assert_eq!(
            operation(
                "DynamoDB",
                Some("DynamoDB_20120810.GetItem"),
                "POST",
                "http://x/"
            ),
            "GetItem"
        );
        assert_eq!(
            operation("KMS", Some("TrentService.Decrypt"), "POST", "http://x/"),
            "Decrypt"
        );
        assert_eq!(
            operation(
                "SES",
                None,
                "POST",
                "http://127.0.0.1:5000/v2/email/outbound-emails"
            ),
            "SendEmail"
        );
        assert_eq!(
            operation("SES", None, "GET", "https://h/v2/email/identities?x=1"),
            "GET /v2/email/identities"
        );
    }

    #[test]
    fn delta_keeps_only_what_changed() {
        let mut a = Counts::new();
        a.insert(("DynamoDB".into(), "GetItem".into()), 2);
        let mut b = a.clone();
        *b.entry(("DynamoDB".into(), "GetItem".into())).or_insert(0) += 1;
        b.insert(("KMS".into(), "Decrypt".into()), 1);
        let d = delta(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d[&("DynamoDB".to_string(), "GetItem".to_string())], 1);
    }
}
