//! Credentials and sessions: opaque tokens stored only as their SHA-256 (global `TOKEN#<hash>` record plus
//! the user's index item), login, logout, the session check behind every tenant endpoint, setting a
//! password with a one-time link, and changing one's own password.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::principal::{Principal, Session, login_guard_sk, open_session};
use crate::app::records::tenant;
use crate::app::records::token::{INVITATION, RESET, SESSION, revoke_tokens, session_writes};
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::records::user::{link_writes, not_disabled};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::app::{mail, throttle};
use crate::crypto;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::values::comparison_form;
use crate::domain::values::{Login, Password};
use crate::ports::{Change, Cond, Query, Table, Task, Value, Write};

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

/// What a right password leads to: a session, or, for a user with a second factor, a challenge to
/// complete with a code (`mfa::login`) and no session yet.
pub enum LoginOutcome {
    Session(Box<Session>),
    SecondFactor(crate::app::records::factor::Challenge),
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
    // The account is read while the units are taken: the password is verified only once both are done,
    // so the reads cost no check, and a login costs the take, three reads and one write.
    let (taken, found) = tokio::join!(
        throttle::take(svc, &units, now),
        find_login(svc, &req.tenant, &req.login)
    );
    let slowed = match taken? {
        Ok(()) => false,
        Err(full) if full.index == 2 => {
            units[2] = (&throttle::LOGIN_ACCOUNT_SLOWED, account.as_str());
            throttle::take(svc, &units, now).await??;
            true
        }
        Err(full) => return Err(full.into()),
    };
    let (tenant, scope, user, sso_required) = match found? {
        Some(f) => (Some(f.tenant), Some(f.scope), f.user, f.sso_required),
        None => (None, None, None, false),
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
        .is_some_and(|u| u.status != user::Status::Disabled);
    let (Some(tenant), Some(scope), Some(mut user), true, true) =
        (tenant, scope, user, verified.ok, enabled)
    else {
        // The units taken stay taken: they count this failure.
        return Err(AppError::InvalidCredentials);
    };
    // A right password gives its units back (and clears the account's failures from this source) in the
    // transaction that opens the session or the challenge; on its own only when neither is opened.
    let mut back = Tx::new();
    back.push(throttle::give_back(
        &throttle::LOGIN_PER_SOURCE,
        &req.source,
        now,
    ));
    if !slowed {
        back.push(throttle::give_back(
            &throttle::LOGIN_PER_ACCOUNT,
            &account,
            now,
        ));
    }
    back.push(throttle::clear(
        &throttle::LOGIN_PER_ACCOUNT_SOURCE,
        &pair,
        now,
    ));
    if tenant.contract_ended(now) {
        back.commit(svc.store.as_ref()).await?;
        return Err(AppError::ContractEnded);
    }
    // A tenant that signs in through its identity provider (`required`) keeps the password for its org
    // admins only; told after the password verified, so only its holder learns it.
    if !user.org_admin && sso_required {
        back.commit(svc.store.as_ref()).await?;
        return Err(AppError::SsoRequired);
    }
    if user.mfa {
        let challenge =
            crate::app::records::factor::challenge(svc, &scope, &user, now, back).await?;
        return Ok(LoginOutcome::SecondFactor(challenge));
    }
    let (token, expires) = open_session(
        svc,
        &tenant,
        &scope,
        &user,
        now,
        || AppError::InvalidCredentials,
        back,
    )
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

/// What a login names: the tenant (with its policy), its scope, the user when there is one, and whether the
/// tenant's single sign-on is `required`.
struct Found {
    tenant: tenant::TenantRecord,
    scope: Scope,
    user: Option<UserRecord>,
    sso_required: bool,
}

/// The tenant a login names, and the user when there is one: the slug's item, the login's guard item, then
/// the tenant item, its SSO settings and the user in one BatchGetItem (three requests).
async fn find_login(svc: &Services, slug: &str, login: &str) -> Result<Option<Found>, AppError> {
    let Some(tid) = tenant::by_slug(svc, slug).await? else {
        return Ok(None);
    };
    let scope = svc.scope(&tid).await?;
    let uid = match Login::parse(login) {
        Some(login) => svc
            .store
            .get(Table::Data, &scope.pk(), &login_guard_sk(&scope, &login))
            .await?
            .map(|g| UserId::from_stored(g.s(attr::USER).unwrap_or_default())),
        None => None,
    };
    let mut keys = vec![
        (scope.pk(), layout::META.to_owned()),
        (scope.pk(), layout::SSO_SK.to_owned()),
    ];
    if let Some(uid) = &uid {
        keys.push((scope.pk(), layout::user_sk(uid)));
    }
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let find = |sk: &str| items.iter().find(|i| i.sk == sk);
    let meta = find(layout::META).ok_or(AppError::NotFound("tenant"))?;
    let tenant = tenant::TenantRecord::from_item(&tid, meta);
    let sso_required = find(layout::SSO_SK)
        .map(crate::app::records::sso::Config::from_item)
        .is_some_and(|c| c.mode == crate::app::records::sso::Mode::Required);
    let user = match keys.get(2).and_then(|(_, sk)| find(sk)) {
        Some(i) => Some(UserRecord::from_item(&scope, i)?),
        None => None,
    };
    Ok(Some(Found {
        tenant,
        scope,
        user,
        sso_required,
    }))
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

/// Consumes an invitation or reset token: sets the password, activates the user, revokes every other
/// token of the user. A bad, used or expired token is `InvalidToken`; of two concurrent uses one wins.
pub async fn set_password(
    svc: &Services,
    token: &str,
    password: SecretString,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    match use_link(svc, token, password, None, now).await? {
        LinkUse::Done { .. } => Ok(()),
        LinkUse::Dead(_) => Err(AppError::InvalidToken),
    }
}

/// What using a link did ([`use_link`]).
pub enum LinkUse {
    /// The password is set. `session` is the one opened with it, when one was asked for and the tenant's
    /// sign-in rules let it open here (else the login page signs the person in).
    Done {
        tenant_slug: String,
        session: Option<Box<Session>>,
    },
    /// The link cannot be used: [`Link::Expired`] or [`Link::Unknown`] (nothing was changed).
    Dead(Link),
}

/// Consumes an invitation or reset token as [`set_password`] does and, when `sign_in_from` gives the
/// client's address, opens the session the new password would open in the same transaction (the set-password
/// page signs the person in): the token item, one BatchGetItem (user, tenant item, SSO settings), one
/// transaction, one Query of the user's other tokens. No session opens for a user with a second factor
/// (the code is asked at the login page), from outside the tenant's IP allow-list, after the contract, or
/// for a user who must sign in through the identity provider; the password is set all the same.
pub async fn use_link(
    svc: &Services,
    token: &str,
    password: SecretString,
    sign_in_from: Option<&str>,
    now: OffsetDateTime,
) -> Result<LinkUse, AppError> {
    let hash = crypto::token_hash(token);
    let Some(rec) = svc
        .store
        .get(Table::Data, &layout::token_pk(&hash), layout::TOKEN_SK)
        .await?
    else {
        return Ok(LinkUse::Dead(Link::Unknown));
    };
    let kind = match rec.s(attr::KIND) {
        Some(INVITATION) => INVITATION,
        Some(RESET) => RESET,
        _ => return Ok(LinkUse::Dead(Link::Unknown)),
    };
    if rec.n(attr::EXPIRES).unwrap_or(0) <= now.unix_timestamp() {
        return Ok(LinkUse::Dead(Link::Expired { kind }));
    }
    let tenant = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
    let uid = UserId::from_stored(rec.s(attr::USER).unwrap_or_default());
    // The tenant is being purged (its data key is gone): the link is dead like any other.
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Ok(LinkUse::Dead(Link::Unknown)),
        Err(e) => return Err(e),
    };
    // The user, the tenant item (its sign-in policy: the minimum length, the IP allow-list) and the SSO
    // settings in one read.
    let keys = [
        (scope.pk(), layout::user_sk(&uid)),
        (scope.pk(), layout::META.to_owned()),
        (scope.pk(), layout::SSO_SK.to_owned()),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let find = |sk: &str| items.iter().find(|i| i.sk == sk);
    let Some(user_item) = find(&keys[0].1) else {
        return Ok(LinkUse::Dead(Link::Unknown));
    };
    let mut user = UserRecord::from_item(&scope, user_item)?;
    let Some(meta) = find(layout::META) else {
        return Ok(LinkUse::Dead(Link::Unknown));
    };
    let tenant_record = tenant::TenantRecord::from_item(&tenant, meta);
    let policy = &tenant_record.policy;
    let sso_required = find(layout::SSO_SK)
        .map(crate::app::records::sso::Config::from_item)
        .is_some_and(|c| c.mode == crate::app::records::sso::Mode::Required);
    // A link follows the address it was mailed to: after an e-mail change it sets nothing. A disabled
    // user's links were revoked with the disabling; one that escaped it is dead too.
    let moved = rec
        .s(attr::EMAIL_INDEX)
        .is_some_and(|sent_to| user.email_index.as_deref() != Some(sent_to));
    if moved || user.status == user::Status::Disabled {
        return Ok(LinkUse::Dead(Link::Unknown));
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
    let updated = now.unix_timestamp().max(user.updated + 1);
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(&uid),
            changes: vec![
                Change::Set(attr::PASSWORD, Value::S(pwd_hash.clone())),
                Change::Set(attr::STATUS, Value::S("active".into())),
                Change::Set(attr::MUST_CHANGE, Value::Bool(false)),
                Change::Set(attr::UPDATED, Value::N(updated)),
            ],
            // The account as checked above: an address changed (or a disabling) meanwhile voids the link,
            // and the session below opens for the account as checked.
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
    // The session the new password would open at the login page, under the same rules.
    let signs_in = sign_in_from.is_some_and(|source| {
        !user.mfa
            && policy.allows_ip(source)
            && !tenant_record.contract_ended(now)
            && (user.org_admin || !sso_required)
    });
    let session = if signs_in {
        let (token, session_hash) = crate::app::principal::new_session_token(&tenant, &uid);
        let expires = crate::app::principal::session_expires(svc, &tenant_record, now);
        for w in session_writes(&scope, &uid, &session_hash, now, expires) {
            tx.push(w);
        }
        Some((token, session_hash, expires))
    } else {
        None
    };
    tx.commit(svc.store.as_ref()).await?;
    revoke_tokens(
        svc,
        &scope,
        &uid,
        &[SESSION, INVITATION, RESET],
        session.as_ref().map(|(_, h, _)| h.as_str()),
    )
    .await?;
    user.password_hash = Some(pwd_hash);
    user.status = user::Status::Active;
    user.must_change_password = false;
    user.updated = updated;
    let mfa_enrolment_required = policy.requires_second_factor(&user);
    Ok(LinkUse::Done {
        tenant_slug: tenant_record.slug.clone(),
        session: session.map(|(token, _, expires)| {
            Box::new(Session {
                token,
                expires,
                user,
                mfa_enrolment_required,
            })
        }),
    })
}

/// What a one-time link is, read without consuming it: the set-password page shows it when opened (mail
/// scanners open every link, so opening must not use it up; only [`set_password`] does).
pub enum Link {
    /// Usable: an invitation or reset for this user of this tenant, until `expires`.
    Valid {
        kind: &'static str,
        expires: OffsetDateTime,
        user: Box<UserRecord>,
        tenant: Box<tenant::TenantRecord>,
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
    // The user and the tenant item (its name, slug and policy) in one read.
    let keys = [
        (scope.pk(), layout::user_sk(&uid)),
        (scope.pk(), layout::META.to_owned()),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let Some(user_item) = items.iter().find(|i| i.sk == keys[0].1) else {
        return Ok(Link::Unknown);
    };
    let user = UserRecord::from_item(&scope, user_item)?;
    if user.status == user::Status::Disabled {
        return Ok(Link::Unknown);
    }
    let meta = items
        .iter()
        .find(|i| i.sk == layout::META)
        .ok_or(AppError::NotFound("tenant"))?;
    let tenant = tenant::TenantRecord::from_item(&tenant_id, meta);
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
    let Some(tid) = tenant::by_slug(svc, tenant).await? else {
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
    let Some(item) = svc.store.get(Table::Data, &scope.pk(), guard).await? else {
        return Ok(());
    };
    let uid = UserId::from_stored(item.s(attr::USER).unwrap_or_default());
    // The user and the tenant item (the contract) in one read.
    let keys = [
        (scope.pk(), layout::user_sk(&uid)),
        (scope.pk(), layout::META.to_owned()),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let (Some(user_item), Some(meta)) = (
        items.iter().find(|i| i.sk == keys[0].1),
        items.iter().find(|i| i.sk == layout::META),
    ) else {
        return Ok(());
    };
    let user = UserRecord::from_item(&scope, user_item)?;
    let Some(email) = user.email.clone() else {
        return Ok(());
    };
    if user.status == user::Status::Disabled {
        return Ok(());
    }
    if tenant::TenantRecord::from_item(&tid, meta).contract_ended(now) {
        return Ok(());
    }
    // The new link replaces the older ones: they are deleted in its transaction (a handful at most, as
    // each link deletes those before it; a pile too large for it goes first in batches).
    let prefix = layout::user_tokens_prefix(&user.id);
    let older: Vec<String> = crate::app::records::token::user_token_index(svc, &scope, &user.id)
        .await?
        .into_iter()
        .filter(|i| i.s(attr::KIND) == Some(RESET))
        .filter_map(|i| i.sk.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    let in_tx = older.len() <= 40;
    if !in_tx {
        revoke_tokens(svc, &scope, &user.id, &[RESET], None).await?;
    }
    let (token, hash) = crypto::new_token();
    let mut tx = Tx::new();
    for w in link_writes(&scope, &user, &hash, RESET, now + svc.settings.reset_ttl) {
        tx.push(w);
    }
    if in_tx {
        for h in &older {
            tx.push(Write::delete(
                Table::Data,
                layout::token_pk(h),
                layout::TOKEN_SK,
            ));
            tx.push(Write::delete(
                Table::Data,
                scope.pk(),
                layout::user_token_sk(&user.id, h),
            ));
        }
    }
    // Per account, whoever asks, at most RESET_PER_ACCOUNT links an hour: the counter's conditional
    // increment is in the link's transaction, so parallel tasks cannot pass it together. The guard's key
    // names the account without naming the person.
    let account = format!("{tenant}|{guard}");
    tx.guard(
        throttle::unit(&throttle::RESET_PER_ACCOUNT, &account, now),
        || AppError::RateLimited { retry_after: 0 },
    );
    match tx.commit(svc.store.as_ref()).await {
        Ok(()) => {}
        Err(AppError::RateLimited { .. }) => return Ok(()),
        Err(e) => return Err(e),
    }
    let link = user::set_password_link(svc, &token);
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
