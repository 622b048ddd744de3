//! OpenID Connect single sign-on per tenant (issue 21): an org admin configures one provider (issuer,
//! client, the claim that names the user, allowed e-mail domains, `optional` or `required`), and its users
//! sign in there with the authorization-code flow (PKCE S256, `state`, `nonce`), landing in a Kanri session
//! exactly as after a password login. No account is ever created here: the verified claim must name an
//! existing user of the tenant who is not disabled.
//!
//! - The configuration is one item (`SSO`) of the tenant's partition; the client secret is sealed under the
//!   tenant's data key (it dies with it at the purge) and never answered.
//! - The pending sign-in is a token like the others (256 random bits, only its SHA-256 stored, kind
//!   `sso_state`, 10 minutes) carrying the nonce and the PKCE verifier sealed under the tenant's key; the
//!   browser holds the state in an HttpOnly cookie too, so a callback from another browser is refused. The
//!   callback deletes the record (conditionally) before anything else: a state is used once.
//! - The ID token (from the token endpoint, over TLS, with the client's secret) is verified with the
//!   provider's published keys (RS*/PS*/ES* only, never `none` or a shared-secret algorithm), issuer,
//!   audience (`azp` when there are several), expiry (60 s of leeway) and nonce.
//! - Every failure once the tenant is known is in its operation log (`sso.login_failed`, the reason as the
//!   target), and every success (`user.sso_login`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::principal;
use crate::app::principal::Session;
pub use crate::app::records::sso::{CALLBACK_PATH, get, redirect_uri};
use crate::app::records::sso::{Config, ConfigView, Mode, SECRET_FIELD, secret_context};
use crate::app::records::tenant;
use crate::app::records::token;
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto::{self, same_secret};
use crate::domain::ids::TenantId;
use crate::domain::values::{Login, Name};
use crate::ports::{Cond, Item, Table, Value, Write};

/// The token kind of a pending sign-in.
pub const STATE: &str = "sso_state";
/// How long a sign-in started at the provider can come back.
pub const STATE_TTL: Duration = Duration::minutes(10);
/// Allowed e-mail domains a configuration may list.
pub const MAX_DOMAINS: usize = 50;
/// Clock skew allowed on `exp`, `nbf` and `iat` (seconds).
const LEEWAY: u64 = 60;

/// What an org admin sends; `client_secret` may be left out to keep the one stored.
pub struct ConfigInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub display_name: String,
    pub claim: Option<String>,
    pub allowed_domains: Vec<String>,
    pub mode: Option<String>,
}

/// The display name of a tenant's provider by the tenant's slug, for the login page: `None` when the slug
/// names no tenant or its tenant has none (alike, so the page tells nothing more than the sign-in would).
pub async fn provider_name(svc: &Services, slug: &str) -> Result<Option<String>, AppError> {
    let Some(tid) = tenant::by_slug(svc, slug).await? else {
        return Ok(None);
    };
    let scope = match svc.scope(&tid).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(get(svc, &scope).await?.map(|c| c.display_name))
}

/// An issuer URL as stored: https with a host, no query or fragment; plain http only to a loopback address
/// while the service itself runs on plain http (the tests' provider), never behind an https public URL.
fn parse_issuer(svc: &Services, s: &str) -> Result<String, AppError> {
    let s = s.trim();
    let bad = |m: &str| AppError::invalid("issuer", m.to_owned());
    if s.is_empty() || s.len() > 512 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("the issuer must be a URL of at most 512 characters"));
    }
    let uri: http::Uri = s.parse().map_err(|_| bad("the issuer is not a URL"))?;
    let host = uri.host().unwrap_or("");
    if host.is_empty() || uri.query().is_some() || s.contains('#') || s.contains('@') {
        return Err(bad(
            "the issuer must be https://host[/path], without query, fragment or user",
        ));
    }
    let plain_ok =
        crate::ports::web::is_loopback(host) && svc.settings.public_url.starts_with("http://");
    match uri.scheme_str() {
        Some("https") => Ok(s.to_owned()),
        Some("http") if plain_ok => Ok(s.to_owned()),
        _ => Err(bad("the issuer must be an https URL")),
    }
}

fn parse_text(field: &'static str, s: &str, max: usize) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            format!("{field} must be 1 to {max} characters, none of them control characters"),
        ));
    }
    Ok(s.to_owned())
}

fn parse_claim(s: Option<&str>) -> Result<String, AppError> {
    let s = s
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("email");
    if s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        return Err(AppError::invalid(
            "claim",
            "the claim is a claim name: 1 to 64 letters, digits, '_', '.', ':' or '-'",
        ));
    }
    Ok(s.to_owned())
}

/// An e-mail domain in its ASCII (punycode) form, lower case, as addresses compare (UTS #46).
pub fn domain_ascii(d: &str) -> Option<String> {
    let d = d.trim().trim_start_matches('@');
    if d.is_empty() {
        return None;
    }
    let a = idna::domain_to_ascii_strict(d).ok()?;
    (a.contains('.') && a.len() <= 253).then_some(a)
}

fn parse_domains(list: &[String]) -> Result<Vec<String>, AppError> {
    if list.len() > MAX_DOMAINS {
        return Err(AppError::invalid(
            "allowed_domains",
            format!("at most {MAX_DOMAINS} domains"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for d in list.iter().filter(|d| !d.trim().is_empty()) {
        let a = domain_ascii(d).ok_or_else(|| {
            AppError::invalid(
                "allowed_domains",
                format!("{d:?} is not a domain name (such as example.co.jp)"),
            )
        })?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn audit_write(
    scope: &Scope,
    log_key: &crypto::TenantKey,
    actor: &Actor,
    action: &str,
    now: OffsetDateTime,
) -> Write {
    audit::entry(
        &scope.tenant,
        log_key,
        actor,
        Entry {
            action,
            target_type: "tenant",
            target_id: scope.tenant.as_str(),
        },
        now,
    )
}

/// Creates or replaces the tenant's provider (org admins only). The secret is required the first time;
/// left out later, the stored one stays.
pub async fn put(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    input: ConfigInput,
    now: OffsetDateTime,
) -> Result<ConfigView, AppError> {
    by.require_org_admin()?;
    let issuer = parse_issuer(svc, &input.issuer)?;
    let client_id = parse_text("client_id", &input.client_id, 255)?;
    let display_name = Name::parse("display_name", &input.display_name)?
        .as_str()
        .to_owned();
    let claim = parse_claim(input.claim.as_deref())?;
    let domains = parse_domains(&input.allowed_domains)?;
    let mode = match input.mode.as_deref().map(str::trim) {
        None | Some("") => Mode::Optional,
        Some(m) => Mode::parse(m).ok_or_else(|| {
            AppError::invalid("mode", "mode is optional (password or SSO) or required")
        })?,
    };
    let old = get(svc, scope).await?;
    let sealed = match (&input.client_secret, &old) {
        (Some(s), _) => {
            let s = parse_text(SECRET_FIELD, s.expose_secret(), 1024)?;
            scope.key.seal(&secret_context(scope), &s)
        }
        (None, Some(o)) if !o.sealed_secret.is_empty() => o.sealed_secret.clone(),
        (None, _) => {
            return Err(AppError::invalid(
                SECRET_FIELD,
                "the client secret is required when the provider is first configured",
            ));
        }
    };
    let ts = now
        .unix_timestamp()
        .max(old.as_ref().map_or(0, |o| o.updated + 1));
    let item = Item::new(scope.pk(), layout::SSO_SK)
        .with(attr::ISSUER, Value::S(issuer))
        .with(attr::CLIENT_ID, Value::S(client_id))
        .with(SECRET_FIELD, Value::B(sealed))
        .with(attr::NAME, Value::S(display_name))
        .with(attr::CLAIM, Value::S(claim))
        .with(attr::DOMAINS, Value::S(domains.join("\n")))
        .with(attr::MODE, Value::S(mode.as_str().into()))
        .with(attr::UPDATED, Value::N(ts));
    let cond = match &old {
        // Over the version read: of two admins saving at once, one is told to reload.
        Some(o) => Cond::Eq(attr::UPDATED, Value::N(o.updated)),
        None => Cond::NotExists,
    };
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Put {
            table: Table::Data,
            item: item.clone(),
            cond: Some(cond),
        },
        || {
            AppError::conflict(
                "conflict",
                "the single sign-on settings changed meanwhile; reload and try again",
            )
        },
    );
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            cond: Cond::Exists,
        },
        || AppError::NotFound("tenant"),
    );
    tx.push(audit_write(
        scope,
        &log_key,
        &by.actor,
        "tenant.sso_update",
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(Config::from_item(&item).view(svc))
}

/// Removes the tenant's provider: everyone signs in with a password again.
pub async fn delete(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    by.require_org_admin()?;
    if get(svc, scope).await?.is_none() {
        return Err(AppError::NotFound("single sign-on configuration"));
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::SSO_SK.into(),
            cond: Some(Cond::Exists),
        },
        || AppError::NotFound("single sign-on configuration"),
    );
    tx.push(audit_write(
        scope,
        &log_key,
        &by.actor,
        "tenant.sso_delete",
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(())
}

// ---- the sign-in flow ----------------------------------------------------------------------------------

/// Why a single sign-on ended without a session. Each is a page (never a 5xx) and, once the tenant is
/// known, an entry of its operation log; `code()` is what both show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The tenant has no provider (or the slug names no tenant: alike).
    NotConfigured,
    /// The state is missing, unknown, expired, used already, or not this browser's.
    State,
    /// The provider answered the authorization request with an error (`error=` of the callback).
    Provider(String),
    /// The provider's discovery document or keys could not be read.
    Unreachable,
    /// The code exchange failed (an expired or used code, a wrong secret).
    Exchange,
    /// The ID token failed a check: which one.
    Token(&'static str),
    /// The identifying claim is missing from the ID token.
    NoClaim,
    /// Matching by e-mail needs `email_verified: true`.
    EmailUnverified,
    /// The address's domain is not one the tenant allows.
    Domain,
    /// No user of the tenant has this address or login id.
    NoAccount,
    Disabled,
    ContractEnded,
}

impl Failure {
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NotConfigured => "sso_not_configured",
            Failure::State => "sso_state_invalid",
            Failure::Provider(_) => "sso_provider_error",
            Failure::Unreachable => "sso_provider_unreachable",
            Failure::Exchange => "sso_code_exchange_failed",
            Failure::Token(which) => which,
            Failure::NoClaim => "sso_claim_missing",
            Failure::EmailUnverified => "sso_email_unverified",
            Failure::Domain => "sso_domain_not_allowed",
            Failure::NoAccount => "sso_no_account",
            Failure::Disabled => "sso_user_disabled",
            Failure::ContractEnded => "contract_ended",
        }
    }
}

/// A flow step's result: a failure the person is shown, or an error of ours (the store, the key service).
pub enum Refusal {
    Failed(Failure),
    Error(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Error(e)
    }
}
impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Refusal::Failed(f)
    }
}

/// What the provider's discovery document says (OpenID Connect Discovery 1.0).
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

async fn discover(svc: &Services, issuer: &str) -> Result<Discovery, Failure> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let res = svc.web.get(&url, None).await.map_err(|e| {
        tracing::warn!(error = %e, issuer, "single sign-on: discovery failed");
        Failure::Unreachable
    })?;
    if res.status != 200 {
        tracing::warn!(
            status = res.status,
            issuer,
            "single sign-on: discovery answered"
        );
        return Err(Failure::Unreachable);
    }
    let d: Discovery = serde_json::from_slice(&res.body).map_err(|e| {
        tracing::warn!(error = %e, issuer, "single sign-on: discovery document unreadable");
        Failure::Unreachable
    })?;
    // OpenID Connect Discovery §4.3: the document's issuer is exactly the one configured.
    if d.issuer != issuer {
        tracing::warn!(
            issuer,
            published = d.issuer,
            "single sign-on: discovery names another issuer"
        );
        return Err(Failure::Token("sso_token_issuer"));
    }
    Ok(d)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The nonce and the PKCE verifier of a pending sign-in, sealed in its token record.
#[derive(Serialize, Deserialize)]
struct Pending {
    nonce: String,
    verifier: String,
}

fn pending_context(scope: &Scope, hash: &str) -> String {
    scope.context(&format!("sso_state/{hash}"), "pending")
}

/// A sign-in to send the browser on with: the provider's authorization URL, and the state to keep in the
/// browser's cookie.
pub struct Started {
    pub url: String,
    pub state: SecretString,
}

/// Starts a sign-in for the tenant of `slug`: discovery, a new state, nonce and PKCE verifier (stored for
/// [`STATE_TTL`]), and the authorization URL.
pub async fn start(svc: &Services, slug: &str, now: OffsetDateTime) -> Result<Started, Refusal> {
    let Some(tid) = tenant::by_slug(svc, slug).await? else {
        return Err(Failure::NotConfigured.into());
    };
    let scope = match svc.scope(&tid).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(Failure::NotConfigured.into()),
        Err(e) => return Err(e.into()),
    };
    // The SSO settings and the tenant item (the contract) in one read.
    let keys = [
        (scope.pk(), layout::SSO_SK.to_owned()),
        (scope.pk(), layout::META.to_owned()),
    ];
    let items = svc
        .store
        .batch_get(Table::Data, &keys)
        .await
        .map_err(AppError::from)?;
    let Some(cfg) = items
        .iter()
        .find(|i| i.sk == layout::SSO_SK)
        .map(Config::from_item)
    else {
        return Err(Failure::NotConfigured.into());
    };
    let meta = items
        .iter()
        .find(|i| i.sk == layout::META)
        .ok_or(AppError::NotFound("tenant"))?;
    if tenant::TenantRecord::from_item(&tid, meta).contract_ended(now) {
        return Err(Failure::ContractEnded.into());
    }
    let d = discover(svc, &cfg.issuer).await?;
    let (state, hash) = crypto::new_token();
    let pending = Pending {
        nonce: b64(&crate::util::random_bytes::<32>()),
        verifier: b64(&crate::util::random_bytes::<32>()),
    };
    let challenge = b64(&Sha256::digest(pending.verifier.as_bytes()));
    let sealed = scope.key.seal(
        &pending_context(&scope, &hash),
        &serde_json::to_string(&pending).map_err(|e| AppError::Internal(Box::new(e)))?,
    );
    let exp = (now + STATE_TTL).unix_timestamp();
    let item = Item::new(layout::token_pk(&hash), layout::TOKEN_SK)
        .with(attr::KIND, Value::S(STATE.into()))
        .with(attr::TENANT, Value::S(tid.to_string()))
        .with(attr::PENDING, Value::B(sealed))
        .with(attr::EXPIRES, Value::N(exp))
        .with(attr::TTL, Value::N(exp + 86_400));
    svc.store
        .transact(vec![Write::put_new(Table::Data, item)])
        .await
        .map_err(AppError::from)?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &redirect_uri(svc))
        .append_pair("scope", "openid email profile")
        .append_pair("state", state.expose_secret())
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(Started {
        url: format!("{}{sep}{}", d.authorization_endpoint, q.finish()),
        state,
    })
}

/// What came back to the callback.
pub struct Callback {
    pub state: Option<String>,
    /// The state kept in this browser's cookie when the sign-in started.
    pub browser_state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    /// RFC 9207's `iss`, when the provider sends it.
    pub iss: Option<String>,
}

/// Completes a sign-in: the state used up, the code exchanged, the ID token verified, the user matched,
/// and a session opened as a password login opens one. Failures after the state are in the tenant's
/// operation log.
pub async fn callback(
    svc: &Services,
    cb: Callback,
    now: OffsetDateTime,
) -> Result<Session, Refusal> {
    let (Some(state), Some(browser)) = (cb.state.as_deref(), cb.browser_state.as_deref()) else {
        return Err(Failure::State.into());
    };
    if state.is_empty() || state.len() > 128 || !same_secret(state, browser) {
        return Err(Failure::State.into());
    }
    let hash = crypto::token_hash(state);
    let Some(rec) = token::live_token(svc, &hash, &[STATE], now).await? else {
        return Err(Failure::State.into());
    };
    let tid = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
    let scope = match svc.scope(&tid).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(Failure::State.into()),
        Err(e) => return Err(e.into()),
    };
    // Used once: deleted before anything else, on condition it is still there (of two callbacks with the
    // same state, one goes on).
    let use_state = Write::Delete {
        table: Table::Data,
        pk: layout::token_pk(&hash),
        sk: layout::TOKEN_SK.into(),
        cond: Some(Cond::Exists),
    };
    // A refusal the provider sent needs nothing more from it: the state is used up in the transaction
    // that writes the refusal's entry.
    if let Some(e) = cb.error.as_deref() {
        let failure = Failure::Provider(provider_code(e));
        let log_key = svc.log_key(&scope.tenant).await?;
        let entry = audit::failure(
            &scope.tenant,
            &log_key,
            &Actor::Anonymous,
            Entry {
                action: "sso.login_failed",
                target_type: "sso",
                target_id: failure.code(),
            },
            now,
        );
        return match svc.store.transact(vec![use_state, entry]).await {
            Ok(()) => Err(failure.into()),
            Err(crate::ports::StoreError::ConditionFailed { index: 0 }) => {
                Err(Failure::State.into())
            }
            Err(e) => Err(AppError::from(e).into()),
        };
    }
    match svc.store.transact(vec![use_state]).await {
        Ok(()) => {}
        Err(crate::ports::StoreError::ConditionFailed { .. }) => return Err(Failure::State.into()),
        Err(e) => return Err(AppError::from(e).into()),
    }
    let mut who = Actor::Anonymous;
    let outcome = complete(svc, &scope, &hash, &rec, cb, &mut who, now).await;
    let log_key = svc.log_key(&scope.tenant).await?;
    let entry = match &outcome {
        Ok(s) => audit::entry(
            &scope.tenant,
            &log_key,
            &who,
            Entry {
                action: "user.sso_login",
                target_type: "user",
                target_id: s.user.id.as_str(),
            },
            now,
        ),
        Err(Refusal::Failed(f)) => audit::failure(
            &scope.tenant,
            &log_key,
            &who,
            Entry {
                action: "sso.login_failed",
                target_type: "sso",
                target_id: f.code(),
            },
            now,
        ),
        Err(Refusal::Error(_)) => return outcome,
    };
    svc.store
        .transact(vec![entry])
        .await
        .map_err(AppError::from)?;
    outcome
}

/// The provider's `error` as logged: its word characters, at most 64.
fn provider_code(e: &str) -> String {
    e.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

async fn complete(
    svc: &Services,
    scope: &Scope,
    hash: &str,
    rec: &Item,
    cb: Callback,
    who: &mut Actor,
    now: OffsetDateTime,
) -> Result<Session, Refusal> {
    if let Some(e) = cb.error.as_deref() {
        return Err(Failure::Provider(provider_code(e)).into());
    }
    let Some(code) = cb
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
    else {
        return Err(Failure::Provider("no_code".into()).into());
    };
    let pending: Pending = {
        let sealed = rec.b(attr::PENDING).unwrap_or_default();
        let json = scope
            .key
            .open(&pending_context(scope, hash), sealed)
            .map_err(AppError::from)?;
        serde_json::from_str(&json).map_err(|e| AppError::Internal(Box::new(e)))?
    };
    let Some(cfg) = get(svc, scope).await? else {
        return Err(Failure::NotConfigured.into());
    };
    if cb.iss.as_deref().is_some_and(|i| i != cfg.issuer) {
        return Err(Failure::Token("sso_token_issuer").into());
    }
    let d = discover(svc, &cfg.issuer).await?;
    let secret = cfg.secret(scope)?;
    let redirect = redirect_uri(svc);
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", pending.verifier.as_str()),
    ];
    // client_secret_post where the provider offers it (Entra ID, Okta, Google all do), else Basic, the
    // default of the specification.
    let post = d
        .token_endpoint_auth_methods_supported
        .as_ref()
        .is_some_and(|m| m.iter().any(|m| m == "client_secret_post"));
    let basic = if post {
        fields.push(("client_id", cfg.client_id.as_str()));
        fields.push(("client_secret", secret.expose_secret()));
        None
    } else {
        Some((cfg.client_id.as_str(), secret.expose_secret()))
    };
    let res = svc
        .web
        .post_form(&d.token_endpoint, &fields, basic)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: token endpoint unreachable");
            Failure::Unreachable
        })?;
    if res.status != 200 {
        let error = serde_json::from_slice::<serde_json::Value>(&res.body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
        tracing::info!(
            status = res.status,
            error,
            "single sign-on: the code exchange was refused"
        );
        return Err(Failure::Exchange.into());
    }
    let answer = serde_json::from_slice::<serde_json::Value>(&res.body).unwrap_or_default();
    let id_token = answer
        .get("id_token")
        .and_then(|t| t.as_str())
        .ok_or(Failure::Exchange)?;
    let mut claims = verify_id_token(svc, &d, &cfg, id_token, &pending.nonce).await?;
    // A provider may keep scope claims (email…) for the userinfo endpoint (OpenID Connect Core §5.4);
    // they are taken from there only for the same subject (§5.3.2).
    if !claims.contains_key(&cfg.claim)
        && let (Some(url), Some(access)) = (
            d.userinfo_endpoint.as_deref(),
            answer.get("access_token").and_then(|t| t.as_str()),
        )
    {
        let res = svc.web.get(url, Some(access)).await.map_err(|e| {
            tracing::warn!(error = %e, "single sign-on: userinfo unreachable");
            Failure::Unreachable
        })?;
        let info: serde_json::Map<String, serde_json::Value> = (res.status == 200)
            .then(|| serde_json::from_slice(&res.body).ok())
            .flatten()
            .ok_or(Failure::Unreachable)?;
        if info.get("sub").is_none() || info.get("sub") != claims.get("sub") {
            return Err(Failure::Token("sso_token_invalid").into());
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
    }
    let user = match_user(svc, scope, &cfg, &claims).await?;
    *who = Actor::User {
        id: user.id.to_string(),
        name: user.name.clone(),
    };
    if user.status == user::Status::Disabled {
        return Err(Failure::Disabled.into());
    }
    let tenant = tenant::load(svc, &scope.tenant).await?;
    if tenant.contract_ended(now) {
        return Err(Failure::ContractEnded.into());
    }
    let opened = principal::open_session(
        svc,
        &tenant,
        scope,
        &user,
        now,
        || AppError::conflict("sso_user_disabled", "the user was disabled or deleted"),
        Tx::new(),
    )
    .await;
    let (token, expires) = match opened {
        Ok(x) => x,
        Err(AppError::Conflict { .. }) => return Err(Failure::Disabled.into()),
        Err(e) => return Err(e.into()),
    };
    // The tenant's policy holds after a single sign-on too: a user who must have a second factor and has
    // none gets a session limited to enrolling one (computed again on every request).
    let mfa_enrolment_required = tenant.policy.requires_second_factor(&user) && !user.mfa;
    Ok(Session {
        token,
        expires,
        user,
        mfa_enrolment_required,
    })
}

/// The algorithms an ID token may be signed with: public-key ones only (never `none`, never HS*, whose key
/// would be the client secret).
fn allowed_alg(alg: jsonwebtoken::Algorithm) -> bool {
    use jsonwebtoken::Algorithm as A;
    matches!(
        alg,
        A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 | A::ES256 | A::ES384
    )
}

/// Verifies the ID token: signature by a key of the provider's JWKS, issuer, audience, expiry, nonce.
async fn verify_id_token(
    svc: &Services,
    d: &Discovery,
    cfg: &Config,
    token: &str,
    nonce: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
    use jsonwebtoken::errors::ErrorKind as K;
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| Failure::Token("sso_token_invalid"))?;
    if !allowed_alg(header.alg) {
        return Err(Failure::Token("sso_token_signature").into());
    }
    let res = svc.web.get(&d.jwks_uri, None).await.map_err(|e| {
        tracing::warn!(error = %e, "single sign-on: the provider's keys are unreachable");
        Failure::Unreachable
    })?;
    let jwks: jsonwebtoken::jwk::JwkSet = (res.status == 200)
        .then(|| serde_json::from_slice(&res.body).ok())
        .flatten()
        .ok_or(Failure::Unreachable)?;
    let jwk = match header.kid.as_deref() {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or(Failure::Token("sso_token_signature"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
        .map_err(|_| Failure::Token("sso_token_signature"))?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.leeway = LEEWAY;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.set_issuer(&[cfg.issuer.as_str()]);
    v.set_audience(&[cfg.client_id.as_str()]);
    let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &v)
        .map_err(|e| {
            Failure::Token(match e.kind() {
                K::InvalidSignature | K::InvalidAlgorithm | K::InvalidKeyFormat => {
                    "sso_token_signature"
                }
                K::ExpiredSignature | K::ImmatureSignature => "sso_token_expired",
                K::InvalidIssuer => "sso_token_issuer",
                K::InvalidAudience => "sso_token_audience",
                _ => "sso_token_invalid",
            })
        })?;
    let claims = data.claims;
    // OpenID Connect Core §3.1.3.7: with several audiences, the authorized party is this client.
    if claims.get("aud").is_some_and(|a| a.is_array())
        && claims
            .get("aud")
            .and_then(|a| a.as_array())
            .is_some_and(|a| a.len() > 1)
        && claims.get("azp").and_then(|a| a.as_str()) != Some(cfg.client_id.as_str())
    {
        return Err(Failure::Token("sso_token_audience").into());
    }
    match claims.get("nonce").and_then(|n| n.as_str()) {
        Some(n) if same_secret(n, nonce) => Ok(claims),
        _ => Err(Failure::Token("sso_token_nonce").into()),
    }
}

/// The existing user the verified claim names, within the allowed domains.
async fn match_user(
    svc: &Services,
    scope: &Scope,
    cfg: &Config,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<UserRecord, Refusal> {
    let value = claims
        .get(&cfg.claim)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Failure::NoClaim)?;
    if cfg.claim == "email" {
        let verified = match claims.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => *b,
            // Some providers send it as a string.
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(Failure::EmailUnverified.into());
        }
    }
    if !cfg.domains.is_empty() {
        let domain = value
            .rsplit_once('@')
            .and_then(|(_, d)| domain_ascii(d))
            .ok_or(Failure::Domain)?;
        if !cfg.domains.contains(&domain) {
            return Err(Failure::Domain.into());
        }
    }
    let login = Login::parse(value).ok_or(Failure::NoAccount)?;
    principal::user_by_login(svc, scope, &login)
        .await?
        .ok_or_else(|| Failure::NoAccount.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_compare_in_ascii_lower_case() {
        assert_eq!(
            domain_ascii("Example.CO.JP").as_deref(),
            Some("example.co.jp")
        );
        assert_eq!(domain_ascii("@例え.jp").as_deref(), Some("xn--r8jz45g.jp"));
        assert_eq!(domain_ascii("localhost"), None);
        assert_eq!(domain_ascii(""), None);
    }

    #[test]
    fn only_public_key_algorithms() {
        use jsonwebtoken::Algorithm as A;
        assert!(allowed_alg(A::RS256) && allowed_alg(A::ES256));
        assert!(!allowed_alg(A::HS256) && !allowed_alg(A::HS512));
    }

    #[test]
    fn claim_names() {
        assert_eq!(parse_claim(None).unwrap(), "email");
        assert_eq!(
            parse_claim(Some("preferred_username")).unwrap(),
            "preferred_username"
        );
        assert!(parse_claim(Some("a b")).is_err());
    }
}
