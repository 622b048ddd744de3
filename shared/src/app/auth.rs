//! Credentials and sessions: opaque tokens stored only as their SHA-256 (global `TOKEN#<hash>` record plus
//! the user's index item), login, logout, the session check behind every tenant endpoint, setting a
//! password with a one-time link, and changing one's own password.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::tx::Tx;
use crate::app::users::{self, UserRecord};
use crate::app::{AppError, Scope, Services};
use crate::app::{mail, tenants, throttle};
use crate::crypto;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::permissions::Grants;
use crate::domain::values::comparison_form;
use crate::domain::values::{Login, Password};
use crate::ports::{BatchWrite, Change, Cond, Item, Query, Table, Task, Value, Write};

pub const SESSION: &str = "session";
pub const INVITATION: &str = "invitation";
pub const RESET: &str = "reset";

/// The two items of a token: the global record found by hash, and the user's index item (so every token
/// of a user is one query). The TTL attribute lets DynamoDB drop them a day after expiry.
pub(crate) fn token_writes(
    scope: &Scope,
    user: &UserId,
    hash: &str,
    kind: &str,
    expires: OffsetDateTime,
) -> [Write; 2] {
    writes_of_token(scope, user, hash, kind, expires, None)
}

/// The items of a new session: a token whose global record also says when it was opened (`created`), so
/// that a session lifetime the tenant shortens later ends it on its next request.
pub(crate) fn session_writes(
    scope: &Scope,
    user: &UserId,
    hash: &str,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> [Write; 2] {
    let [global, index] = writes_of_token(scope, user, hash, SESSION, expires, None);
    let global = match global {
        Write::Put { table, item, cond } => Write::Put {
            table,
            item: item.with(attr::CREATED, Value::N(now.unix_timestamp())),
            cond,
        },
        w => w,
    };
    [global, index]
}

/// The items of a link mailed to a user (invitation, reset), bound to the address it was mailed to: once
/// the user's address is another, `set_password` refuses the link, even one that escaped revocation.
pub(crate) fn link_writes(
    scope: &Scope,
    user: &UserRecord,
    hash: &str,
    kind: &str,
    expires: OffsetDateTime,
) -> [Write; 2] {
    writes_of_token(
        scope,
        &user.id,
        hash,
        kind,
        expires,
        user.email_index.as_deref(),
    )
}

fn writes_of_token(
    scope: &Scope,
    user: &UserId,
    hash: &str,
    kind: &str,
    expires: OffsetDateTime,
    address: Option<&str>,
) -> [Write; 2] {
    let exp = expires.unix_timestamp();
    let ttl = exp + 86_400;
    let mut global = Item::new(layout::token_pk(hash), layout::TOKEN_SK)
        .with(attr::KIND, Value::S(kind.into()))
        .with(attr::TENANT, Value::S(scope.tenant.to_string()))
        .with(attr::USER, Value::S(user.to_string()))
        .with(attr::EXPIRES, Value::N(exp))
        .with(attr::TTL, Value::N(ttl));
    if let Some(a) = address {
        global = global.with(attr::EMAIL_INDEX, Value::S(a.to_owned()));
    }
    [
        Write::put_new(Table::Data, global),
        Write::put_new(
            Table::Data,
            Item::new(scope.pk(), layout::user_token_sk(user, hash))
                .with(attr::KIND, Value::S(kind.into()))
                .with(attr::EXPIRES, Value::N(exp))
                .with(attr::TTL, Value::N(ttl)),
        ),
    ]
}

/// The caller of a tenant endpoint, established from the session alone.
pub struct Principal {
    pub scope: Scope,
    pub user: UserRecord,
    pub grants: Grants,
    pub session_hash: String,
    /// The tenant's sign-in policy, read with the user (no extra request).
    pub policy: crate::app::sign_in_policy::SignInPolicy,
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

/// The item of a token of one of `kinds` (session, invitation, challenge, …) by the token's hash, when it
/// exists and has not expired: how every single-use or session token is looked up.
pub(crate) async fn live_token(
    svc: &Services,
    hash: &str,
    kinds: &[&str],
    now: OffsetDateTime,
) -> Result<Option<Item>, AppError> {
    let rec = svc
        .store
        .get(Table::Data, &layout::token_pk(hash), layout::TOKEN_SK)
        .await?;
    Ok(rec.filter(|r| {
        r.s(attr::KIND).is_some_and(|k| kinds.contains(&k))
            && r.n(attr::EXPIRES).unwrap_or(0) > now.unix_timestamp()
    }))
}

/// When a session opened at `now` ends: after the session lifetime (the tenant's policy, else the
/// service's), and never after the contract.
pub(crate) fn session_expires(
    svc: &Services,
    tenant: &crate::app::tenants::TenantRecord,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let end = now + tenant.policy.session_lifetime(svc.settings.session_ttl);
    match tenant.contract_last_moment() {
        Some(contract) => end.min(contract),
        None => end,
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
    let hash = crypto::token_hash(token);
    let Some(SessionItems {
        rec,
        tenant,
        user_item,
        meta,
    }) = session_items(svc, token, &hash, now).await?
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
    let tenant_record = tenants::TenantRecord::from_item(&tenant, &meta);
    if tenant_record
        .contract_last_moment()
        .is_some_and(|end| now >= end)
    {
        return Err(AppError::Unauthenticated);
    }
    let user = UserRecord::from_item(&scope, &user_item)?;
    // A disabled user's sessions end with the disabling write, before their token items are swept.
    if user.status == users::Status::Disabled {
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
    if crate::app::sign_in_policy::idle_check(&policy, seen, now)? {
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
    let grants = crate::app::roles::grants_of(svc, &scope, &user.role_id)
        .await?
        .unwrap_or_default();
    Ok(Principal {
        scope,
        user,
        grants,
        session_hash: hash,
        policy,
        mfa_enrolment_required,
    })
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

/// What the session check reads: the live session item, the tenant it belongs to, its user's item and the
/// tenant item.
struct SessionItems {
    rec: Item,
    tenant: TenantId,
    user_item: Item,
    meta: Item,
}

/// The session of `token` (hash `hash`) with its user and tenant items, or `None` (a 401) when any of them
/// is missing or the session is not live. A token naming its tenant and user takes ONE BatchGetItem, and
/// its session item must name exactly that tenant and user; a bare token (sessions opened before the ids
/// were in the token) reads its session item first to learn them, then the two others.
async fn session_items(
    svc: &Services,
    token: &str,
    hash: &str,
    now: OffsetDateTime,
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
    let meta_key = (pk, layout::META.to_owned());
    let token_key = (layout::token_pk(hash), layout::TOKEN_SK.to_owned());
    // The user and the tenant in the same read: a deleted user's sessions die with the profile (before
    // their token items are swept), and every session ends at the tenant's current contract end.
    let mut keys = vec![user_key.clone(), meta_key.clone()];
    if rec.is_none() {
        keys.push(token_key.clone());
    }
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
    Ok(Some(SessionItems {
        rec,
        tenant,
        user_item,
        meta,
    }))
}

pub struct LoginRequest {
    pub tenant: String,
    pub login: String,
    pub password: SecretString,
    /// The client's address (API Gateway's source IP, or the socket peer locally).
    pub source: String,
}

/// The throttling subject of an account: tenant and login as typed, folded, whether or not they exist.
fn account_subject(tenant: &str, login: &str) -> String {
    format!("{}|{}", comparison_form(tenant), comparison_form(login))
}

pub struct Session {
    pub token: SecretString,
    pub expires: OffsetDateTime,
    pub user: UserRecord,
    /// The tenant's policy requires a second factor the user has not enrolled: the session is limited
    /// to enrolling one.
    pub mfa_enrolment_required: bool,
}

/// What a right password leads to: a session, or, for a user with a second factor, a challenge to
/// complete with a code (`mfa::login`) and no session yet.
pub enum LoginOutcome {
    Session(Box<Session>),
    SecondFactor(crate::app::mfa::Challenge),
}

/// Unknown tenant, unknown user, a user without a password, a disabled user and a wrong password all
/// answer the same `InvalidCredentials` after one argon2 verification (against a dummy hash when there is
/// no user), and count alike against the throttling limits.
pub async fn login(
    svc: &Services,
    req: LoginRequest,
    now: OffsetDateTime,
) -> Result<LoginOutcome, AppError> {
    let account = account_subject(&req.tenant, &req.login);
    let pair = format!("{account}|{}", req.source);
    // Count first, then check: a unit of each limit is taken before the password is verified, and a
    // success gives it back. The source and the account-from-this-source lock; the account as a whole
    // only slows down (see docs/ARCHITECTURE.md, "Login throttling").
    let mut units = [
        (&throttle::LOGIN_PER_SOURCE, req.source.as_str()),
        (&throttle::LOGIN_PER_ACCOUNT_SOURCE, pair.as_str()),
        (&throttle::LOGIN_PER_ACCOUNT, account.as_str()),
    ];
    let slowed = match throttle::take(svc, &units, now).await? {
        Ok(()) => false,
        Err(full) if full.index == 2 => {
            units[2] = (&throttle::LOGIN_ACCOUNT_SLOWED, account.as_str());
            throttle::take(svc, &units, now).await??;
            true
        }
        Err(full) => return Err(full.into()),
    };
    let found = find_login(svc, &req.tenant, &req.login).await?;
    let (tenant, scope, user) = match found {
        Some((t, s, u)) => (Some(t), Some(s), u),
        None => (None, None, None),
    };
    // The tenant's IP allow-list, before the password is looked at: from outside it nobody can try
    // passwords, and known and unknown logins are refused alike (the units taken count the attempt).
    if let Some(t) = &tenant
        && !t.policy.allows_ip(&req.source)
    {
        return Err(AppError::IpNotAllowed);
    }
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = crypto::verify_password(stored, req.password.clone()).await;
    let enabled = user
        .as_ref()
        .is_some_and(|u| u.status != users::Status::Disabled);
    let (Some(tenant), Some(scope), Some(mut user), true, true) =
        (tenant, scope, user, verified.ok, enabled)
    else {
        // The units taken stay taken: they count this failure.
        return Err(AppError::InvalidCredentials);
    };
    throttle::give_back(svc, &throttle::LOGIN_PER_SOURCE, &req.source, now).await?;
    if !slowed {
        throttle::give_back(svc, &throttle::LOGIN_PER_ACCOUNT, &account, now).await?;
    }
    throttle::clear(svc, &throttle::LOGIN_PER_ACCOUNT_SOURCE, &pair, now).await?;
    if tenant.contract_ended(now) {
        return Err(AppError::ContractEnded);
    }
    // A tenant that signs in through its identity provider (`required`) keeps the password for its org
    // admins only; told after the password verified, so only its holder learns it.
    if !user.org_admin && crate::app::sso::password_refused(svc, &scope).await? {
        return Err(AppError::SsoRequired);
    }
    if user.mfa {
        let challenge = crate::app::mfa::challenge(svc, &scope, &user, now).await?;
        return Ok(LoginOutcome::SecondFactor(challenge));
    }
    let (token, expires) = open_session(svc, &tenant, &scope, &user, now, || {
        AppError::InvalidCredentials
    })
    .await?;
    if verified.needs_rehash {
        // Parameters were raised since this hash was made: store a fresh one (best effort).
        if let Ok(h) = crypto::hash_password(req.password).await {
            let w = Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::user_sk(&user.id),
                changes: vec![Change::Set(attr::PASSWORD, Value::S(h.clone()))],
                cond: Some(Cond::Exists),
            };
            if svc.store.transact(vec![w]).await.is_ok() {
                user.password_hash = Some(h);
            }
        }
    }
    let mfa_enrolment_required = tenant.policy.requires_second_factor(&user) && !user.mfa;
    Ok(LoginOutcome::Session(Box::new(Session {
        token,
        expires,
        user,
        mfa_enrolment_required,
    })))
}

/// Opens a session for `user` (a password login, or a single sign-on): its token, and when it ends. The
/// user must still exist, and not be disabled, when the session is made (else `gone`).
pub(crate) async fn open_session(
    svc: &Services,
    tenant: &tenants::TenantRecord,
    scope: &Scope,
    user: &UserRecord,
    now: OffsetDateTime,
    gone: fn() -> AppError,
) -> Result<(SecretString, OffsetDateTime), AppError> {
    let (token, hash) = new_session_token(&scope.tenant, &user.id);
    let expires = session_expires(svc, tenant, now);
    let mut tx = Tx::new();
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

/// The tenant a login names (with its policy), and the user when there is one.
async fn find_login(
    svc: &Services,
    slug: &str,
    login: &str,
) -> Result<Option<(tenants::TenantRecord, Scope, Option<UserRecord>)>, AppError> {
    let Some(tid) = tenants::by_slug(svc, slug).await? else {
        return Ok(None);
    };
    let scope = svc.scope(&tid).await?;
    let tenant = tenants::load(svc, &tid).await?;
    let Some(login) = Login::parse(login) else {
        return Ok(Some((tenant, scope, None)));
    };
    let user = user_by_login(svc, &scope, &login).await?;
    Ok(Some((tenant, scope, user)))
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
    match users::load(svc, scope, &uid).await {
        Ok(u) => Ok(Some(u)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the session's two items.
pub async fn logout(svc: &Services, p: &Principal) -> Result<(), AppError> {
    svc.store
        .transact(vec![
            Write::delete(
                Table::Data,
                layout::token_pk(&p.session_hash),
                layout::TOKEN_SK,
            ),
            Write::delete(
                Table::Data,
                p.scope.pk(),
                layout::user_token_sk(&p.user.id, &p.session_hash),
            ),
        ])
        .await?;
    Ok(())
}

/// The condition that a user item is not disabled (a missing status, as before issue 18, is not).
pub(crate) fn not_disabled() -> Cond {
    Cond::Not(Box::new(Cond::Eq(
        attr::STATUS,
        Value::S(users::Status::Disabled.as_str().into()),
    )))
}

/// Revokes every token of a user (sessions, invitations, resets) except `keep`, in batches.
pub async fn revoke_tokens(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
    kinds: &[&str],
    keep: Option<&str>,
) -> Result<usize, AppError> {
    let prefix = layout::user_tokens_prefix(user);
    let mut after = None;
    let mut writes = Vec::new();
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), prefix.clone())
                    .after(after)
                    .limit(500),
            )
            .await?;
        for item in &page.items {
            let hash = item.sk.strip_prefix(&prefix).unwrap_or_default();
            if Some(hash) == keep || !kinds.iter().any(|k| item.s(attr::KIND) == Some(k)) {
                continue;
            }
            writes.push((layout::token_pk(hash), item.sk.clone()));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let n = writes.len();
    // The global records first: once they are gone the tokens no longer work.
    let globals = writes
        .iter()
        .map(|(pk, _)| BatchWrite::Delete {
            pk: pk.clone(),
            sk: layout::TOKEN_SK.into(),
        })
        .collect();
    svc.store.batch_write(Table::Data, globals).await?;
    let index = writes
        .into_iter()
        .map(|(_, sk)| BatchWrite::Delete { pk: scope.pk(), sk })
        .collect();
    svc.store.batch_write(Table::Data, index).await?;
    Ok(n)
}

/// Consumes an invitation or reset token: sets the password, activates the user, revokes every other
/// token of the user. A bad, used or expired token is `InvalidToken`; of two concurrent uses one wins.
pub async fn set_password(
    svc: &Services,
    token: &str,
    password: SecretString,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let hash = crypto::token_hash(token);
    let rec = live_token(svc, &hash, &[INVITATION, RESET], now)
        .await?
        .ok_or(AppError::InvalidToken)?;
    let kind = rec.s(attr::KIND).unwrap_or_default().to_owned();
    let tenant = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
    let uid = UserId::from_stored(rec.s(attr::USER).unwrap_or_default());
    // The tenant is being purged (its data key is gone): the link is dead like any other.
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(AppError::InvalidToken),
        Err(e) => return Err(e),
    };
    // The user and the tenant item (its sign-in policy: the minimum length) in one read.
    let keys = [
        (scope.pk(), layout::user_sk(&uid)),
        (scope.pk(), layout::META.to_owned()),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let Some(user_item) = items.iter().find(|i| i.sk == keys[0].1) else {
        return Err(AppError::InvalidToken);
    };
    let user = UserRecord::from_item(&scope, user_item)?;
    let policy = items
        .iter()
        .find(|i| i.sk == layout::META)
        .map(crate::app::sign_in_policy::SignInPolicy::from_item)
        .unwrap_or_default();
    // A link follows the address it was mailed to: after an e-mail change it sets nothing. A disabled
    // user's links were revoked with the disabling; one that escaped it is dead too.
    let moved = rec
        .s(attr::EMAIL_INDEX)
        .is_some_and(|sent_to| user.email_index.as_deref() != Some(sent_to));
    if moved || user.status == users::Status::Disabled {
        return Err(AppError::InvalidToken);
    }
    let password = Password::parse_min(password, &user.identities(), policy.min_password_chars())?;
    let pwd_hash = crypto::hash_password(SecretString::from(password.expose().to_owned())).await?;
    let log_key = svc.log_key(&tenant).await?;
    let mut tx = Tx::new();
    // Single use: the conditional delete lets exactly one of two concurrent requests through.
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: layout::token_pk(&hash),
            sk: layout::TOKEN_SK.into(),
            cond: Some(Cond::And(vec![
                Cond::Exists,
                Cond::Gt(attr::EXPIRES, now.unix_timestamp()),
            ])),
        },
        || AppError::InvalidToken,
    );
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::user_token_sk(&uid, &hash),
    ));
    // A process that still holds the data key of a tenant the purge has begun to erase: its tenant item is
    // gone, and so is the link.
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            cond: Cond::Exists,
        },
        || AppError::InvalidToken,
    );
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(&uid),
            changes: vec![
                Change::Set(attr::PASSWORD, Value::S(pwd_hash)),
                Change::Set(attr::STATUS, Value::S("active".into())),
                Change::Set(attr::MUST_CHANGE, Value::Bool(false)),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(user.updated + 1)),
                ),
            ],
            // The account as checked above: an address changed meanwhile voids the link.
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(user.updated))),
        },
        || {
            AppError::conflict(
                "conflict",
                "the account changed while this request ran; open the link again",
            )
        },
    );
    let action = if kind == INVITATION {
        "user.accept_invitation"
    } else {
        "user.reset_password"
    };
    tx.push(audit::entry(
        &tenant,
        &log_key,
        &Actor::LinkHolder {
            id: uid.to_string(),
        },
        Entry {
            action,
            target_type: "user",
            target_id: uid.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    revoke_tokens(svc, &scope, &uid, &[SESSION, INVITATION, RESET], None).await?;
    Ok(())
}

/// What a one-time link is, read without consuming it: the set-password page shows it when opened (mail
/// scanners open every link, so opening must not use it up; only [`set_password`] does).
pub enum Link {
    /// Usable: an invitation or reset for this user of this tenant, until `expires`.
    Valid {
        kind: &'static str,
        expires: OffsetDateTime,
        user: Box<UserRecord>,
        tenant: Box<tenants::TenantRecord>,
    },
    /// Issued but expired (kept until the store's TTL sweeps it).
    Expired { kind: &'static str },
    /// Used, replaced by a newer link, revoked, or never issued: nothing tells these apart.
    Unknown,
}

/// Reads a set-password link without changing anything.
pub async fn inspect_link(
    svc: &Services,
    token: &str,
    now: OffsetDateTime,
) -> Result<Link, AppError> {
    let hash = crypto::token_hash(token);
    let Some(rec) = svc
        .store
        .get(Table::Data, &layout::token_pk(&hash), layout::TOKEN_SK)
        .await?
    else {
        return Ok(Link::Unknown);
    };
    let kind = match rec.s(attr::KIND) {
        Some(INVITATION) => INVITATION,
        Some(RESET) => RESET,
        _ => return Ok(Link::Unknown),
    };
    let exp = rec.n(attr::EXPIRES).unwrap_or(0);
    if exp <= now.unix_timestamp() {
        return Ok(Link::Expired { kind });
    }
    let tenant_id = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
    let uid = UserId::from_stored(rec.s(attr::USER).unwrap_or_default());
    let scope = svc.scope(&tenant_id).await?;
    let user = match users::load(svc, &scope, &uid).await {
        Ok(u) if u.status == users::Status::Disabled => return Ok(Link::Unknown),
        Ok(u) => u,
        Err(AppError::NotFound(_)) => return Ok(Link::Unknown),
        Err(e) => return Err(e),
    };
    let tenant = tenants::load(svc, &tenant_id).await?;
    Ok(Link::Valid {
        kind,
        expires: OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now),
        user: Box::new(user),
        tenant: Box::new(tenant),
    })
}

/// The signed-in user changes their password: the current one must verify; other sessions are revoked.
pub async fn change_password(
    svc: &Services,
    p: &Principal,
    current: SecretString,
    new: SecretString,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if !crypto::verify_password(p.user.password_hash.clone(), current)
        .await
        .ok
    {
        return Err(AppError::invalid(
            "current_password",
            "the current password is wrong",
        ));
    }
    let password = Password::parse_min(new, &p.user.identities(), p.policy.min_password_chars())?;
    let pwd_hash = crypto::hash_password(SecretString::from(password.expose().to_owned())).await?;
    let log_key = svc.log_key(&p.scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: p.scope.pk(),
            sk: layout::user_sk(&p.user.id),
            changes: vec![
                Change::Set(attr::PASSWORD, Value::S(pwd_hash)),
                Change::Set(attr::MUST_CHANGE, Value::Bool(false)),
                Change::Set(attr::STATUS, Value::S("active".into())),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(p.user.updated + 1)),
                ),
            ],
            // Not over a disabling that happened while this request ran: that would enable the user.
            cond: Some(Cond::And(vec![Cond::Exists, not_disabled()])),
        },
        || AppError::Unauthenticated,
    );
    tx.push(audit::entry(
        &p.scope.tenant,
        &log_key,
        &p.actor(),
        Entry {
            action: "user.change_password",
            target_type: "user",
            target_id: p.user.id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    // An invitation still open would set another password over this one.
    revoke_tokens(
        svc,
        &p.scope,
        &p.user.id,
        &[SESSION, INVITATION, RESET],
        Some(&p.session_hash),
    )
    .await?;
    Ok(())
}

/// Self-service reset, the half that answers. After the per-source limit (a refusal is the only answer that
/// differs), it queues a [`Task::PasswordReset`] for every login of an existing tenant, naming the login only
/// by its blind index (no address or login id waits in the queue), and returns: whether the account exists is
/// looked at only by the worker ([`send_reset`]), so known and unknown accounts take the same steps here and
/// answer in the same time. Tenant slugs are not secret (every employee types theirs at sign-in), so an
/// unknown tenant answers without queueing.
pub async fn request_reset(
    svc: &Services,
    tenant: &str,
    login: &str,
    source: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    // Counted first (a conditional increment), so parallel requests cannot pass the limit together.
    throttle::take(svc, &[(&throttle::RESET_PER_SOURCE, source)], now).await??;
    let Some(tid) = tenants::by_slug(svc, tenant).await? else {
        return Ok(());
    };
    let Some(login) = Login::parse(login) else {
        return Ok(());
    };
    let scope = svc.scope(&tid).await?;
    svc.queue
        .enqueue(vec![Task::PasswordReset {
            tenant: tid.to_string(),
            guard: login_guard_sk(&scope, &login),
        }])
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))
}

/// The sort key of the guard item that maps a login (e-mail or login id) to its user.
fn login_guard_sk(scope: &Scope, login: &Login) -> String {
    match login {
        Login::Email(e) => layout::email_guard_sk(&users::email_index(&scope.key, e)),
        Login::LoginId(l) => layout::login_guard_sk(&users::login_index(&scope.key, l)),
    }
}

/// Self-service reset, the worker's half: mails a reset link (valid [`Settings::reset_ttl`], replacing
/// earlier ones) to the user behind `guard` when there is one, with an e-mail address, in a tenant whose
/// contract runs, at most [`throttle::RESET_PER_ACCOUNT`] times an hour. Anything else ends quietly: the
/// requester was answered long ago. A redelivered task mails again (a newer link), within the same limit.
///
/// [`Settings::reset_ttl`]: crate::app::Settings::reset_ttl
pub async fn send_reset(
    svc: &Services,
    tenant: &str,
    guard: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    // Only a login guard: a task is never a way to read another item.
    if !(guard.starts_with(&layout::email_guard_sk(""))
        || guard.starts_with(&layout::login_guard_sk("")))
    {
        tracing::warn!("a password-reset task without a login guard was dropped");
        return Ok(());
    }
    let tid = TenantId::from_stored(tenant.to_owned());
    let scope = match svc.scope(&tid).await {
        Ok(s) => s,
        // The tenant was deleted since.
        Err(AppError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    // Per account, whoever asks: the guard's key names the account without naming the person.
    let account = format!("{tenant}|{guard}");
    let units = [(&throttle::RESET_PER_ACCOUNT, account.as_str())];
    if throttle::take(svc, &units, now).await?.is_err() {
        return Ok(());
    }
    let Some(item) = svc.store.get(Table::Data, &scope.pk(), guard).await? else {
        return Ok(());
    };
    let uid = UserId::from_stored(item.s(attr::USER).unwrap_or_default());
    let user = match users::load(svc, &scope, &uid).await {
        Ok(u) => u,
        Err(AppError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(email) = user.email.clone() else {
        return Ok(());
    };
    if user.status == users::Status::Disabled {
        return Ok(());
    }
    if tenants::load(svc, &tid).await?.contract_ended(now) {
        return Ok(());
    }
    revoke_tokens(svc, &scope, &user.id, &[RESET], None).await?;
    let (token, hash) = crypto::new_token();
    let mut tx = Tx::new();
    for w in link_writes(&scope, &user, &hash, RESET, now + svc.settings.reset_ttl) {
        tx.push(w);
    }
    tx.commit(svc.store.as_ref()).await?;
    let link = users::set_password_link(svc, &token);
    svc.send_mail(
        &scope.tenant,
        "password_reset",
        mail::password_reset(&email, &user.name, &link),
        now,
    )
    .await;
    Ok(())
}

/// Where a user's invitation stands (operation 16 of the console).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invitation {
    /// A password is set: by the link, or generated.
    Used,
    /// A link waits to be used until then.
    Pending { expires: OffsetDateTime },
    /// The newest link expired unused then.
    Expired { expired: OffsetDateTime },
    /// No password and no link (a link made void, or one expired long ago and swept).
    None,
}

/// The state of a user's invitation: the newest invitation token of the user, read from the user's side
/// of the tokens (one query).
pub async fn invitation(
    svc: &Services,
    scope: &Scope,
    user: &UserRecord,
    now: OffsetDateTime,
) -> Result<Invitation, AppError> {
    if user.password_hash.is_some() {
        return Ok(Invitation::Used);
    }
    let mut newest: Option<i64> = None;
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(
                    Table::Data,
                    scope.pk(),
                    layout::user_tokens_prefix(&user.id),
                )
                .after(after)
                .limit(100),
            )
            .await?;
        for i in &page.items {
            if i.s(attr::KIND) == Some(INVITATION)
                && let Some(exp) = i.n(attr::EXPIRES)
            {
                newest = Some(newest.map_or(exp, |n| n.max(exp)));
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let Some(exp) = newest.and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok()) else {
        return Ok(Invitation::None);
    };
    Ok(if exp > now {
        Invitation::Pending { expires: exp }
    } else {
        Invitation::Expired { expired: exp }
    })
}

/// What re-issuing credentials hands back.
pub enum Reissued {
    Mailed,
    Generated(SecretString),
}

/// Re-issues a user's first credential: a new invitation link (earlier links stop working) or a new
/// generated password (the user must change it; their sessions end).
pub async fn reissue(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    user_id: &UserId,
    delivery: users::Delivery,
    now: OffsetDateTime,
) -> Result<Reissued, AppError> {
    let user = users::load(svc, scope, user_id).await?;
    by.check_target(svc, scope, &user).await?;
    if user.status == users::Status::Disabled {
        return Err(users::user_disabled());
    }
    let actor = &by.actor;
    let log_key = svc.log_key(&scope.tenant).await?;
    let entry = |action| Entry {
        action,
        target_type: "user",
        target_id: user_id.as_str(),
    };
    let changed = || {
        AppError::conflict(
            "conflict",
            "the user changed while this request ran; read it again and retry",
        )
    };
    match delivery {
        users::Delivery::InviteLink => {
            let email = user.email.clone().ok_or(AppError::DeliveryRequiresEmail)?;
            revoke_tokens(svc, scope, user_id, &[INVITATION, RESET], None).await?;
            let (token, hash) = crypto::new_token();
            let mut tx = Tx::new();
            tx.guard(
                Write::Check {
                    table: Table::Data,
                    pk: scope.pk(),
                    sk: layout::user_sk(user_id),
                    // The account as checked by the target rule.
                    cond: Cond::Eq(attr::UPDATED, Value::N(user.updated)),
                },
                changed,
            );
            for w in link_writes(
                scope,
                &user,
                &hash,
                INVITATION,
                now + svc.settings.invitation_ttl,
            ) {
                tx.push(w);
            }
            tx.push(audit::entry(
                &scope.tenant,
                &log_key,
                actor,
                entry("user.reissue_invitation"),
                now,
            ));
            tx.commit(svc.store.as_ref()).await?;
            let tenant = tenants::load(svc, &scope.tenant).await?;
            let link = users::set_password_link(svc, &token);
            svc.send_mail(
                &scope.tenant,
                "invitation",
                mail::invitation(&email, &user.name, &tenant.name, &link),
                now,
            )
            .await;
            Ok(Reissued::Mailed)
        }
        users::Delivery::Generated => {
            let policy = crate::app::sign_in_policy::load(svc, scope).await?;
            let password = crypto::generate_password_of(policy.generated_password_chars());
            let hash = crypto::hash_password(password.clone()).await?;
            let mut tx = Tx::new();
            tx.guard(
                Write::Update {
                    table: Table::Data,
                    pk: scope.pk(),
                    sk: layout::user_sk(user_id),
                    changes: vec![
                        Change::Set(attr::PASSWORD, Value::S(hash)),
                        Change::Set(attr::MUST_CHANGE, Value::Bool(true)),
                        Change::Set(attr::STATUS, Value::S("active".into())),
                        Change::Set(
                            attr::UPDATED,
                            Value::N(now.unix_timestamp().max(user.updated + 1)),
                        ),
                    ],
                    // The account as checked by the target rule.
                    cond: Some(Cond::Eq(attr::UPDATED, Value::N(user.updated))),
                },
                changed,
            );
            tx.push(audit::entry(
                &scope.tenant,
                &log_key,
                actor,
                entry("user.reissue_password"),
                now,
            ));
            tx.commit(svc.store.as_ref()).await?;
            revoke_tokens(svc, scope, user_id, &[SESSION, INVITATION, RESET], None).await?;
            Ok(Reissued::Generated(password))
        }
    }
}
