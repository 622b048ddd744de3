//! What every Lambda function does at start, whatever it serves (an API route: `http::lambda`; a scheduled
//! job: `jobs`; the task worker: `worker`): logging as JSON, the configuration from the environment, the
//! services on the AWS backend. Clients are built here, once per execution environment, and nothing
//! reaches the network until the first event needs it.

use std::sync::Arc;

use crate::app::Services;
use crate::config::{Backend, Config};

pub use lambda_http::Error;

/// The start-up of a Lambda function: logging, configuration, services.
pub async fn start() -> Result<Arc<Services>, Error> {
    crate::telemetry::init(true);
    let mut config = Config::from_env()?;
    config.backend = Backend::Aws;
    Ok(Arc::new(config.services().await?))
}
