//! Use cases. Each takes the ports it needs (through [`Services`]) and `now`, and returns domain results or
//! an [`AppError`]. The rules live here: seats, uniqueness, last org admin, audit entries.

pub mod access;
pub mod audit;
pub mod auth;
pub mod csv_file;
pub mod groups;
pub mod imports;
pub mod integrity;
pub mod layout;
pub mod logs;
pub mod mail;
pub mod mfa;
pub mod notices;
pub mod paging;
pub mod principal;
pub mod questionnaires;
pub mod records;
pub mod retention;
pub mod roles;
pub mod scim_groups;
pub mod scim_tokens;
pub mod sign_in_policy;
pub mod sso;
pub mod tenants;
pub mod throttle;
pub mod tx;
pub mod uploads;
pub mod users;

use std::sync::Arc;

use time::Duration;

use crate::crypto::{Keyring, TenantKey};
use crate::domain::ids::TenantId;
use crate::ports::{ItemStore, KeyError, KeyService, Mailer, StoreError, Table, WrappedKey};

/// Settings the use cases need (read once from the environment by `config`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base of the links in mails, e.g. `http://127.0.0.1:3000`.
    pub public_url: String,
    pub session_ttl: Duration,
    pub invitation_ttl: Duration,
    pub reset_ttl: Duration,
    /// Sender address of every mail.
    pub mail_from: String,
    /// Mails per second one notice worker sends at most (SES's sending rate divided by the workers that
    /// run at once); `None` sends as fast as the mailer answers.
    pub mail_rate: Option<u32>,
    /// A header carrying the client's address, trusted only when set (the local server behind a reverse
    /// proxy). In Lambda the address always comes from API Gateway's request context.
    pub client_ip_header: Option<String>,
    /// How long the local server lets a request run before it answers 503 `unavailable`
    /// (`KANRI_REQUEST_TIMEOUT_SECONDS`); in Lambda the function's deadline sets it.
    pub request_timeout: std::time::Duration,
    /// Set when this process is the only worker of its store: the local server on the embedded store,
    /// whose lock keeps every other process out. Background work held by another worker id (pending
    /// notice claims, invitation lists) was then left by a process that is gone, and is taken over at
    /// once instead of after its hold. `None` where workers run side by side (Lambda, SQS).
    pub worker_id: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:3000".into(),
            session_ttl: Duration::hours(12),
            invitation_ttl: Duration::days(7),
            reset_ttl: Duration::hours(1),
            mail_from: mail::FROM_DEFAULT.into(),
            client_ip_header: None,
            mail_rate: None,
            request_timeout: std::time::Duration::from_secs(30),
            worker_id: None,
        }
    }
}

impl Settings {
    /// Whether work held by `holder` until a time still to come must be waited for: not when this
    /// process is the store's only worker and someone else held it.
    pub fn must_wait_for(&self, holder: Option<&str>) -> bool {
        match &self.worker_id {
            Some(me) => holder == Some(me.as_str()),
            None => true,
        }
    }

    /// This worker's id as written on what it holds.
    pub fn holder(&self) -> &str {
        self.worker_id.as_deref().unwrap_or("")
    }
}

/// The ports and settings, wired once at start (Lambda init or local server start).
pub struct Services {
    pub store: Arc<dyn ItemStore>,
    pub keys: Arc<dyn KeyService>,
    pub mailer: Arc<dyn Mailer>,
    pub backups: Arc<dyn crate::ports::BackupService>,
    /// Where background tasks go (the worker's side is `worker::TaskSource`).
    pub queue: Arc<dyn crate::ports::TaskQueue>,
    /// Uploaded files.
    pub files: Arc<dyn crate::ports::FileStore>,
    /// Outgoing requests to a tenant's identity provider (single sign-on).
    pub web: Arc<dyn crate::ports::WebClient>,
    pub keyring: Keyring,
    pub settings: Settings,
}

/// A handle on one tenant's data: every key it builds lies in that tenant's partition, and it carries the
/// tenant's data key. Tenant use cases receive one from the session, never from the request.
#[derive(Clone)]
pub struct Scope {
    pub tenant: TenantId,
    pub key: Arc<TenantKey>,
}

impl Scope {
    pub fn pk(&self) -> String {
        layout::tenant_pk(&self.tenant)
    }
    /// Associated data binding a ciphertext to its tenant, item and field.
    pub fn context(&self, item: &str, field: &str) -> String {
        format!("{}/{item}/{field}", self.tenant)
    }
}

fn data_key_context(t: &TenantId) -> String {
    format!("tenant:{t}")
}
fn log_key_context(t: &TenantId) -> String {
    format!("tenant-log:{t}")
}

impl Services {
    /// Whether this process can serve: one strongly consistent read of the store (an embedded store
    /// that an I/O error closed is opened again here). `GET /v1/health` answers 503 when it fails.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.store
            .get(Table::Data, layout::HEALTH_PK, layout::HEALTH_SK)
            .await?;
        Ok(())
    }

    /// The tenant's data key, unwrapped by the key service once and then served from memory.
    pub async fn scope(&self, tenant: &TenantId) -> Result<Scope, AppError> {
        let cache_id = format!("data:{tenant}");
        if let Some(key) = self.keyring.get(&cache_id) {
            return Ok(Scope {
                tenant: tenant.clone(),
                key,
            });
        }
        let meta = self
            .store
            .get(Table::Keys, &layout::tenant_pk(tenant), layout::DATA_KEY_SK)
            .await?;
        let wrapped = meta
            .as_ref()
            .and_then(|m| m.b(layout::attr::DATA_KEY))
            .ok_or(AppError::NotFound("tenant"))?;
        let key = self
            .keys
            .unwrap(&WrappedKey(wrapped.to_vec()), &data_key_context(tenant))
            .await?;
        let key = Arc::new(TenantKey::new(&key));
        self.keyring.insert(&cache_id, key.clone());
        Ok(Scope {
            tenant: tenant.clone(),
            key,
        })
    }

    /// The tenant's log key (kept after the purge, so the logs stay readable to the operator).
    pub async fn log_key(&self, tenant: &TenantId) -> Result<Arc<TenantKey>, AppError> {
        let cache_id = format!("log:{tenant}");
        if let Some(key) = self.keyring.get(&cache_id) {
            return Ok(key);
        }
        let item = self
            .store
            .get(Table::Log, &layout::log_key_pk(tenant), layout::LOG_KEY_SK)
            .await?;
        let wrapped = item
            .as_ref()
            .and_then(|m| m.b(layout::attr::LOG_KEY))
            .ok_or(AppError::NotFound("tenant"))?;
        let key = self
            .keys
            .unwrap(&WrappedKey(wrapped.to_vec()), &log_key_context(tenant))
            .await?;
        let key = Arc::new(TenantKey::new(&key));
        self.keyring.insert(&cache_id, key.clone());
        Ok(key)
    }
}

/// Everything a use case can answer besides success, with what a caller is told of it: the wire code
/// ([`AppError::code`]), the message ([`AppError::public_message`]) and the field it names. `http::error`
/// only picks the HTTP status; a bulk result (an import's rows, a group's members) carries the same code
/// and message per failed item.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    WeakPassword(String),
    #[error("the link is invalid, already used or expired")]
    InvalidToken,
    #[error(
        "delivery invite_link needs an e-mail address; use delivery generated for users without one"
    )]
    DeliveryRequiresEmail,
    #[error("authentication required")]
    Unauthenticated,
    #[error("the tenant, login or password is wrong")]
    InvalidCredentials,
    /// A second-factor code that is wrong, already used, or not of the current window: all alike.
    #[error("the code is wrong, already used or expired")]
    InvalidCode,
    /// A login challenge that is unknown, already used or expired: sign in with the password again.
    #[error(
        "the sign-in challenge is unknown, already used or expired; sign in with the password again"
    )]
    InvalidChallenge,
    #[error("{0}")]
    Forbidden(String),
    /// The account acted on is an org admin or holds grants beyond the caller's (`app::access`).
    #[error(
        "this account is an organisation admin or has permissions beyond yours; only an organisation admin may change it"
    )]
    TargetOutranksCaller,
    /// A role with grants beyond the caller's (`app::access`).
    #[error("this role has permissions beyond yours; only an organisation admin may give it")]
    RoleOutranksCaller,
    #[error("you must change your password before doing anything else")]
    PasswordChangeRequired,
    /// The tenant's sign-in policy requires a second factor of this user, who has none yet: the session
    /// may only enrol one (`app::sign_in_policy`).
    #[error(
        "your organisation requires a second factor: enrol one (POST /v1/me/mfa/totp, or the page /account/mfa) before doing anything else"
    )]
    MfaEnrolmentRequired,
    /// The tenant's IP allow-list does not contain the client's address.
    #[error("your organisation does not allow sign-in from this network address")]
    IpNotAllowed,
    #[error("the contract of this tenant has ended")]
    ContractEnded,
    /// A password login of a user who is not an org admin, in a tenant whose single sign-on is `required`.
    #[error(
        "this organisation signs in through its identity provider; use its sign-in button on the login page"
    )]
    SsoRequired,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A declared size over the limit (413 `payload_too_large`).
    #[error("{0}")]
    TooLarge(String),
    /// A declared content type the purpose does not take (415 `unsupported_media_type`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// A dependency (the store, the key service, a queue) is throttled or unreachable right now: 503
    /// `unavailable` with `Retry-After`. Also what an internal error whose source chain says so becomes.
    #[error("a service this request needs is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A dependency cannot serve right now: [`AppError::Unavailable`], or an internal error whose source
    /// chain says so ([`crate::ports::is_unavailable`]). Trying again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        match self {
            AppError::Unavailable(_) => true,
            AppError::Internal(source) => crate::ports::is_unavailable(source.as_ref()),
            _ => false,
        }
    }

    /// The stable code a client reads: `error.code` of a response, `code` of a failed item in a bulk result.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { .. } => "invalid_request",
            AppError::WeakPassword(_) => "weak_password",
            AppError::InvalidToken => "invalid_token",
            AppError::DeliveryRequiresEmail => "delivery_requires_email",
            AppError::Unauthenticated => "unauthenticated",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::InvalidCode => "invalid_code",
            AppError::InvalidChallenge => "invalid_challenge",
            AppError::Forbidden(_) => "forbidden",
            AppError::TargetOutranksCaller => "target_outranks_caller",
            AppError::RoleOutranksCaller => "role_outranks_caller",
            AppError::PasswordChangeRequired => "password_change_required",
            AppError::MfaEnrolmentRequired => "mfa_enrolment_required",
            AppError::IpNotAllowed => "ip_not_allowed",
            AppError::ContractEnded => "contract_ended",
            AppError::SsoRequired => "sso_required",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict { code, .. } => code,
            AppError::TooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable(_) | AppError::Internal(_) if self.is_unavailable() => {
                "unavailable"
            }
            AppError::Unavailable(_) | AppError::Internal(_) => "internal",
        }
    }

    /// What a caller may read: the error's own text, except that an error of ours or of a dependency says
    /// nothing internal (its cause is logged instead, see [`AppError::log`]).
    pub fn public_message(&self) -> String {
        match self {
            _ if self.is_unavailable() => {
                "a service this request needs is busy or unreachable; try again shortly".to_owned()
            }
            AppError::Internal(_) => {
                "something went wrong on our side; it has been logged".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The request field the error is about, when it names one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Invalid { field, .. } => *field,
            AppError::WeakPassword(_) => Some("password"),
            AppError::DeliveryRequiresEmail => Some("delivery"),
            _ => None,
        }
    }

    /// Logs the cause of an error of ours (error level) or of an unavailable dependency (warning) with its
    /// whole chain, once, where the error is answered; a caller's mistake is not logged. `failed` says
    /// what it ended: "request failed", "import row failed".
    pub fn log(&self, failed: &'static str) {
        let source = match self {
            AppError::Unavailable(s) | AppError::Internal(s) => s.as_ref(),
            _ => return,
        };
        let error = crate::telemetry::ErrorChain(source);
        if self.is_unavailable() {
            tracing::warn!(%error, "{failed}: a dependency is unavailable");
        } else {
            tracing::error!(%error, "{failed}");
        }
    }

    /// One failed item of a bulk result (an import row, a member, an id), as the caller reads it: `(code,
    /// message)`. No response carries the error, so its cause is logged here ([`AppError::log`]).
    pub fn failed_item(&self, failed: &'static str) -> (&'static str, String) {
        self.log(failed);
        (self.code(), self.public_message())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            return AppError::Unavailable(Box::new(e));
        }
        AppError::Internal(Box::new(e))
    }
}
impl From<KeyError> for AppError {
    fn from(e: KeyError) -> Self {
        if matches!(e, KeyError::Unavailable { .. }) {
            return AppError::Unavailable(Box::new(e));
        }
        AppError::Internal(Box::new(e))
    }
}
impl From<crate::crypto::CryptoError> for AppError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        AppError::Internal(Box::new(e))
    }
}
impl From<crate::domain::values::Invalid> for AppError {
    fn from(e: crate::domain::values::Invalid) -> Self {
        AppError::Invalid {
            field: Some(e.field),
            message: e.message,
        }
    }
}
impl From<crate::domain::values::WeakPassword> for AppError {
    fn from(e: crate::domain::values::WeakPassword) -> Self {
        AppError::WeakPassword(e.0)
    }
}

pub(crate) fn key_contexts(t: &TenantId) -> (String, String) {
    (data_key_context(t), log_key_context(t))
}
