//! SCIM bearer tokens (issue 18): per-tenant credentials an organisation admin creates for an identity
//! provider (Entra ID, Okta). A token is shown once, stored only as its SHA-256 (the global `TOKEN#<hash>`
//! record of kind `scim`, as other tokens, plus the tenant's `SCIMTOK#<id>` item with its name, hash,
//! creation and last-use times), never expires, and acts for its tenant only, never as a user: the session
//! check refuses it (its kind is not `session`) and the SCIM check refuses every other kind.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::records::tenant;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto;
use crate::domain::ids::{ScimTokenId, TenantId, new_id};
use crate::domain::time::jst_from_unix;
use crate::domain::values::Name;
use crate::ports::{Change, Cond, Item, Query, Table, Value, Write};

/// The kind of a SCIM token's global record.
pub const SCIM: &str = "scim";
/// Tokens a tenant may hold at once (one or two per identity provider is the need).
pub const MAX_TOKENS: usize = 20;
/// The last-use time is written at most this often per token (seconds), so each SCIM request does not
/// cost a write.
const LAST_USED_EVERY: i64 = 60;

/// A token as the API lists it (never the secret, nor its hash).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

struct Stored {
    id: String,
    name: String,
    hash: String,
    created: i64,
    last_used: Option<i64>,
}

impl Stored {
    fn from_item(i: &Item) -> Self {
        Stored {
            id: i
                .sk
                .strip_prefix(layout::SCIM_TOKEN_PREFIX)
                .unwrap_or_default()
                .to_owned(),
            name: i.s(attr::NAME).unwrap_or_default().to_owned(),
            hash: i.s(attr::HASH).unwrap_or_default().to_owned(),
            created: i.n(attr::CREATED).unwrap_or(0),
            last_used: i.n(attr::LAST_USED),
        }
    }
    fn view(&self) -> TokenView {
        TokenView {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: jst_from_unix(self.created),
            last_used_at: self.last_used.map(jst_from_unix),
        }
    }
}

/// Creates a named token; the secret is returned here and never again.
pub async fn create(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    name: Name,
    now: OffsetDateTime,
) -> Result<(TokenView, SecretString), AppError> {
    by.require_org_admin()?;
    if list(svc, scope).await?.len() >= MAX_TOKENS {
        return Err(AppError::conflict(
            "scim_token_limit",
            format!("a tenant holds at most {MAX_TOKENS} SCIM tokens; revoke one first"),
        ));
    }
    let id = new_id();
    let (token, hash) = new_scim_token(&scope.tenant, &id);
    let ts = now.unix_timestamp();
    let mut tx = Tx::new();
    tx.push(Write::put_new(
        Table::Data,
        Item::new(layout::token_pk(&hash), layout::TOKEN_SK)
            .with(attr::KIND, Value::S(SCIM.into()))
            .with(attr::TENANT, Value::S(scope.tenant.to_string()))
            .with(attr::TOKEN_ID, Value::S(id.clone())),
    ));
    tx.push(Write::put_new(
        Table::Data,
        Item::new(scope.pk(), layout::scim_token_sk(&id))
            .with(attr::NAME, Value::S(name.as_str().to_owned()))
            .with(attr::HASH, Value::S(hash))
            .with(attr::CREATED, Value::N(ts)),
    ));
    // The tenant still exists (a purge has not begun).
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            cond: Cond::Exists,
        },
        || AppError::NotFound("tenant"),
    );
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: "scim_token.create",
            target_type: "scim_token",
            target_id: &id,
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    let view = TokenView {
        id,
        name: name.as_str().to_owned(),
        created_at: jst_from_unix(ts),
        last_used_at: None,
    };
    Ok((view, token))
}

async fn stored(svc: &Services, scope: &Scope) -> Result<Vec<Stored>, AppError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::SCIM_TOKEN_PREFIX)
                    .after(after)
                    .limit(100),
            )
            .await?;
        out.extend(page.items.iter().map(Stored::from_item));
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The tenant's tokens, oldest first.
pub async fn list(svc: &Services, scope: &Scope) -> Result<Vec<TokenView>, AppError> {
    Ok(stored(svc, scope).await?.iter().map(Stored::view).collect())
}

/// Revokes a token at once: both its items go in one transaction, so it stops working at the commit.
pub async fn revoke(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &ScimTokenId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    by.require_org_admin()?;
    let item = svc
        .store
        .get(
            Table::Data,
            &scope.pk(),
            &layout::scim_token_sk(id.as_str()),
        )
        .await?
        .ok_or(AppError::NotFound("scim token"))?;
    let t = Stored::from_item(&item);
    let mut tx = Tx::new();
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::scim_token_sk(id.as_str()),
            cond: Some(Cond::Exists),
        },
        || AppError::NotFound("scim token"),
    );
    tx.push(Write::delete(
        Table::Data,
        layout::token_pk(&t.hash),
        layout::TOKEN_SK,
    ));
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: "scim_token.revoke",
            target_type: "scim_token",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await
}

/// The caller of a SCIM endpoint: a tenant, through one of its tokens.
pub struct ScimCaller {
    pub scope: Scope,
    pub token_id: String,
    pub token_name: String,
}

impl ScimCaller {
    /// The token as the operation log names it (its id, and its name as the actor's name).
    pub fn actor(&self) -> Actor {
        Actor::ScimToken {
            id: self.token_id.clone(),
            name: self.token_name.clone(),
        }
    }

    /// What a SCIM token may do to accounts: what an organisation admin may (the identity provider is the
    /// organisation's own directory), recorded under the token.
    pub fn authority(&self) -> Authority {
        Authority {
            actor: self.actor(),
            grants: Default::default(),
            org_admin: true,
        }
    }
}

/// A new SCIM token naming its tenant and its own id in clear before the secret,
/// `<tenant id>.<token id>.<secret>` (as a session token names its tenant and user), so its check reads
/// the token's item and the tenant item in ONE BatchGetItem; and the SHA-256 of the whole token, which
/// the token's item keeps (a token whose ids are altered matches no item).
fn new_scim_token(tenant: &TenantId, id: &str) -> (SecretString, String) {
    use secrecy::ExposeSecret as _;
    let (secret, _) = crypto::new_token();
    let token = format!("{tenant}.{id}.{}", secret.expose_secret());
    let hash = crypto::token_hash(&token);
    (SecretString::from(token), hash)
}

/// The tenant and token id a SCIM token of the form of [`new_scim_token`] names (not yet verified: only the
/// hash its item keeps vouches for them). `None` for a bare token (made before the ids were in it).
fn ids_of_scim_token(token: &str) -> Option<(TenantId, String)> {
    let mut parts = token.splitn(3, '.');
    let (tenant, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    (secret.len() >= 43 && !secret.contains('.') && crate::domain::ids::looks_like_id(id))
        .then_some(())?;
    Some((TenantId::parse(tenant)?, id.to_owned()))
}

/// Resolves a SCIM bearer token. Any failure is the same `Unauthenticated`: unknown, revoked, another kind
/// of token, a tenant being purged or whose contract has ended. A token naming its tenant and id costs one
/// BatchGetItem (the token's item, whose hash must be the whole token's, and the tenant item); a bare one
/// reads its global record first to learn them.
pub async fn authenticate(
    svc: &Services,
    token: &str,
    now: OffsetDateTime,
) -> Result<ScimCaller, AppError> {
    let hash = crypto::token_hash(token);
    let (tenant, token_id) = match ids_of_scim_token(token) {
        Some(ids) => ids,
        None => {
            let rec = svc
                .store
                .get(Table::Data, &layout::token_pk(&hash), layout::TOKEN_SK)
                .await?
                .ok_or(AppError::Unauthenticated)?;
            if rec.s(attr::KIND) != Some(SCIM) {
                return Err(AppError::Unauthenticated);
            }
            (
                TenantId::from_stored(rec.s(attr::TENANT).unwrap_or_default()),
                rec.s(attr::TOKEN_ID).unwrap_or_default().to_owned(),
            )
        }
    };
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        Err(AppError::NotFound(_)) => return Err(AppError::Unauthenticated),
        Err(e) => return Err(e),
    };
    let keys = [
        (scope.pk(), layout::scim_token_sk(&token_id)),
        (scope.pk(), layout::META.to_owned()),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let (Some(tok), Some(meta)) = (
        items.iter().find(|i| i.sk == keys[0].1),
        items.iter().find(|i| i.sk == layout::META),
    ) else {
        return Err(AppError::Unauthenticated);
    };
    let t = Stored::from_item(tok);
    if t.hash != hash || tenant::TenantRecord::from_item(&tenant, meta).contract_ended(now) {
        return Err(AppError::Unauthenticated);
    }
    let ts = now.unix_timestamp();
    if t.last_used.is_none_or(|u| ts - u >= LAST_USED_EVERY) {
        // Best effort: a token revoked meanwhile is not written again.
        let w = Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::scim_token_sk(&token_id),
            changes: vec![Change::Set(attr::LAST_USED, Value::N(ts))],
            cond: Some(Cond::Exists),
        };
        if let Err(e) = svc.store.transact(vec![w]).await {
            tracing::debug!(error = %e, "the last use of a SCIM token was not recorded");
        }
    }
    Ok(ScimCaller {
        scope,
        token_id,
        token_name: t.name,
    })
}
