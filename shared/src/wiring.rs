//! The composition root: which adapter stands behind each port for the backend the configuration
//! chooses, and what each entry point needs beyond the services (the worker its task source, the local
//! server its file store's URLs). The only module that names concrete adapters and the ports together.

use std::sync::Arc;

use crate::adapters::{aws, embedded};
use crate::app::Services;
use crate::config::{Backend, Config, ConfigError};
use crate::crypto::Keyring;
use crate::worker::TaskSource;

/// What the configuration wires: the services every entry point runs on, where this process's worker
/// takes tasks from, and the local file store when it is the one in use (its URLs are the local server's
/// to serve and check).
pub struct Wired {
    pub services: Services,
    pub tasks: TaskSource,
    pub local_files: Option<Arc<embedded::LocalFiles>>,
}

/// Wires the ports for the chosen backend. Nothing here calls AWS: clients connect on first use.
pub async fn wire(config: &Config) -> Result<Wired, ConfigError> {
    match config.backend {
        Backend::Embedded => wire_embedded(config),
        Backend::Aws => wire_aws(config).await,
    }
}

type Ports = (
    Arc<dyn crate::ports::ItemStore>,
    Arc<dyn crate::ports::KeyService>,
    Arc<dyn crate::ports::Mailer>,
    Arc<dyn crate::ports::BackupService>,
    Arc<dyn crate::ports::FileStore>,
);

/// The embedded backend: the redb store, the local master key, the `.eml` outbox, snapshot backups, the
/// queue in the store and files on disk.
fn wire_embedded(config: &Config) -> Result<Wired, ConfigError> {
    let mut settings = config.settings.clone();
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| ConfigError::Io { what, source }
    };
    std::fs::create_dir_all(&config.data_dir).map_err(io("the data dir"))?;
    // First: the store's lock says this process is the only one on the data dir.
    let store = embedded::EmbeddedStore::open_with_cache(
        &config.data_dir.join("kanri.redb"),
        config.store_cache_bytes,
    )
    .map_err(ConfigError::Store)?;
    let keys =
        embedded::LocalKeyService::open(&config.data_dir).map_err(io("the local master key"))?;
    let outbox = embedded::Outbox::new(config.data_dir.join("outbox")).map_err(io("the outbox"))?;
    let backups = embedded::EmbeddedBackups::new(store.clone(), config.data_dir.join("backups"));
    // The store's lock makes this process the store's only worker.
    settings.worker_id = Some(crate::domain::ids::new_id());
    // A backup that a killed process left half-written.
    backups.remove_partials();
    let tasks = TaskSource::InProcess(Arc::new(embedded::LocalQueue::new(store.clone())));
    let local = Arc::new(
        embedded::LocalFiles::open(&config.data_dir, config.settings.public_url.clone())
            .map_err(io("the files dir"))?,
    );
    let ports: Ports = (
        Arc::new(store),
        Arc::new(keys),
        Arc::new(outbox),
        Arc::new(backups),
        local.clone(),
    );
    Ok(wired(ports, tasks, Some(local), settings))
}

/// The AWS backend: DynamoDB, KMS, SES v2, on-demand backups, S3, and SQS when a queue is configured.
/// What a Lambda function starts with (`lambda::start`), so a function links no embedded adapter but the
/// in-memory queue of a process without SQS.
pub async fn wire_aws(config: &Config) -> Result<Wired, ConfigError> {
    let sdk = match config.aws_timeouts {
        Some(t) => aws::sdk_config_with(config.aws_emulator.as_deref(), t).await,
        None => aws::sdk_config(config.aws_emulator.as_deref()).await,
    };
    let (dynamo, kms, ses) = aws::metrics::clients(&sdk);
    let store = aws::DynamoStore::new(
        dynamo.clone(),
        config.table.clone(),
        config.log_table.clone(),
        config.keys_table.clone(),
    );
    let backups =
        aws::DynamoBackups::new(dynamo, vec![config.table.clone(), config.log_table.clone()]);
    let keys = aws::KmsKeyService::new(kms, config.kms_key_id.clone());
    let mailer = aws::SesMailer::new(ses, config.settings.mail_from.clone());
    // Emulators answer every bucket on one host: path-style addressing there.
    let path_style =
        config.aws_emulator.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let files = Arc::new(aws::S3Files::new(
        aws::metrics::s3_client(&sdk, path_style),
        config.bucket.clone(),
        config.kms_key_id.clone(),
    ));
    let tasks = match &config.queue_url {
        Some(url) => {
            let sqs = aws::SqsQueue::new(aws::metrics::sqs_client(&sdk), url.clone());
            TaskSource::Sqs(Arc::new(sqs))
        }
        // Without SQS (tests), tasks wait in memory and die with the process.
        None => TaskSource::InProcess(Arc::new(embedded::LocalQueue::new(
            embedded::EmbeddedStore::in_memory().map_err(ConfigError::Store)?,
        ))),
    };
    let ports: Ports = (
        Arc::new(store),
        Arc::new(keys),
        Arc::new(mailer),
        Arc::new(backups),
        files,
    );
    Ok(wired(ports, tasks, None, config.settings.clone()))
}

fn wired(
    (store, keys, mailer, backups, files): Ports,
    tasks: TaskSource,
    local_files: Option<Arc<embedded::LocalFiles>>,
    settings: crate::app::Settings,
) -> Wired {
    Wired {
        services: Services {
            // Every request's handler reads what its session check prefetched from the store before this
            // one (`ports::prefetch`); outside a request it is the store itself.
            store: Arc::new(crate::ports::prefetch::PrefetchingStore(store)),
            keys,
            mailer,
            backups,
            queue: tasks.queue(),
            files,
            // The identity-provider client loads the system's root certificates on its first request
            // (single sign-on only), not here.
            web: Arc::new(crate::adapters::web::HyperWebClient::new()),
            keyring: Keyring::default(),
            settings,
        },
        tasks,
        local_files,
    }
}
