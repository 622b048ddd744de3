//! What every Lambda function does at start, whatever it serves (an API route: `http::lambda`; a scheduled
//! job: `jobs`; the task worker: `worker`): logging as JSON, the configuration from the environment, the
//! services on the AWS backend. Clients are built here, once per execution environment, and nothing
//! reaches the network until the first event needs it.

use crate::config::{Backend, Config};
use crate::wiring::{Wired, wire_aws};

pub use lambda_http::Error;

/// The start-up of a Lambda function: logging, configuration, services (and the task source, which
/// only the worker uses).
pub async fn start() -> Result<Wired, Error> {
    crate::telemetry::init(true);
    let mut config = Config::from_env()?;
    config.backend = Backend::Aws;
    Ok(wire_aws(&config).await?)
}
