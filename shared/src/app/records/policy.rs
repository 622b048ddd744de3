//! The tenant's sign-in policy as stored on its META item: the record, its limits, its load and the
//! idle-timeout check every session makes.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::app::layout::{self, attr};
use crate::app::records::user::UserRecord;
use crate::app::{AppError, Scope, Services};
use crate::domain::values::Password;
use crate::ports::Table;

/// Who must have a second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    #[default]
    Off,
    /// Organisation admins.
    Admins,
    Everyone,
}

impl SecondFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Off => "off",
            SecondFactor::Admins => "admins",
            SecondFactor::Everyone => "everyone",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(SecondFactor::Off),
            "admins" => Some(SecondFactor::Admins),
            "everyone" => Some(SecondFactor::Everyone),
            _ => None,
        }
    }
}

/// The bounds an admin may choose within.
pub const PASSWORD_MIN_LENGTH_MAX: usize = 64;

pub const SESSION_LIFETIME_MINUTES: (i64, i64) = (15, 30 * 24 * 60);

pub const IDLE_TIMEOUT_MINUTES: (i64, i64) = (5, 24 * 60);

pub const IP_ALLOWLIST_MAX: usize = 100;

/// A session's last-seen time is written again only when it is older than this fraction of the idle
/// timeout (1/10): a busy session costs one write per tenth of the timeout, and a session ends after
/// between 90 % and 100 % of the timeout without requests.
pub const SEEN_REFRESH_DIVISOR: i64 = 10;

/// The policy as stored and as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInPolicy {
    pub second_factor: SecondFactor,
    /// Never below [`Password::MIN_CHARS`].
    pub password_min_length: usize,
    /// `None`: the service's session lifetime (`Settings::session_ttl`).
    pub session_lifetime_minutes: Option<i64>,
    /// `None`: no idle timeout.
    pub idle_timeout_minutes: Option<i64>,
    /// Networks the tenant's users may sign in and work from; empty: anywhere.
    pub ip_allowlist: Vec<IpNet>,
    /// A stored policy that could not be read: everything is refused (fail closed) until it is saved
    /// again (by the operator, since no admin gets in either). Never stored.
    #[serde(skip)]
    pub(crate) unreadable: bool,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        SignInPolicy {
            second_factor: SecondFactor::Off,
            password_min_length: Password::MIN_CHARS,
            session_lifetime_minutes: None,
            idle_timeout_minutes: None,
            ip_allowlist: Vec::new(),
            unreadable: false,
        }
    }
}

impl SignInPolicy {
    /// The policy of a tenant's META item: the default when none was ever saved.
    pub(crate) fn from_item(item: &crate::ports::Item) -> Self {
        match item.s(attr::SIGN_IN_POLICY) {
            None => SignInPolicy::default(),
            Some(json) => serde_json::from_str(json).unwrap_or_else(|e| {
                tracing::error!(error = %e, "a stored sign-in policy is unreadable; refusing its tenant's sign-ins");
                SignInPolicy {
                    unreadable: true,
                    ..SignInPolicy::default()
                }
            }),
        }
    }

    /// Whether a client address may sign in and use a session. Addresses that are not IP addresses
    /// (`unknown`: no socket peer) are refused once a list is set. An IPv4 address mapped into IPv6
    /// (`::ffff:192.0.2.1`, a dual-stack socket) counts as the IPv4 address.
    pub fn allows_ip(&self, source: &str) -> bool {
        if self.unreadable {
            return false;
        }
        if self.ip_allowlist.is_empty() {
            return true;
        }
        let Ok(ip) = source.trim().parse::<IpAddr>() else {
            return false;
        };
        let ip = ip.to_canonical();
        self.ip_allowlist.iter().any(|n| n.contains(&ip))
    }

    /// Whether this user must have a second factor.
    pub fn requires_second_factor(&self, user: &UserRecord) -> bool {
        match self.second_factor {
            SecondFactor::Off => false,
            SecondFactor::Admins => user.org_admin,
            SecondFactor::Everyone => true,
        }
    }

    /// The tenant's minimum password length (at least the global floor).
    pub fn min_password_chars(&self) -> usize {
        self.password_min_length.max(Password::MIN_CHARS)
    }

    /// The length of a generated password: the usual one, or the tenant's minimum when longer.
    pub fn generated_password_chars(&self) -> usize {
        self.min_password_chars()
            .max(crate::crypto::GENERATED_CHARS)
    }

    /// How long a session opened now lasts (before the contract end caps it).
    pub fn session_lifetime(&self, service: Duration) -> Duration {
        self.session_lifetime_minutes
            .map_or(service, Duration::minutes)
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout_minutes.map(Duration::minutes)
    }

    /// What `GET /v1/tenant/sign-in-policy` answers.
    pub fn view(&self, svc: &Services) -> serde_json::Value {
        serde_json::json!({
            "second_factor": self.second_factor.as_str(),
            "password_min_length": self.min_password_chars(),
            "session_lifetime_minutes": self.session_lifetime_minutes,
            "idle_timeout_minutes": self.idle_timeout_minutes,
            "ip_allowlist": self.ip_allowlist.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "service_session_lifetime_minutes": svc.settings.session_ttl.whole_minutes(),
        })
    }
}

/// The tenant's policy (one read of its META item), for the use cases that are not behind a session:
/// set-password links, generated passwords.
pub async fn load(svc: &Services, scope: &Scope) -> Result<SignInPolicy, AppError> {
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), layout::META)
        .await?
        .ok_or(AppError::NotFound("tenant"))?;
    Ok(SignInPolicy::from_item(&item))
}

/// The idle-timeout check of a session's token record: `Err` when the session has been idle too long,
/// `Ok(true)` when its last-seen time should be written again (older than a tenth of the timeout).
pub(crate) fn idle_check(
    policy: &SignInPolicy,
    seen: i64,
    now: OffsetDateTime,
) -> Result<bool, AppError> {
    let Some(idle) = policy.idle_timeout() else {
        return Ok(false);
    };
    let since = now.unix_timestamp() - seen;
    if since >= idle.whole_seconds() {
        return Err(AppError::Unauthenticated);
    }
    Ok(since >= idle.whole_seconds() / SEEN_REFRESH_DIVISOR)
}
