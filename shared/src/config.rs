//! Typed configuration, read once from the environment (see API.md "Local server" and template.yaml).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::{aws, embedded};
use crate::app::{Services, Settings, TaskSource};
use crate::crypto::Keyring;

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

    /// Wires the ports for the chosen backend. Nothing here calls AWS: clients connect on first use.
    pub async fn services(&self) -> Result<Services, ConfigError> {
        type Ports = (
            Arc<dyn crate::ports::ItemStore>,
            Arc<dyn crate::ports::KeyService>,
            Arc<dyn crate::ports::Mailer>,
            Arc<dyn crate::ports::BackupService>,
        );
        let mut tasks = None;
        let mut settings = self.settings.clone();
        let files: Arc<dyn crate::ports::FileStore>;
        let mut local_files = None;
        let (store, keys, mailer, backups): Ports = match self.backend {
            Backend::Embedded => {
                let io = |what: &str| {
                    let what = what.to_owned();
                    move |source| ConfigError::Io { what, source }
                };
                std::fs::create_dir_all(&self.data_dir).map_err(io("the data dir"))?;
                // First: the store's lock says this process is the only one on the data dir.
                let store = embedded::EmbeddedStore::open_with_cache(
                    &self.data_dir.join("kanri.redb"),
                    self.store_cache_bytes,
                )
                .map_err(ConfigError::Store)?;
                let keys = embedded::LocalKeyService::open(&self.data_dir)
                    .map_err(io("the local master key"))?;
                let outbox = embedded::Outbox::new(self.data_dir.join("outbox"))
                    .map_err(io("the outbox"))?;
                let backups =
                    embedded::EmbeddedBackups::new(store.clone(), self.data_dir.join("backups"));
                // The store's lock makes this process the store's only worker.
                settings.worker_id = Some(crate::domain::ids::new_id());
                // A backup that a killed process left half-written.
                backups.remove_partials();
                tasks = Some(TaskSource::InProcess(Arc::new(embedded::LocalQueue::new(
                    store.clone(),
                ))));
                let local = Arc::new(
                    embedded::LocalFiles::open(&self.data_dir, self.settings.public_url.clone())
                        .map_err(io("the files dir"))?,
                );
                files = local.clone();
                local_files = Some(local);
                (
                    Arc::new(store),
                    Arc::new(keys),
                    Arc::new(outbox),
                    Arc::new(backups),
                )
            }
            Backend::Aws => {
                let sdk = match self.aws_timeouts {
                    Some(t) => aws::sdk_config_with(self.aws_emulator.as_deref(), t).await,
                    None => aws::sdk_config(self.aws_emulator.as_deref()).await,
                };
                let (dynamo, kms, ses) = aws::metrics::clients(&sdk);
                let store = aws::DynamoStore::new(
                    dynamo.clone(),
                    self.table.clone(),
                    self.log_table.clone(),
                    self.keys_table.clone(),
                );
                let backups = aws::DynamoBackups::new(
                    dynamo,
                    vec![self.table.clone(), self.log_table.clone()],
                );
                let keys = aws::KmsKeyService::new(kms, self.kms_key_id.clone());
                let mailer = aws::SesMailer::new(ses, self.settings.mail_from.clone());
                // Emulators answer every bucket on one host: path-style addressing there.
                let path_style =
                    self.aws_emulator.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
                files = Arc::new(aws::S3Files::new(
                    aws::metrics::s3_client(&sdk, path_style),
                    self.bucket.clone(),
                    self.kms_key_id.clone(),
                ));
                if let Some(url) = &self.queue_url {
                    let sqs = aws::SqsQueue::new(aws::metrics::sqs_client(&sdk), url.clone());
                    tasks = Some(TaskSource::Sqs(Arc::new(sqs)));
                }
                (
                    Arc::new(store),
                    Arc::new(keys),
                    Arc::new(mailer),
                    Arc::new(backups),
                )
            }
        };
        // On the AWS backend without SQS (tests), tasks wait in memory and die with the process.
        let tasks = match tasks {
            Some(t) => t,
            None => TaskSource::InProcess(Arc::new(embedded::LocalQueue::new(
                embedded::EmbeddedStore::in_memory().map_err(ConfigError::Store)?,
            ))),
        };
        Ok(Services {
            store,
            keys,
            mailer,
            backups,
            queue: tasks.queue(),
            tasks,
            files,
            local_files,
            keyring: Keyring::default(),
            settings,
        })
    }
}
