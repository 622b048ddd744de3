//! The tenant's single sign-on configuration (the `SSO` item): its codec, load, and whether it refuses
//! passwords.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::app::layout::{self, attr};
use crate::app::{AppError, Scope, Services};
use crate::domain::time::jst_from_unix;
use crate::ports::{Item, Table};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Password or single sign-on.
    Optional,
    /// Single sign-on only, except for org admins (their password is the way in when the provider fails).
    Required,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Optional => "optional",
            Mode::Required => "required",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "optional" => Some(Mode::Optional),
            "required" => Some(Mode::Required),
            _ => None,
        }
    }
}

/// A tenant's provider as stored (the secret still sealed).
#[derive(Clone, Debug)]
pub struct Config {
    pub issuer: String,
    pub client_id: String,
    pub display_name: String,
    pub claim: String,
    pub domains: Vec<String>,
    pub mode: Mode,
    pub updated: i64,
    pub(crate) sealed_secret: Vec<u8>,
}

/// The configuration as the API and the console show it: never the secret.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigView {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub display_name: String,
    pub claim: String,
    pub allowed_domains: Vec<String>,
    pub mode: Mode,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    pub updated_at: String,
}

pub(crate) const SECRET_FIELD: &str = "client_secret";

pub(crate) fn secret_context(scope: &Scope) -> String {
    scope.context(layout::SSO_SK, SECRET_FIELD)
}

impl Config {
    pub(crate) fn from_item(i: &Item) -> Config {
        Config {
            issuer: i.s(attr::ISSUER).unwrap_or_default().to_owned(),
            client_id: i.s(attr::CLIENT_ID).unwrap_or_default().to_owned(),
            display_name: i.s(attr::NAME).unwrap_or_default().to_owned(),
            claim: i.s(attr::CLAIM).unwrap_or("email").to_owned(),
            domains: i
                .s(attr::DOMAINS)
                .unwrap_or_default()
                .split('\n')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            mode: Mode::parse(i.s(attr::MODE).unwrap_or_default()).unwrap_or(Mode::Optional),
            updated: i.n(attr::UPDATED).unwrap_or(0),
            sealed_secret: i.b(SECRET_FIELD).map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }

    pub fn view(&self, svc: &Services) -> ConfigView {
        ConfigView {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret_set: !self.sealed_secret.is_empty(),
            display_name: self.display_name.clone(),
            claim: self.claim.clone(),
            allowed_domains: self.domains.clone(),
            mode: self.mode,
            redirect_uri: redirect_uri(svc),
            updated_at: jst_from_unix(self.updated),
        }
    }

    pub(crate) fn secret(&self, scope: &Scope) -> Result<SecretString, AppError> {
        Ok(SecretString::from(
            scope
                .key
                .open(&secret_context(scope), &self.sealed_secret)?,
        ))
    }
}

/// The tenant's provider, if one is configured.
pub async fn get(svc: &Services, scope: &Scope) -> Result<Option<Config>, AppError> {
    Ok(svc
        .store
        .get(Table::Data, &scope.pk(), layout::SSO_SK)
        .await?
        .map(|i| Config::from_item(&i)))
}

/// The path the provider sends the browser back to (the redirect URI registered there).
pub const CALLBACK_PATH: &str = "/sso/callback";

/// The redirect URI of every tenant: the public URL's `/sso/callback`.
pub fn redirect_uri(svc: &Services) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        svc.settings.public_url.trim_end_matches('/')
    )
}
