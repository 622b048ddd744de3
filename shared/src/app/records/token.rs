//! Tokens as stored (`TOKEN#<hash>` and the user's index item): sessions, invitation and reset links,
//! their writes, look-up by hash and revocation.

use time::OffsetDateTime;

use crate::app::layout::{self, attr};
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::UserId;
use crate::ports::{BatchWrite, Item, Query, Table, Value, Write};

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

pub(crate) fn writes_of_token(
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

/// Every item of the user's token index (sessions, links, recovery codes: each names its kind), all pages.
pub async fn user_token_index(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
) -> Result<Vec<Item>, AppError> {
    let prefix = layout::user_tokens_prefix(user);
    let mut after = None;
    let mut out = Vec::new();
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), prefix.clone())
                    .after(after)
                    .limit(500),
            )
            .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(out)
}

/// The keys of a user's tokens of one of `kinds` among the items of its token index
/// ([`user_token_index`]), but `keep`: each token's global record (`TOKEN#<hash>`) and its index item.
pub fn token_keys(
    user: &UserId,
    index: Vec<Item>,
    kinds: &[&str],
    keep: Option<&str>,
) -> Vec<(String, String)> {
    let prefix = layout::user_tokens_prefix(user);
    index
        .into_iter()
        .filter(|item| kinds.iter().any(|k| item.s(attr::KIND) == Some(k)))
        .filter_map(|item| {
            let hash = item.sk.strip_prefix(&prefix).unwrap_or_default();
            (Some(hash) != keep).then(|| (layout::token_pk(hash), item.sk.clone()))
        })
        .collect()
}

/// The deletes of the tokens of [`token_keys`], to go into a transaction (two items each).
pub fn token_deletes(scope: &Scope, keys: &[(String, String)]) -> Vec<Write> {
    keys.iter()
        .flat_map(|(pk, sk)| {
            [
                Write::delete(Table::Data, pk.clone(), layout::TOKEN_SK),
                Write::delete(Table::Data, scope.pk(), sk.clone()),
            ]
        })
        .collect()
}

/// Revokes every token of a user (sessions, invitations, resets) except `keep`: in one transaction when
/// they fit one, else in batches.
pub async fn revoke_tokens(
    svc: &Services,
    scope: &Scope,
    user: &UserId,
    kinds: &[&str],
    keep: Option<&str>,
) -> Result<usize, AppError> {
    let index = user_token_index(svc, scope, user).await?;
    let writes = token_keys(user, index, kinds, keep);
    delete_tokens(svc, scope, writes).await
}

/// Deletes the tokens of [`token_keys`]: in one transaction when they fit one (both items of a token go
/// together), else the global records in batches first (once they are gone the tokens no longer work),
/// then the index items.
pub async fn delete_tokens(
    svc: &Services,
    scope: &Scope,
    writes: Vec<(String, String)>,
) -> Result<usize, AppError> {
    let n = writes.len();
    if n == 0 {
        return Ok(0);
    }
    if 2 * n <= crate::ports::store::MAX_TRANSACTION_ITEMS {
        svc.store.transact(token_deletes(scope, &writes)).await?;
        return Ok(n);
    }
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
