//! Typed configuration, read once from the environment (see API.md "Local server" and template.yaml).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::adapters::{aws, embedded};
use crate::app::{Services, Settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub operator_token: Option<String>,
    pub settings: Settings,
    pub table: String,
    pub log_table: String,
    pub keys_table: String,
    pub kms_key_id: String,
    /// An AWS emulator (moto) to use with dummy credentials instead of the standard AWS settings.
    pub aws_emulator: Option<String>,
    /// The SQS queue of background tasks (AWS backend); without it tasks run in-process.
    pub queue_url: Option<String>,
    /// The S3 bucket of uploaded files (AWS backend).
    pub bucket: String,
    /// The embedded store's page cache in bytes (`KANRI_STORE_CACHE_MB`).
    pub store_cache_bytes: usize,
    /// The limits of every AWS call; `None`: [`aws::Timeouts::AWS`], or [`aws::Timeouts::EMULATOR`] with
    /// an explicit emulator.
    pub aws_timeouts: Option<aws::Timeouts>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {message}")]
    Invalid { name: &'static str, message: String },
    #[error("could not prepare {what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the embedded store")]
    Store(#[source] crate::ports::StoreError),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let backend = match var("KANRI_BACKEND").as_deref() {
            None | Some("embedded") => Backend::Embedded,
            Some("aws") => Backend::Aws,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "KANRI_BACKEND",
                    message: format!("{other:?}: use embedded or aws"),
                });
            }
        };
        let addr = var("KANRI_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let addr = addr.parse().map_err(|e| ConfigError::Invalid {
            name: "KANRI_ADDR",
            message: format!("{addr:?}: {e}"),
        })?;
        let mut settings = Settings::default();
        if let Some(u) = var("KANRI_PUBLIC_URL") {
            settings.public_url = u;
        } else {
            settings.public_url = format!("http://{addr}");
        }
        if let Some(h) = var("KANRI_SESSION_HOURS") {
            let hours: i64 = h
                .parse()
                .ok()
                .filter(|h| (1..=720).contains(h))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "KANRI_SESSION_HOURS",
                    message: format!("{h:?}: a whole number of hours from 1 to 720"),
                })?;
            settings.session_ttl = time::Duration::hours(hours);
        }
        if let Some(f) = var("KANRI_MAIL_FROM") {
            settings.mail_from = f;
        }
        settings.client_ip_header = var("KANRI_CLIENT_IP_HEADER").map(|h| h.to_ascii_lowercase());
        if let Some(r) = var("KANRI_MAIL_RATE") {
            let rate: u32 =
                r.parse()
                    .ok()
                    .filter(|r| *r >= 1)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "KANRI_MAIL_RATE",
                        message: format!("{r:?}: mails per second, a whole number of at least 1"),
                    })?;
            settings.mail_rate = Some(rate);
        }
        let store_cache_bytes = match var("KANRI_STORE_CACHE_MB") {
            None => embedded::store::DEFAULT_CACHE_BYTES,
            Some(m) => m
                .parse::<usize>()
                .ok()
                .filter(|m| (1..=65_536).contains(m))
                .map(|m| m * 1024 * 1024)
                .ok_or_else(|| ConfigError::Invalid {
                    name: "KANRI_STORE_CACHE_MB",
                    message: format!("{m:?}: mebibytes, a whole number from 1 to 65536"),
                })?,
        };
        if let Some(t) = var("KANRI_REQUEST_TIMEOUT_SECONDS") {
            let secs: u64 = t
                .parse()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "KANRI_REQUEST_TIMEOUT_SECONDS",
                    message: format!("{t:?}: seconds, a whole number from 1 to 3600"),
                })?;
            settings.request_timeout = std::time::Duration::from_secs(secs);
        }
        Ok(Config {
            backend,
            addr,
            data_dir: var("KANRI_DATA_DIR")
                .unwrap_or_else(|| ".kanri".into())
                .into(),
            operator_token: var("KANRI_OPERATOR_TOKEN"),
            settings,
            table: var("KANRI_TABLE").unwrap_or_else(|| "kanri-data".into()),
            log_table: var("KANRI_LOG_TABLE").unwrap_or_else(|| "kanri-log".into()),
            keys_table: var("KANRI_KEYS_TABLE").unwrap_or_else(|| "kanri-keys".into()),
            kms_key_id: var("KANRI_KMS_KEY_ID").unwrap_or_else(|| "alias/kanri-data".into()),
            aws_emulator: None,
            queue_url: var("KANRI_QUEUE_URL"),
            bucket: var("KANRI_BUCKET").unwrap_or_else(|| "kanri-files".into()),
            store_cache_bytes,
            aws_timeouts: None,
        })
    }

    /// The services alone, for what runs no worker and serves no files (the operator's command, the
    /// benchmarks): [`crate::wiring::wire`] has the rest.
    pub async fn services(&self) -> Result<Services, ConfigError> {
        Ok(crate::wiring::wire(self).await?.services)
    }
}
