//! The second factor: TOTP (RFC 6238, `totp-rs`) enrolled by the user, ten single-use recovery codes, and
//! the login step that completes a password login with a code (issue 22).
//!
//! - The secret (160 random bits) is sealed under the tenant's data key on the user item, as the user's
//!   personal data is: `mfa_pending` from the enrolment until its first code, then `mfa`.
//! - A code is accepted for the step before, the current one and the one after (30 s each), and only for a
//!   step later than the last one accepted (`mfa_step`, written with the condition that it is still
//!   earlier): a code used once cannot be used again, not even by two requests at once.
//! - Recovery codes are stored as the SHA-256 of user and code, each in its own item on the user's side of
//!   the tokens (`UTOK#<user>#<hash>`, kind `recovery`): using one is a conditional delete in the
//!   transaction that opens the session, and a new set (or removing the factor) deletes the old set in
//!   the transaction that writes the change.
//! - The login challenge is a token like the others (256 random bits, only its SHA-256 stored, kind
//!   `mfa_challenge`, 5 minutes) that opens no session; the code step deletes it in the transaction that
//!   opens one, so it is used once.

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::principal::{Principal, Session};
use crate::app::records::factor::{CHALLENGE, RECOVERY};
use crate::app::records::tenant;
use crate::app::records::token;
use crate::app::records::user::{self, UserRecord};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services, mail, throttle};
use crate::crypto;
use crate::domain::ids::{TenantId, UserId};
use crate::ports::{Change, Cond, Item, Table, Value, Write};

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// The issuer an authenticator app shows beside the account.
pub const ISSUER: &str = "Kanri";
const STEP_SECS: i64 = 30;

/// The secret's RFC 6238 generator: SHA-1, six digits, 30-second steps, one step of skew either way (what
/// every authenticator app reads from an `otpauth://` URI without parameters).
fn totp(secret: Vec<u8>, account: &str) -> Result<Totp, AppError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(secret)
        // A colon separates issuer and account in the URI's label, so none may be in the account.
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::Internal(format!("TOTP parameters: {e}").into()))
}

/// The step a code belongs to, if it is right for a step within the skew around `now`.
fn step_of(secret: Vec<u8>, code: &str, now: OffsetDateTime) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "").ok()?;
    let t = u64::try_from(now.unix_timestamp()).ok()?;
    totp.check(code, t).and_then(|s| i64::try_from(s).ok())
}

/// What an enrolment answers: the secret (base32, to type into an app) and the URI an app reads.
pub struct Enrolment {
    pub secret: SecretString,
    pub uri: SecretString,
}

/// The enrolment of a secret as an app reads it: base32 and the `otpauth://` URI naming the account.
fn enrolment(secret: Vec<u8>, user: &UserRecord) -> Result<Enrolment, AppError> {
    let generator = totp(secret, &account_label(user))?;
    let uri = generator
        .to_url()
        .map_err(|e| AppError::Internal(format!("otpauth URI: {e}").into()))?;
    Ok(Enrolment {
        secret: SecretString::from(generator.secret().to_base32()),
        uri: SecretString::from(uri),
    })
}

fn account_label(user: &UserRecord) -> String {
    user.email
        .clone()
        .or_else(|| user.login_id.clone())
        .unwrap_or_else(|| user.name.clone())
}

fn sealed(scope: &Scope, user: &UserId, field: &str, secret: &[u8]) -> Value {
    Value::B(
        scope
            .key
            .seal_bytes(&scope.context(user.as_str(), field), secret),
    )
}

fn opened(
    scope: &Scope,
    user: &UserId,
    item: &Item,
    field: &str,
) -> Result<Option<Vec<u8>>, AppError> {
    match item.b(field) {
        Some(b) => Ok(Some(
            scope
                .key
                .open_bytes(&scope.context(user.as_str(), field), b)?,
        )),
        None => Ok(None),
    }
}

async fn user_item(svc: &Services, scope: &Scope, user: &UserId) -> Result<Item, AppError> {
    svc.store
        .get(Table::Data, &scope.pk(), &layout::user_sk(user))
        .await?
        .ok_or(AppError::NotFound("user"))
}

fn already_active() -> AppError {
    AppError::conflict(
        "mfa_already_enabled",
        "a second factor is already active; remove it first (DELETE /v1/me/mfa)",
    )
}

fn changed() -> AppError {
    AppError::conflict(
        "conflict",
        "the account changed while this request ran; try again",
    )
}

/// Starts (or starts again) an enrolment: a new secret waits for its first code; nothing is active yet.
pub async fn start(
    svc: &Services,
    p: &Principal,
    now: OffsetDateTime,
) -> Result<Enrolment, AppError> {
    if p.user.mfa {
        return Err(already_active());
    }
    let secret = crate::util::random_bytes::<20>().to_vec();
    let answer = enrolment(secret.clone(), &p.user)?;
    let log_key = svc.log_key(&p.scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: p.scope.pk(),
            sk: layout::user_sk(&p.user.id),
            changes: vec![Change::Set(
                attr::MFA_PENDING,
                sealed(&p.scope, &p.user.id, attr::MFA_PENDING, &secret),
            )],
            // The account as authenticated, without an active factor (confirming one moves `updated`).
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(p.user.updated))),
        },
        changed,
    );
    tx.push(audit::entry(
        &p.scope.tenant,
        &log_key,
        &p.actor(),
        Entry {
            action: "user.mfa_enrol",
            target_type: "user",
            target_id: p.user.id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(answer)
}

/// A recovery code: 12 characters from a lower-case alphabet without look-alikes (about 59 bits), shown in
/// groups of four. Typed back, spaces, hyphens and case do not matter.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut raw = String::with_capacity(12);
    while raw.len() < 12 {
        for b in crate::util::random_bytes::<32>() {
            // Rejection sampling keeps every character equally likely.
            if (b as usize) < ALPHABET.len() * (256 / ALPHABET.len()) && raw.len() < 12 {
                raw.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
}

/// The stored form of a recovery code: SHA-256 of the user and the code as normalised.
fn recovery_hash(user: &UserId, code: &str) -> Option<String> {
    let norm: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if norm.len() != 12 || !norm.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let mut h = Sha256::new();
    h.update(user.as_str().as_bytes());
    h.update([0]);
    h.update(norm.as_bytes());
    Some(crate::util::hex(&h.finalize()))
}

fn recovery_write(scope: &Scope, user: &UserId, hash: &str) -> Write {
    Write::put_new(
        Table::Data,
        Item::new(scope.pk(), layout::user_token_sk(user, hash))
            .with(attr::KIND, Value::S(RECOVERY.into())),
    )
}

/// The deletes of the user's recovery codes as they stand, to go into the transaction that replaces or
/// removes the factor: a concurrent request whose transaction fails then deletes nothing (deleting them
/// before or after the transaction could delete the set another request just answered).
async fn recovery_deletes(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
) -> Result<Vec<Write>, AppError> {
    Ok(recovery_keys(svc, scope, user)
        .await?
        .into_iter()
        .map(|sk| Write::delete(Table::Data, scope.pk(), sk))
        .collect())
}

/// One read of the user's token index for removing a factor: the deletes of its recovery codes, and the
/// keys of its open login challenges.
async fn factor_sweep(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
) -> Result<(Vec<Write>, Vec<(String, String)>), AppError> {
    let index = token::user_token_index(svc, scope, user).await?;
    let codes = index
        .iter()
        .filter(|i| i.s(attr::KIND) == Some(RECOVERY))
        .map(|i| Write::delete(Table::Data, scope.pk(), i.sk.clone()))
        .collect();
    Ok((codes, token::token_keys(user, index, &[CHALLENGE], None)))
}

/// The challenges' deletes that fit in `tx` beside `reserved` more writes, pushed into it; the others are
/// answered, to delete right after the commit.
fn push_challenges(
    tx: &mut Tx,
    scope: &Scope,
    mut challenges: Vec<(String, String)>,
    reserved: usize,
) -> Vec<(String, String)> {
    let room = crate::ports::store::MAX_TRANSACTION_ITEMS.saturating_sub(tx.len() + reserved) / 2;
    let after = challenges.split_off(room.min(challenges.len()));
    for w in token::token_deletes(scope, &challenges) {
        tx.push(w);
    }
    after
}

/// The sort keys of the user's unused recovery codes.
async fn recovery_keys(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
) -> Result<Vec<String>, AppError> {
    Ok(token::user_token_index(svc, scope, user)
        .await?
        .into_iter()
        .filter(|i| i.s(attr::KIND) == Some(RECOVERY))
        .map(|i| i.sk)
        .collect())
}

/// Confirms the pending enrolment with one code of its secret: the factor is active from now on, and the
/// ten recovery codes (answered once, here) replace any earlier set.
pub async fn confirm(
    svc: &Services,
    p: &Principal,
    code: &str,
    now: OffsetDateTime,
) -> Result<Vec<SecretString>, AppError> {
    let item = user_item(svc, &p.scope, &p.user.id).await?;
    if item.b(attr::MFA_SECRET).is_some() {
        return Err(already_active());
    }
    let Some(secret) = opened(&p.scope, &p.user.id, &item, attr::MFA_PENDING)? else {
        return Err(AppError::conflict(
            "mfa_not_pending",
            "no enrolment waits for a code; start one with POST /v1/me/mfa/totp",
        ));
    };
    let Some(step) = step_of(secret.clone(), code.trim(), now) else {
        return Err(AppError::invalid(
            "code",
            "the code is wrong or expired; type the code the app shows now",
        ));
    };
    let read_updated = item.n(attr::UPDATED).unwrap_or(0);
    // An earlier set goes in the same transaction: at no moment are two sets valid.
    let old_set = recovery_deletes(svc, &p.scope, &p.user.id).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let log_key = svc.log_key(&p.scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: p.scope.pk(),
            sk: layout::user_sk(&p.user.id),
            changes: vec![
                Change::Set(
                    attr::MFA_SECRET,
                    sealed(&p.scope, &p.user.id, attr::MFA_SECRET, &secret),
                ),
                Change::Remove(attr::MFA_PENDING),
                // The confirming code cannot then be used to sign in.
                Change::Set(attr::MFA_STEP, Value::N(step)),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(read_updated + 1)),
                ),
            ],
            // The pending secret as read: a newer enrolment started meanwhile is not confirmed by this code.
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(read_updated))),
        },
        changed,
    );
    for w in old_set {
        tx.push(w);
    }
    for c in &codes {
        if let Some(h) = recovery_hash(&p.user.id, c) {
            tx.push(recovery_write(&p.scope, &p.user.id, &h));
        }
    }
    tx.push(audit::entry(
        &p.scope.tenant,
        &log_key,
        &p.actor(),
        Entry {
            action: "user.mfa_enable",
            target_type: "user",
            target_id: p.user.id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(codes.into_iter().map(SecretString::from).collect())
}

/// Removes the second factor (active or pending) after the current password verified, with its recovery
/// codes and any login challenge still open.
pub async fn remove(
    svc: &Services,
    p: &Principal,
    password: SecretString,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if !crypto::verify_password(p.user.password_hash.clone(), password)
        .await
        .ok
    {
        return Err(AppError::invalid("password", "the password is wrong"));
    }
    let item = user_item(svc, &p.scope, &p.user.id).await?;
    if item.b(attr::MFA_SECRET).is_none() && item.b(attr::MFA_PENDING).is_none() {
        return Err(AppError::conflict(
            "mfa_not_enabled",
            "this account has no second factor",
        ));
    }
    let read_updated = item.n(attr::UPDATED).unwrap_or(0);
    let (codes, challenges) = factor_sweep(svc, &p.scope, &p.user.id).await?;
    let log_key = svc.log_key(&p.scope.tenant).await?;
    let mut tx = Tx::new();
    for w in codes {
        tx.push(w);
    }
    // Open login challenges go with the factor (one opened meanwhile finds no factor and is refused).
    let challenges_left = push_challenges(&mut tx, &p.scope, challenges, 2);
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: p.scope.pk(),
            sk: layout::user_sk(&p.user.id),
            changes: vec![
                Change::Remove(attr::MFA_SECRET),
                Change::Remove(attr::MFA_PENDING),
                Change::Remove(attr::MFA_STEP),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(read_updated + 1)),
                ),
            ],
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(read_updated))),
        },
        changed,
    );
    tx.push(audit::entry(
        &p.scope.tenant,
        &log_key,
        &p.actor(),
        Entry {
            action: "user.mfa_disable",
            target_type: "user",
            target_id: p.user.id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    token::delete_tokens(svc, &p.scope, challenges_left).await?;
    Ok(())
}

/// Where the signed-in user's second factor stands, for the enrolment page.
pub enum State {
    /// No factor and no enrolment waiting.
    Off,
    /// An enrolment waits for its first code: its secret, shown again until it is confirmed (to this
    /// user's own session only; starting again replaces it).
    Pending(Enrolment),
    /// A factor is active, with this many recovery codes unused.
    On { recovery_codes_left: usize },
}

/// The signed-in user's second factor as stored now.
pub async fn state(svc: &Services, p: &Principal) -> Result<State, AppError> {
    let item = user_item(svc, &p.scope, &p.user.id).await?;
    if item.b(attr::MFA_SECRET).is_some() {
        let left = recovery_keys(svc, &p.scope, &p.user.id).await?.len();
        return Ok(State::On {
            recovery_codes_left: left,
        });
    }
    match opened(&p.scope, &p.user.id, &item, attr::MFA_PENDING)? {
        Some(secret) => Ok(State::Pending(enrolment(secret, &p.user)?)),
        None => Ok(State::Off),
    }
}

/// Until when a login challenge can be completed, if it still can (read only: the code page's GET).
pub async fn challenge_expiry(
    svc: &Services,
    challenge: &str,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, AppError> {
    let rec = token::live_token(svc, &crypto::token_hash(challenge), &[CHALLENGE], now).await?;
    Ok(rec
        .and_then(|r| r.n(attr::EXPIRES))
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()))
}

/// An admin's reset of another user's second factor (a lost phone): the factor, a pending enrolment and
/// the recovery codes go, the user's open login challenges are revoked, the reset is in the operation log
/// and mailed to the user (when they have an address). The target rule applies (`app::access`), and
/// nobody resets their own factor this way: that is `DELETE /v1/me/mfa`, which asks for the password.
pub async fn reset(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if let Actor::User { id: me, .. } = &by.actor
        && me == id.as_str()
    {
        return Err(AppError::conflict(
            "cannot_reset_self",
            "you cannot reset your own second factor; remove it with your password (DELETE /v1/me/mfa)",
        ));
    }
    let item = user_item(svc, scope, id).await?;
    let user = UserRecord::from_item(scope, &item)?;
    by.check_target(svc, scope, &user).await?;
    if item.b(attr::MFA_SECRET).is_none() && item.b(attr::MFA_PENDING).is_none() {
        return Err(AppError::conflict(
            "mfa_not_enabled",
            "this account has no second factor",
        ));
    }
    let read_updated = item.n(attr::UPDATED).unwrap_or(0);
    let (codes, challenges) = factor_sweep(svc, scope, id).await?;
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    for w in codes {
        tx.push(w);
    }
    // Open login challenges go with the factor (one opened meanwhile finds no factor and is refused).
    let challenges_left = push_challenges(&mut tx, scope, challenges, 2);
    // Over the version the target rule was checked against: an account promoted meanwhile is not reset.
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(id),
            changes: vec![
                Change::Remove(attr::MFA_SECRET),
                Change::Remove(attr::MFA_PENDING),
                Change::Remove(attr::MFA_STEP),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(read_updated + 1)),
                ),
            ],
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(read_updated))),
        },
        changed,
    );
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: "user.mfa_reset",
            target_type: "user",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    token::delete_tokens(svc, scope, challenges_left).await?;
    if let Some(to) = &user.email {
        let tenant = tenant::load(svc, &scope.tenant).await?;
        let m = mail::mfa_reset(to, &user.name, &tenant.name);
        svc.send_mail(&scope.tenant, "mfa_reset", m, now).await;
    }
    Ok(())
}

/// The login's second step: a challenge from the password step and a TOTP code or a recovery code open
/// the same session a password login opens. A wrong, replayed or used code is [`AppError::InvalidCode`]
/// whichever it was, counted against [`throttle::MFA_PER_USER`] and the source's login budget; the
/// challenge stays usable until it expires or a code completes it.
pub async fn login(
    svc: &Services,
    challenge: &str,
    code: &str,
    source: &str,
    now: OffsetDateTime,
) -> Result<Session, AppError> {
    let hash = crypto::token_hash(challenge);
    let rec = token::live_token(svc, &hash, &[CHALLENGE], now)
        .await?
        .ok_or(AppError::InvalidChallenge)?;
    let tid = TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default());
    let uid = UserId::from_stored(rec.s(attr::USER).unwrap_or_default());
    let scope = match svc.scope(&tid).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(AppError::InvalidChallenge),
        Err(e) => return Err(e),
    };
    // Counted before the code is checked, given back on success (as the password step does).
    let subject = format!("{tid}|{uid}");
    let units = [
        (&throttle::LOGIN_PER_SOURCE, source),
        (&throttle::MFA_PER_USER, subject.as_str()),
    ];
    // The user and the tenant item are read while the units are taken (one BatchGetItem); the code is
    // checked only once both are done.
    let keys = [
        (scope.pk(), layout::user_sk(&uid)),
        (scope.pk(), layout::META.to_owned()),
    ];
    let (taken, items) = tokio::join!(
        throttle::take(svc, &units, now),
        svc.store.batch_get(Table::Data, &keys)
    );
    taken??;
    let items = items?;
    let Some(item) = items.iter().find(|i| i.sk == keys[0].1) else {
        return Err(AppError::InvalidChallenge);
    };
    let meta = items
        .iter()
        .find(|i| i.sk == layout::META)
        .ok_or(AppError::NotFound("tenant"))?;
    // The factor was removed since the password step: sign in again.
    let Some(secret) = opened(&scope, &uid, item, attr::MFA_SECRET)? else {
        return Err(AppError::InvalidChallenge);
    };
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let factor = if let Some(step) = step_of(secret, &code, now) {
        if item.n(attr::MFA_STEP).is_some_and(|last| step <= last) {
            return Err(AppError::InvalidCode);
        }
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(&uid),
            changes: vec![Change::Set(attr::MFA_STEP, Value::N(step))],
            // Of two requests with codes of one step, one wins.
            cond: Some(Cond::And(vec![
                Cond::Exists,
                user::not_disabled(),
                Cond::Not(Box::new(Cond::Ge(attr::MFA_STEP, step))),
            ])),
        }
    } else if let Some(h) = recovery_hash(&uid, &code) {
        Write::Delete {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_token_sk(&uid, &h),
            cond: Some(Cond::Eq(attr::KIND, Value::S(RECOVERY.into()))),
        }
    } else {
        return Err(AppError::InvalidCode);
    };
    let tenant = tenant::TenantRecord::from_item(&tid, meta);
    if tenant.contract_ended(now) {
        return Err(AppError::ContractEnded);
    }
    // The tenant's IP allow-list holds for the code step too (a challenge carried to another network).
    if !tenant.policy.allows_ip(source) {
        return Err(AppError::IpNotAllowed);
    }
    let user = UserRecord::from_item(&scope, item)?;
    // A user disabled since the password step does not get in (the answer looks like any refusal).
    if user.status == crate::app::records::user::Status::Disabled {
        return Err(AppError::InvalidChallenge);
    }
    let (token, session_hash) = crate::app::principal::new_session_token(&tid, &uid);
    let expires = crate::app::principal::session_expires(svc, &tenant, now);
    let mut tx = Tx::new();
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: layout::token_pk(&hash),
            sk: layout::TOKEN_SK.into(),
            cond: Some(Cond::Eq(attr::KIND, Value::S(CHALLENGE.into()))),
        },
        || AppError::InvalidChallenge,
    );
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::user_token_sk(&uid, &hash),
    ));
    // A recovery code used is in the operation log: the owner or an admin can see that one was spent.
    let recovery = matches!(factor, Write::Delete { .. });
    tx.guard(factor, || AppError::InvalidCode);
    if recovery {
        // The TOTP step's update carries the same condition on the user item.
        tx.guard(
            Write::Check {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::user_sk(&uid),
                cond: Cond::And(vec![Cond::Exists, user::not_disabled()]),
            },
            || AppError::InvalidChallenge,
        );
    }
    if recovery {
        let log_key = svc.log_key(&tid).await?;
        tx.push(audit::entry(
            &tid,
            &log_key,
            &Actor::User {
                id: uid.to_string(),
                name: user.name.clone(),
            },
            Entry {
                action: "user.mfa_recovery_code_used",
                target_type: "user",
                target_id: uid.as_str(),
            },
            now,
        ));
    }
    for w in token::session_writes(&scope, &uid, &session_hash, now, expires) {
        tx.push(w);
    }
    // The units go back in the same transaction: the source's, and the user's failures are forgotten.
    tx.push(throttle::give_back(
        &throttle::LOGIN_PER_SOURCE,
        source,
        now,
    ));
    tx.push(throttle::clear(&throttle::MFA_PER_USER, &subject, now));
    tx.commit(svc.store.as_ref()).await?;
    Ok(Session {
        token,
        expires,
        user,
        // The user has a factor: nothing to enrol.
        mfa_enrolment_required: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_right_within_one_step_either_way_only() {
        let secret = vec![7u8; 20];
        let t = 1_800_000_000i64;
        let g = totp(secret.clone(), "a@b.jp").unwrap();
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let code = g.generate(t as u64).to_string();
        assert_eq!(step_of(secret.clone(), &code, at(t)), Some(t / 30));
        assert_eq!(step_of(secret.clone(), &code, at(t + 30)), Some(t / 30));
        assert_eq!(step_of(secret.clone(), &code, at(t - 30)), Some(t / 30));
        assert_eq!(step_of(secret.clone(), &code, at(t + 90)), None);
        assert_eq!(step_of(secret.clone(), "12345", at(t)), None);
        assert_eq!(step_of(secret, "abcdef", at(t)), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_carries_the_secret() {
        let g = totp(vec![1u8; 20], "taro:x@example.jp").unwrap();
        let uri = g.to_url().unwrap();
        assert!(uri.starts_with("otpauth://totp/Kanri:taro%20x%40example.jp?secret="));
        assert!(uri.contains(&g.secret().to_base32()));
    }

    #[test]
    fn recovery_codes_compare_without_case_or_separators_and_per_user() {
        let c = new_recovery_code();
        assert_eq!(c.len(), 14);
        let u = UserId::from_stored("u1");
        let v = UserId::from_stored("u2");
        let h = recovery_hash(&u, &c).unwrap();
        assert_eq!(
            recovery_hash(&u, &c.replace('-', " ").to_uppercase()),
            Some(h.clone())
        );
        assert_ne!(recovery_hash(&v, &c), Some(h));
        assert_eq!(recovery_hash(&u, "123456"), None);
        assert_ne!(new_recovery_code(), c);
    }
}
