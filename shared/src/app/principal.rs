//! Who calls: the session behind every tenant endpoint resolved to its [`Principal`] (user, grants, the
//! tenant's policy), and the session a login or a single sign-on opens.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::Actor;
use crate::app::layout::{self, attr};
use crate::app::records::tenant;
use crate::app::records::token::{SESSION, live_token, session_writes};
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::records::user::not_disabled;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::permissions::Grants;
use crate::domain::values::Login;
use crate::ports::prefetch::Prefetched;
use crate::ports::{Change, Cond, Item, Table, Value, Write};

/// The caller of a tenant endpoint, established from the session alone.
pub struct Principal {
    pub scope: Scope,
    pub user: UserRecord,
    pub grants: Grants,
    pub session_hash: String,
    /// The tenant's sign-in policy, read with the user (no extra request).
    pub policy: crate::app::records::policy::SignInPolicy,
    /// The policy requires a second factor this user has not enrolled: the session may only enrol one
    /// (`http::policy::open_during_enrolment`), until the user has one (then the same session goes on).
    pub mfa_enrolment_required: bool,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.user.id.to_string(),
            name: self.user.name.clone(),
        }
    }

    /// Who acts and with what rights, for the use cases that name another account (`app::access`).
    pub fn authority(&self) -> Authority {
        Authority {
            actor: self.actor(),
            grants: self.grants.clone(),
            org_admin: self.user.org_admin,
        }
    }
}

/// Resolves a bearer token to its principal for a caller inside the process (tests, tools), which has
/// no network address: everything [`authenticate_from`] checks but the IP allow-list.
pub async fn authenticate(
    svc: &Services,
    token: &str,
    now: OffsetDateTime,
) -> Result<Principal, AppError> {
    authenticate_from(svc, token, None, now).await
}

/// Resolves a bearer token, sent from `source` (the client's address as `http::extract::ClientIp` takes
/// it), to its principal. A dead, expired, idle or over-age session is the same 401; an address outside
/// the tenant's IP allow-list is 403 `ip_not_allowed`.
pub async fn authenticate_from(
    svc: &Services,
    token: &str,
    source: Option<&str>,
    now: OffsetDateTime,
) -> Result<Principal, AppError> {
    authenticate_with(svc, token, source, now, &|_| Vec::new())
        .await
        .map(|(p, _)| p)
}

/// [`authenticate_from`], reading with the session the items of the caller's tenant under the sort keys
/// `also` gives for the caller (what the route will read by key: the user its path names, the caller's
/// subscriptions…), in the same BatchGetItem. Once
/// the session is checked, those items, the caller's user item and the tenant item are returned for the
/// request to be served from (`ports::prefetch`); on any failure nothing read is handed out.
pub async fn authenticate_with(
    svc: &Services,
    token: &str,
    source: Option<&str>,
    now: OffsetDateTime,
    also: &AlsoRead<'_>,
) -> Result<(Principal, Prefetched), AppError> {
    let hash = crypto::token_hash(token);
    let Some(SessionItems {
        rec,
        tenant,
        user_item,
        meta,
        prefetched,
    }) = session_items(svc, token, &hash, now, also).await?
    else {
        return Err(AppError::Unauthenticated);
    };
    // A tenant being purged has lost its data key: its sessions are over, not "not found". The key is
    // cached after the first request of a process; only then is it read (and unwrapped) here.
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(AppError::Unauthenticated),
        Err(e) => return Err(e),
    };
    let tenant_record = tenant::TenantRecord::from_item(&tenant, &meta);
    if tenant_record
        .contract_last_moment()
        .is_some_and(|end| now >= end)
    {
        return Err(AppError::Unauthenticated);
    }
    let user = UserRecord::from_item(&scope, &user_item)?;
    // A disabled user's sessions end with the disabling write, before their token items are swept.
    if user.status == user::Status::Disabled {
        return Err(AppError::Unauthenticated);
    }
    // The sign-in policy came with the tenant item: as it is now, whenever the session was opened.
    let policy = tenant_record.policy;
    if let Some(src) = source
        && !policy.allows_ip(src)
    {
        return Err(AppError::IpNotAllowed);
    }
    // Sessions opened before `created` was recorded count from their expiry less the service lifetime.
    let created = rec.n(attr::CREATED).unwrap_or_else(|| {
        rec.n(attr::EXPIRES).unwrap_or(0) - svc.settings.session_ttl.whole_seconds()
    });
    if let Some(m) = policy.session_lifetime_minutes
        && now.unix_timestamp() >= created + m * 60
    {
        return Err(AppError::Unauthenticated);
    }
    let seen = rec.n(attr::SEEN).unwrap_or(created);
    if crate::app::records::policy::idle_check(&policy, seen, now)? {
        // Rare by design (a tenth of the timeout apart); a lost refresh only ends the session sooner.
        let w = Write::Update {
            table: Table::Data,
            pk: layout::token_pk(&hash),
            sk: layout::TOKEN_SK.into(),
            changes: vec![Change::Set(attr::SEEN, Value::N(now.unix_timestamp()))],
            cond: Some(Cond::Exists),
        };
        if let Err(e) = svc.store.transact(vec![w]).await {
            tracing::warn!(error = %e, "a session's last-seen time was not refreshed");
        }
    }
    let mfa_enrolment_required = policy.requires_second_factor(&user) && !user.mfa;
    let grants = crate::app::records::role::grants_of(svc, &scope, &user.role_id)
        .await?
        .unwrap_or_default();
    Ok((
        Principal {
            scope,
            user,
            grants,
            session_hash: hash,
            policy,
            mfa_enrolment_required,
        },
        prefetched,
    ))
}

/// A new session token, `<tenant id>.<user id>.<secret>`: the ids in clear let the session check read the
/// session, the caller and the tenant item in one BatchGetItem (`session_items`); the secret is
/// [`crypto::new_token`]'s 256 random bits. Only the SHA-256 of the whole token is stored, so a token whose
/// ids are altered finds no session. Ids are not secrets (they are in URLs and answers already); clients
/// still treat the token as opaque.
pub(crate) fn new_session_token(tenant: &TenantId, user: &UserId) -> (SecretString, String) {
    use secrecy::ExposeSecret as _;
    let (secret, _) = crypto::new_token();
    let token = format!("{tenant}.{user}.{}", secret.expose_secret());
    let hash = crypto::token_hash(&token);
    (SecretString::from(token), hash)
}

/// The tenant and user a session token of the form of [`new_session_token`] names (not yet verified:
/// only its stored item, found by the hash of the whole token, vouches for them). `None` for any other
/// text with a dot; a token without one is of the older, bare form.
fn ids_of_session_token(token: &str) -> Option<(TenantId, UserId)> {
    let mut parts = token.splitn(3, '.');
    let (tenant, user, secret) = (parts.next()?, parts.next()?, parts.next()?);
    (secret.len() >= 43 && !secret.contains('.')).then_some(())?;
    Some((TenantId::parse(tenant)?, UserId::parse(user)?))
}

/// The sort keys, in the caller's tenant partition, of what a request will read besides the session check,
/// given the caller (known from the token, vouched for by the session item before anything read is used).
pub type AlsoRead<'a> = dyn Fn(&UserId) -> Vec<String> + Sync + 'a;

/// What the session check reads: the live session item, the tenant it belongs to, its user's item and the
/// tenant item; and for the request, those two items and the ones asked for besides (found or not).
struct SessionItems {
    rec: Item,
    tenant: TenantId,
    user_item: Item,
    meta: Item,
    prefetched: Prefetched,
}

/// The session of `token` (hash `hash`) with its user and tenant items, or `None` (a 401) when any of them
/// is missing or the session is not live. A token naming its tenant and user takes ONE BatchGetItem, and
/// its session item must name exactly that tenant and user; a bare token (sessions opened before the ids
/// were in the token) reads its session item first to learn them, then the two others. The items of the
/// tenant's partition under the sort keys `also` gives for the user come in the same BatchGetItem.
async fn session_items(
    svc: &Services,
    token: &str,
    hash: &str,
    now: OffsetDateTime,
    also: &AlsoRead<'_>,
) -> Result<Option<SessionItems>, AppError> {
    let live = |r: &Item| {
        r.s(attr::KIND) == Some(SESSION) && r.n(attr::EXPIRES).unwrap_or(0) > now.unix_timestamp()
    };
    let (rec, tenant, user_id) = if token.contains('.') {
        let Some((tenant, user_id)) = ids_of_session_token(token) else {
            return Ok(None);
        };
        (None, tenant, user_id)
    } else {
        let Some(rec) = live_token(svc, hash, &[SESSION], now).await? else {
            return Ok(None);
        };
        let tenant = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
        let user_id = UserId::from_stored(rec.s(attr::USER).unwrap_or_default());
        (Some(rec), tenant, user_id)
    };
    let pk = layout::tenant_pk(&tenant);
    let user_key = (pk.clone(), layout::user_sk(&user_id));
    let meta_key = (pk.clone(), layout::META.to_owned());
    let token_key = (layout::token_pk(hash), layout::TOKEN_SK.to_owned());
    // The user and the tenant in the same read: a deleted user's sessions die with the profile (before
    // their token items are swept), and every session ends at the tenant's current contract end.
    let mut keys = vec![user_key.clone(), meta_key.clone()];
    if rec.is_none() {
        keys.push(token_key.clone());
    }
    // Each key once (BatchGetItem refuses a key given twice): the path may name the caller.
    let mut extra: Vec<(String, String)> = Vec::new();
    for sk in also(&user_id) {
        let key = (pk.clone(), sk);
        if !keys.contains(&key) && !extra.contains(&key) {
            extra.push(key);
        }
    }
    keys.extend(extra.iter().cloned());
    let mut items = svc.store.batch_get(Table::Data, &keys).await?;
    let mut take = |(pk, sk): &(String, String)| {
        let i = items.iter().position(|i| &i.pk == pk && &i.sk == sk)?;
        Some(items.swap_remove(i))
    };
    let (Some(user_item), Some(meta)) = (take(&user_key), take(&meta_key)) else {
        return Ok(None);
    };
    let rec = match rec {
        Some(rec) => rec,
        None => match take(&token_key) {
            Some(rec)
                if live(&rec)
                    && rec.s(attr::TENANT) == Some(tenant.as_str())
                    && rec.s(attr::USER) == Some(user_id.as_str()) =>
            {
                rec
            }
            _ => return Ok(None),
        },
    };
    let mut prefetched = Prefetched::default();
    for key in extra {
        let found = take(&key);
        prefetched.insert(key.0, key.1, found);
    }
    prefetched.insert(user_key.0, user_key.1, Some(user_item.clone()));
    prefetched.insert(meta_key.0, meta_key.1, Some(meta.clone()));
    Ok(Some(SessionItems {
        rec,
        tenant,
        user_item,
        meta,
        prefetched,
    }))
}

pub struct Session {
    pub token: SecretString,
    pub expires: OffsetDateTime,
    pub user: UserRecord,
    /// The tenant's policy requires a second factor the user has not enrolled: the session is limited
    /// to enrolling one.
    pub mfa_enrolment_required: bool,
}

/// Opens a session for `user` (a password login, or a single sign-on): its token, and when it ends. The
/// user must still exist, and not be disabled, when the session is made (else `gone`). `with` is written
/// in the same transaction (a login's throttle bookkeeping), so a login costs one write.
pub(crate) async fn open_session(
    svc: &Services,
    tenant: &tenant::TenantRecord,
    scope: &Scope,
    user: &UserRecord,
    now: OffsetDateTime,
    gone: fn() -> AppError,
    with: Tx,
) -> Result<(SecretString, OffsetDateTime), AppError> {
    let (token, hash) = new_session_token(&scope.tenant, &user.id);
    let expires = session_expires(svc, tenant, now);
    let mut tx = with;
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(&user.id),
            cond: Cond::And(vec![Cond::Exists, not_disabled()]),
        },
        gone,
    );
    for w in session_writes(scope, &user.id, &hash, now, expires) {
        tx.push(w);
    }
    tx.commit(svc.store.as_ref()).await?;
    Ok((token, expires))
}

/// The tenant's user whose e-mail address or login id this is (through its guard item), if any.
pub(crate) async fn user_by_login(
    svc: &Services,
    scope: &Scope,
    login: &Login,
) -> Result<Option<UserRecord>, AppError> {
    let sk = login_guard_sk(scope, login);
    let Some(guard) = svc.store.get(Table::Data, &scope.pk(), &sk).await? else {
        return Ok(None);
    };
    let uid = UserId::from_stored(guard.s(attr::USER).unwrap_or_default());
    match user::load(svc, scope, &uid).await {
        Ok(u) => Ok(Some(u)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The sort key of the guard item that maps a login (e-mail or login id) to its user.
pub(crate) fn login_guard_sk(scope: &Scope, login: &Login) -> String {
    match login {
        Login::Email(e) => layout::email_guard_sk(&user::email_index(&scope.key, e)),
        Login::LoginId(l) => layout::login_guard_sk(&user::login_index(&scope.key, l)),
    }
}

/// When a session opened at `now` ends: after the session lifetime (the tenant's policy, else the
/// service's), and never after the contract.
pub(crate) fn session_expires(
    svc: &Services,
    tenant: &crate::app::records::tenant::TenantRecord,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let end = now + tenant.policy.session_lifetime(svc.settings.session_ttl);
    match tenant.contract_last_moment() {
        Some(contract) => end.min(contract),
        None => end,
    }
}
