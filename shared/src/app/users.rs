//! Users: creation with seat and uniqueness guards in one transaction, look-up, listing with search over
//! encrypted fields, and updates that keep the guards consistent.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::records::user::{
    NewUser, Patch, SEARCH_SCAN_BUDGET, Status, UserChanges, UserRecord, creation_writes,
    email_index, email_taken, guard_item, load, login_index, login_taken, seat_write,
    set_password_link, user_changed,
};

pub mod scim;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::paging::{Page, PageRequest};
use crate::app::records::token::{INVITATION, RESET, SESSION, revoke_tokens};
use crate::app::records::user::link_writes;
use crate::app::records::{tenant, user};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services, mail};
use crate::crypto;
use crate::domain::ids::UserId;
use crate::domain::values::comparison_form;
use crate::ports::Change;
use crate::ports::{Cond, Query, Table, Value, Write};

/// Memberships removed inside the deleting transaction (two writes each, beside the user's own writes).
const MAX_GROUPS_IN_DELETE: usize = 40;

pub struct Created {
    pub user: UserRecord,
    pub initial_password: Option<SecretString>,
}

/// Registers a user. The role (named, or the tenant default) must lie within the caller's grants.
pub async fn create(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    new: NewUser,
    now: OffsetDateTime,
) -> Result<Created, AppError> {
    let actor = &by.actor;
    let tenant = crate::app::records::tenant::load(svc, &scope.tenant).await?;
    let role_id = match &new.role_id {
        Some(r) => r.clone(),
        None => tenant.default_role_id.clone(),
    };
    let Some(grants) = crate::app::records::role::grants_of(svc, scope, &role_id).await? else {
        return Err(AppError::invalid(
            "role_id",
            format!("no role with id {role_id:?}"),
        ));
    };
    by.check_role(&grants)?;
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut w = creation_writes(
        svc,
        scope,
        new,
        role_id,
        Some(tenant.seat_limit),
        tenant.policy.generated_password_chars(),
        now,
    )
    .await?;
    let target = w.record.id.to_string();
    if let Some(h) = crate::app::records::role::holder_change(scope, &w.record.role_id, 1) {
        w.tx.guard(h, || {
            AppError::invalid("role_id", "the role was deleted meanwhile")
        });
    }
    w.tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "user.create",
            target_type: "user",
            target_id: &target,
        },
        now,
    ));
    w.tx.commit(svc.store.as_ref()).await?;
    if let (Some(token), Some(email)) = (&w.invitation, &w.record.email) {
        let link = set_password_link(svc, token);
        let m = mail::invitation(email, &w.record.name, &tenant.name, &link);
        svc.send_mail(&scope.tenant, "invitation", m, now).await;
    }
    Ok(Created {
        user: w.record,
        initial_password: w.initial_password,
    })
}

/// A page of users in creation order. With `q`, a decrypt-and-filter over at most
/// [`SEARCH_SCAN_BUDGET`] users per request: prefix match on name, e-mail or login id, compared in
/// NFKC lower-case; the cursor says where the scan stopped, so no user is lost or repeated.
pub async fn list(
    svc: &Services,
    scope: &Scope,
    page: PageRequest,
    q: Option<&str>,
) -> Result<Page<UserRecord>, AppError> {
    list_filtered(svc, scope, page, q, None).await
}

/// [`list`], keeping only the users with `status` when one is given (the same bounded scan as `q`: the
/// status is an attribute of the user item, so no index serves it).
pub async fn list_filtered(
    svc: &Services,
    scope: &Scope,
    page: PageRequest,
    q: Option<&str>,
    status: Option<Status>,
) -> Result<Page<UserRecord>, AppError> {
    let limit = page.limit;
    let after = page.after_key(|k| layout::is_id_key(layout::USER_PREFIX, k))?;
    let needle = q.map(comparison_form).filter(|s| !s.is_empty());
    if needle.is_none() && status.is_none() {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::USER_PREFIX)
                    .after(after)
                    .limit(limit),
            )
            .await?;
        let items = page
            .items
            .iter()
            .map(|i| UserRecord::from_item(scope, i))
            .collect::<Result<_, _>>()?;
        return Ok(Page::after_key(items, page.next));
    }
    let matches = |u: &UserRecord| {
        status.is_none_or(|s| u.status == s)
            && needle.as_ref().is_none_or(|needle| {
                [Some(&u.name), u.email.as_ref(), u.login_id.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|v| {
                        comparison_form(v).starts_with(needle)
                            || comparison_form(v)
                                .split_whitespace()
                                .any(|w| w.starts_with(needle))
                    })
            })
    };
    let mut items = Vec::new();
    let mut cursor = after;
    let mut scanned = 0;
    loop {
        let chunk = 200.min(SEARCH_SCAN_BUDGET - scanned).max(1);
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::USER_PREFIX)
                    .after(cursor.clone())
                    .limit(chunk),
            )
            .await?;
        for item in &page.items {
            scanned += 1;
            cursor = Some(item.sk.clone());
            let u = UserRecord::from_item(scope, item)?;
            if matches(&u) {
                items.push(u);
                if items.len() == limit {
                    let more = page.next.is_some()
                        || item.sk != page.items.last().map(|l| l.sk.clone()).unwrap_or_default();
                    return Ok(Page::after_key(items, more.then_some(cursor).flatten()));
                }
            }
        }
        if page.next.is_none() {
            return Ok(Page::after_key(items, None));
        }
        if scanned >= SEARCH_SCAN_BUDGET {
            return Ok(Page::after_key(items, cursor));
        }
    }
}

/// Changes a user's name, e-mail or login id. A changed address voids the user's open invitation and
/// reset links (they were mailed to the old one).
pub async fn update(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    changes: UserChanges,
    now: OffsetDateTime,
) -> Result<UserRecord, AppError> {
    let actor = &by.actor;
    let old = load(svc, scope, id).await?;
    by.check_target(svc, scope, &old).await?;
    let mut new = old.clone();
    let mut tx = Tx::new();
    if let Some(n) = changes.name {
        new.name = n.as_str().to_owned();
    }
    match changes.email {
        Patch::Keep => {}
        Patch::Clear => {
            new.email = None;
            new.email_index = None;
        }
        Patch::Set(e) => {
            new.email_index = Some(email_index(&scope.key, &e));
            new.email = Some(e.as_str().to_owned());
        }
    }
    match changes.login_id {
        Patch::Keep => {}
        Patch::Clear => {
            new.login_id = None;
            new.login_index = None;
        }
        Patch::Set(l) => {
            new.login_index = Some(login_index(&scope.key, &l));
            new.login_id = Some(l.as_str().to_owned());
        }
    }
    if new.email.is_none() && new.login_id.is_none() {
        return Err(AppError::Invalid {
            field: None,
            message: "a user needs an email or a login_id (or both)".into(),
        });
    }
    // An invited user's only way in is the link mailed to its address (a disabled one is invited again when
    // enabled, and an admin re-issues its credential then).
    if old.email.is_some()
        && new.email.is_none()
        && new.status == Status::Invited
        && new.password_hash.is_none()
    {
        return Err(AppError::invalid(
            "email",
            "an invited user without a password cannot lose the e-mail the invitation went to",
        ));
    }
    new.updated = now.unix_timestamp().max(old.updated + 1);
    // The profile is replaced only if nobody changed it since we read it.
    tx.guard(new.profile_write(scope, old.updated), user_changed);
    for (old_i, new_i, sk, taken) in [
        (
            &old.email_index,
            &new.email_index,
            layout::email_guard_sk as fn(&str) -> String,
            email_taken as fn() -> AppError,
        ),
        (
            &old.login_index,
            &new.login_index,
            layout::login_guard_sk,
            login_taken,
        ),
    ] {
        if old_i != new_i {
            if let Some(o) = old_i {
                tx.push(Write::Delete {
                    table: Table::Data,
                    pk: scope.pk(),
                    sk: sk(o),
                    cond: Some(Cond::Eq(attr::USER, Value::S(id.to_string()))),
                });
            }
            if let Some(n) = new_i {
                tx.guard(
                    Write::put_new(Table::Data, guard_item(scope, sk(n), id)),
                    taken,
                );
            }
        }
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "user.update",
            target_type: "user",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    if old.email_index != new.email_index {
        // Links bound to the old address are refused by set-password already; remove them too.
        crate::app::records::token::revoke_tokens(
            svc,
            scope,
            id,
            &[
                crate::app::records::token::INVITATION,
                crate::app::records::token::RESET,
            ],
            None,
        )
        .await?;
    }
    Ok(new)
}

/// Disables (`disable`) or enables a user, under the target rule; nobody disables themselves.
///
/// A disabled user cannot log in (the refusal is the same as a wrong password's), loses its sessions and
/// open links, keeps its data, groups and role, and holds no seat: disabling gives the seat back and
/// enabling takes one again in the same transaction as the status (409 `seat_limit_reached` when none is
/// free, and nothing changes). An org admin disabled leaves the `org_admins` count (never the last one:
/// 409 `last_org_admin`) and comes back into it when enabled. Enabling brings back `active` for a user
/// with a password and `invited` for one without (who then needs a new invitation link). Asking for the
/// status the user already has changes nothing and answers the user.
pub async fn set_disabled(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    disable: bool,
    now: OffsetDateTime,
) -> Result<UserRecord, AppError> {
    if disable
        && let Actor::User { id: me, .. } = &by.actor
        && me == id.as_str()
    {
        return Err(AppError::conflict(
            "cannot_disable_self",
            "you cannot disable your own account",
        ));
    }
    let old = load(svc, scope, id).await?;
    by.check_target(svc, scope, &old).await?;
    if (old.status == Status::Disabled) == disable {
        return Ok(old);
    }
    let mut new = old.clone();
    new.status = match (disable, new.password_hash.is_some()) {
        (true, _) => Status::Disabled,
        (false, true) => Status::Active,
        (false, false) => Status::Invited,
    };
    new.updated = now.unix_timestamp().max(old.updated + 1);
    let mut tx = Tx::new();
    // The status is written only over the version read: of two concurrent enables of one user, one wins.
    tx.guard(new.profile_write(scope, old.updated), user_changed);
    if disable {
        let org_admin = old.org_admin;
        tx.guard(seat_write(scope, old.org_admin, -1), move || {
            if org_admin {
                AppError::conflict(
                    "last_org_admin",
                    "the last organisation admin of a tenant cannot be disabled",
                )
            } else {
                user_changed()
            }
        });
    } else {
        let limit = crate::app::records::tenant::load(svc, &scope.tenant)
            .await?
            .seat_limit;
        tx.guard(seat_write(scope, old.org_admin, 1), move || {
            AppError::conflict(
                "seat_limit_reached",
                format!(
                    "all {limit} seats of the contract are taken; disable or delete a user, or ask for more seats"
                ),
            )
        });
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: if disable {
                "user.disable"
            } else {
                "user.enable"
            },
            target_type: "user",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    if disable {
        // Sessions of a disabled user are refused from the commit on (`principal::authenticate` reads the
        // status); now remove them and the open links.
        crate::app::records::token::revoke_tokens(
            svc,
            scope,
            id,
            &[
                crate::app::records::token::SESSION,
                crate::app::records::token::INVITATION,
                crate::app::records::token::RESET,
                crate::app::records::factor::CHALLENGE,
            ],
            None,
        )
        .await?;
    }
    Ok(new)
}

/// Deletes many users: their items read in one BatchGetItem, each checked (oneself, the target rule), their
/// tokens found (one Query each), then as few transactions as hold them (seat, org-admin, role and group
/// counters summed over the users of a transaction, each user's audit entry beside its deletion). A
/// transaction that fails (a user changed meanwhile, the last org admin among them) is done again one
/// user at a time as a single [`delete`], so every id is judged on its own. Answers the ids deleted, and
/// the others with why (an id that cannot be one of ours, or named again, is `NotFound`), in the order given.
pub async fn delete_many(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    ids: Vec<String>,
    now: OffsetDateTime,
) -> (Vec<String>, Vec<(String, AppError)>) {
    let mut outcome: Vec<Option<Result<(), AppError>>> = ids.iter().map(|_| None).collect();
    // The first mention of each id that can be deleted at all, by position.
    let mut wanted: Vec<(usize, UserId)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (at, raw) in ids.iter().enumerate() {
        let Some(id) = UserId::parse(raw) else {
            outcome[at] = Some(Err(AppError::NotFound("user")));
            continue;
        };
        if !seen.insert(id.to_string()) {
            // Deleted (or refused) at its first mention already.
            outcome[at] = Some(Err(AppError::NotFound("user")));
            continue;
        }
        if let Actor::User { id: me, .. } = &by.actor
            && me == id.as_str()
        {
            outcome[at] = Some(Err(cannot_delete_self()));
            continue;
        }
        wanted.push((at, id));
    }
    match leaving_users(svc, scope, by, &wanted).await {
        Ok(found) => {
            let mut chunk_users: Vec<(usize, Leaving)> = Vec::new();
            let mut one_by_one: Vec<usize> = Vec::new();
            let mut tokens_left = Vec::new();
            for (at, r) in found {
                match r {
                    Ok(Some(l)) => chunk_users.push((at, l)),
                    Ok(None) => one_by_one.push(at),
                    Err(e) => outcome[at] = Some(Err(e)),
                }
            }
            for chunk in pack(chunk_users) {
                let (ats, users): (Vec<usize>, Vec<Leaving>) = chunk.into_iter().unzip();
                match commit_deletions(svc, scope, &by.actor, &users, now).await {
                    Ok(left) => {
                        for at in ats {
                            outcome[at] = Some(Ok(()));
                        }
                        tokens_left.extend(left);
                    }
                    // Each on its own, from a fresh read: which one failed, and why, is then its own answer.
                    Err(_) => one_by_one.extend(ats),
                }
            }
            // The profiles are gone, so these tokens no longer authenticate; now remove them too. The users
            // are deleted whatever happens here: a token left behind is dead and expires by itself.
            if let Err(e) = crate::app::records::token::delete_tokens(svc, scope, tokens_left).await
            {
                tracing::warn!(error = %e, "tokens of deleted users were left to expire");
            }
            one_by_one.sort_unstable();
            for at in one_by_one {
                if let Some(id) = UserId::parse(&ids[at]) {
                    outcome[at] = Some(delete(svc, scope, by, &id, now).await);
                }
            }
        }
        Err(_) => {
            // The batched read failed (the store unavailable): every id is tried on its own.
            for (at, id) in &wanted {
                outcome[*at] = Some(delete(svc, scope, by, id, now).await);
            }
        }
    }
    let (mut deleted, mut failed) = (vec![], vec![]);
    for (raw, o) in ids.into_iter().zip(outcome) {
        match o.unwrap_or(Err(AppError::NotFound("user"))) {
            Ok(()) => deleted.push(raw),
            Err(e) => failed.push((raw, e)),
        }
    }
    (deleted, failed)
}

/// A user's tokens by key: each token's global record (`TOKEN#<hash>`) and index item.
type TokenKeys = Vec<(String, String)>;

/// A user about to be deleted: the record as read (the deletion is conditioned on it), the group revision
/// read with it, and its tokens (global record and index item).
struct Leaving {
    user: UserRecord,
    groups_rev: i64,
    tokens: TokenKeys,
}

/// The token kinds a deleted user loses: all of them.
const DELETED_TOKEN_KINDS: &[&str] = &[
    SESSION,
    INVITATION,
    RESET,
    crate::app::records::factor::CHALLENGE,
    crate::app::records::factor::RECOVERY,
];

fn cannot_delete_self() -> AppError {
    AppError::conflict("cannot_delete_self", "you cannot delete your own account")
}

/// The users of `wanted` read in one BatchGetItem (per 100), each checked by the target rule (a role's
/// grants read once however many users hold it), with their tokens (one Query each, run together).
/// `Ok(None)` for a user to delete on its own (in more groups than one transaction holds).
async fn leaving_users(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    wanted: &[(usize, UserId)],
) -> Result<Vec<(usize, Result<Option<Leaving>, AppError>)>, AppError> {
    let keys: Vec<(String, String)> = wanted
        .iter()
        .map(|(_, id)| (scope.pk(), layout::user_sk(id)))
        .collect();
    let mut items = std::collections::HashMap::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            items.insert(item.sk.clone(), item);
        }
    }
    let mut allowed: std::collections::HashMap<(String, bool), bool> =
        std::collections::HashMap::new();
    let mut checked = Vec::new();
    for (at, id) in wanted {
        let Some(item) = items.get(&layout::user_sk(id)) else {
            checked.push((*at, Err(AppError::NotFound("user"))));
            continue;
        };
        let user = match UserRecord::from_item(scope, item) {
            Ok(u) => u,
            Err(e) => {
                checked.push((*at, Err(e)));
                continue;
            }
        };
        let key = (user.role_id.clone(), user.org_admin);
        let ok = match allowed.get(&key) {
            Some(ok) => Ok(*ok),
            None => match by.check_target(svc, scope, &user).await {
                Ok(()) => Ok(true),
                Err(AppError::TargetOutranksCaller) => Ok(false),
                Err(e) => Err(e),
            },
        };
        match ok {
            Ok(ok) => {
                allowed.insert(key, ok);
                if !ok {
                    checked.push((*at, Err(AppError::TargetOutranksCaller)));
                } else if user.group_ids.len() > MAX_GROUPS_IN_DELETE {
                    checked.push((*at, Ok(None)));
                } else {
                    let groups_rev = item.n(attr::GROUPS_REV).unwrap_or(0);
                    checked.push((*at, Ok(Some((user, groups_rev)))));
                }
            }
            Err(e) => checked.push((*at, Err(e))),
        }
    }
    use futures_util::StreamExt;
    let to_query: Vec<Option<UserId>> = checked
        .iter()
        .map(|(_, r)| match r {
            Ok(Some((user, _))) => Some(user.id.clone()),
            _ => None,
        })
        .collect();
    // A few Queries at a time: up to a thousand ids may come in one request.
    let tokens: Vec<Option<Result<TokenKeys, AppError>>> = futures_util::stream::iter(to_query)
        .map(|id| async move {
            let id = id?;
            Some(
                crate::app::records::token::user_token_index(svc, scope, &id)
                    .await
                    .map(|index| {
                        crate::app::records::token::token_keys(
                            &id,
                            index,
                            DELETED_TOKEN_KINDS,
                            None,
                        )
                    }),
            )
        })
        .buffered(8)
        .collect()
        .await;
    Ok(checked
        .into_iter()
        .zip(tokens)
        .map(|((at, r), tokens)| {
            let r = match (r, tokens) {
                (Ok(Some((user, groups_rev))), Some(Ok(tokens))) => Ok(Some(Leaving {
                    user,
                    groups_rev,
                    tokens,
                })),
                (Ok(Some(_)), Some(Err(e))) => Err(e),
                (Ok(_), _) => Ok(None),
                (Err(e), _) => Err(e),
            };
            (at, r)
        })
        .collect())
}

/// The items of a user's own in its deleting transaction, tokens aside: profile, guards, subscriptions,
/// SCIM attributes, audit entry, and per group the membership item.
fn own_items(u: &Leaving) -> usize {
    1 + usize::from(u.user.email_index.is_some())
        + usize::from(u.user.login_index.is_some())
        + crate::app::records::subscription::Kind::ALL.len()
        + 2
        + u.user.group_ids.len()
}

/// Users grouped into transactions of at most [`MAX_TRANSACTION_ITEMS`](crate::ports::store::MAX_TRANSACTION_ITEMS):
/// each user's own items and tokens, and the counters of the transaction (tenant item, custom roles,
/// groups) once each. A user whose tokens alone do not fit goes alone; its tokens left over are deleted
/// right after its transaction.
fn pack(users: Vec<(usize, Leaving)>) -> Vec<Vec<(usize, Leaving)>> {
    use std::collections::HashSet;
    let max = crate::ports::store::MAX_TRANSACTION_ITEMS;
    let mut out: Vec<Vec<(usize, Leaving)>> = Vec::new();
    let mut cur: Vec<(usize, Leaving)> = Vec::new();
    let (mut used, mut shared) = (0, HashSet::<String>::new());
    for (at, u) in users {
        let mut adds: HashSet<String> = HashSet::new();
        if u.user.status != Status::Disabled {
            adds.insert(layout::META.to_owned());
        }
        if crate::domain::permissions::builtin(&u.user.role_id).is_none() {
            adds.insert(format!("role {}", u.user.role_id));
        }
        for g in &u.user.group_ids {
            adds.insert(format!("group {g}"));
        }
        let new_shared = adds.difference(&shared).count();
        let cost = own_items(&u) + 2 * u.tokens.len() + new_shared;
        if !cur.is_empty() && used + cost > max {
            out.push(std::mem::take(&mut cur));
            used = 0;
            shared.clear();
        }
        used += own_items(&u) + 2 * u.tokens.len() + adds.difference(&shared).count();
        shared.extend(adds);
        cur.push((at, u));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Deletes `users` in one transaction: their items, the tokens that fit beside them, and each counter once
/// with their sum: the seats and org-admin places of those not disabled (never the last org admin), each
/// custom role's holders, each live group's member count. Answers the tokens that did not fit, for the
/// caller to delete right after.
async fn commit_deletions(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    users: &[Leaving],
    now: OffsetDateTime,
) -> Result<Vec<(String, String)>, AppError> {
    use std::collections::BTreeMap;
    let gids: Vec<crate::domain::ids::GroupId> = {
        let mut all: Vec<&String> = users.iter().flat_map(|u| &u.user.group_ids).collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
            .map(|g| crate::domain::ids::GroupId::from_stored(g.clone()))
            .collect()
    };
    let live = crate::app::records::membership::live_groups(svc, scope, &gids).await?;
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    let (mut seats, mut org_admins) = (0, 0);
    let mut roles: BTreeMap<&str, i64> = BTreeMap::new();
    let mut groups: BTreeMap<String, i64> = BTreeMap::new();
    for Leaving {
        user, groups_rev, ..
    } in users
    {
        let id = &user.id;
        for g in &user.group_ids {
            let gid = crate::domain::ids::GroupId::from_stored(g.clone());
            tx.push(Write::delete(
                Table::Data,
                scope.pk(),
                layout::member_sk(&gid, id),
            ));
            let sk = layout::group_sk(&gid);
            if live.contains(&sk) {
                *groups.entry(sk).or_default() += 1;
            }
        }
        // Neither the profile nor the groups changed since the read (the revision only grows, so "not yet
        // past the value read" is "unchanged", and also holds for a user who never had a membership).
        tx.guard(
            Write::Delete {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::user_sk(id),
                cond: Some(Cond::And(vec![
                    Cond::Eq(attr::UPDATED, Value::N(user.updated)),
                    Cond::Not(Box::new(Cond::Ge(attr::GROUPS_REV, groups_rev + 1))),
                ])),
            },
            user_changed,
        );
        for sk in user
            .email_index
            .iter()
            .map(|i| layout::email_guard_sk(i))
            .chain(user.login_index.iter().map(|i| layout::login_guard_sk(i)))
        {
            tx.push(Write::delete(Table::Data, scope.pk(), sk));
        }
        for w in crate::app::records::subscription::unsubscribe_writes(scope, id) {
            tx.push(w);
        }
        // The attributes SCIM keeps beside the profile (externalId, enterprise fields), if any.
        tx.push(Write::delete(
            Table::Data,
            scope.pk(),
            layout::scim_user_sk(id),
        ));
        // A disabled user holds no seat and is not counted among the org admins (see [`set_disabled`]).
        if user.status != Status::Disabled {
            seats += 1;
            org_admins += i64::from(user.org_admin);
        }
        if crate::app::records::role::holder_change(scope, &user.role_id, -1).is_some() {
            *roles.entry(user.role_id.as_str()).or_default() += 1;
        }
        tx.push(audit::entry(
            &scope.tenant,
            &log_key,
            actor,
            Entry {
                action: "user.delete",
                target_type: "user",
                target_id: id.as_str(),
            },
            now,
        ));
    }
    for (sk, n) in groups {
        tx.push(Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk,
            changes: vec![Change::Add(attr::MEMBER_COUNT, -n)],
            cond: Some(Cond::Ge(attr::MEMBER_COUNT, n)),
        });
    }
    if seats > 0 {
        tx.guard(
            crate::app::records::user::seats_release(scope, seats, org_admins),
            move || {
                if org_admins > 0 {
                    AppError::conflict(
                        "last_org_admin",
                        "the last organisation admin of a tenant cannot be deleted",
                    )
                } else {
                    user_changed()
                }
            },
        );
    }
    for (role, n) in roles {
        if let Some(h) = crate::app::records::role::holder_change(scope, role, -n) {
            tx.push(h);
        }
    }
    // The tokens: in the transaction as far as they fit, the rest right after it.
    let mut after = Vec::new();
    for u in users {
        for t in &u.tokens {
            if after.is_empty() && tx.len() + 2 <= crate::ports::store::MAX_TRANSACTION_ITEMS {
                for w in crate::app::records::token::token_deletes(scope, std::slice::from_ref(t)) {
                    tx.push(w);
                }
            } else {
                after.push(t.clone());
            }
        }
    }
    tx.commit(svc.store.as_ref()).await?;
    Ok(after)
}

/// How often a deletion reads the user again when a concurrent write to the user (a profile change, a
/// membership added or removed) made its transaction fail, before it answers `conflict`.
const DELETE_ATTEMPTS: usize = 5;

/// Deletes a user at once and for good: profile, guards, seat, memberships and tokens in one transaction
/// (so no half-deleted user is ever visible; tokens beyond what one transaction holds right after). Not
/// oneself; not the last org admin. A write racing the deletion makes it start over from a fresh read, so
/// it never leaves a membership (or a count) of the deleted user behind.
pub async fn delete(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let actor = &by.actor;
    if let Actor::User { id: me, .. } = actor
        && me == id.as_str()
    {
        return Err(cannot_delete_self());
    }
    let mut attempt = 1;
    loop {
        match delete_once(svc, scope, by, id, now).await {
            Err(AppError::Conflict {
                code: "conflict", ..
            }) if attempt < DELETE_ATTEMPTS => attempt += 1,
            done => return done,
        }
    }
}

async fn delete_once(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let actor = &by.actor;
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::user_sk(id))
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let user = UserRecord::from_item(scope, &item)?;
    by.check_target(svc, scope, &user).await?;
    let groups_rev = item.n(attr::GROUPS_REV).unwrap_or(0);
    // Memberships go in the same transaction; a user in very many groups leaves them first, in batches.
    if user.group_ids.len() > MAX_GROUPS_IN_DELETE {
        for g in user.group_ids.clone() {
            let gid = crate::domain::ids::GroupId::from_stored(g);
            crate::app::records::membership::remove_members(
                svc,
                scope,
                actor,
                &gid,
                vec![id.to_string()],
                now,
            )
            .await?;
        }
        return Box::pin(delete_once(svc, scope, by, id, now)).await;
    }
    let index = crate::app::records::token::user_token_index(svc, scope, id).await?;
    let tokens = crate::app::records::token::token_keys(id, index, DELETED_TOKEN_KINDS, None);
    let left = commit_deletions(
        svc,
        scope,
        actor,
        &[Leaving {
            user,
            groups_rev,
            tokens,
        }],
        now,
    )
    .await?;
    // The profile is gone, so the tokens left no longer authenticate; now remove them too.
    crate::app::records::token::delete_tokens(svc, scope, left).await?;
    Ok(())
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
    delivery: user::Delivery,
    now: OffsetDateTime,
) -> Result<Reissued, AppError> {
    let user = user::load(svc, scope, user_id).await?;
    by.check_target(svc, scope, &user).await?;
    if user.status == user::Status::Disabled {
        return Err(user::user_disabled());
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
        user::Delivery::InviteLink => {
            let email = user.email.clone().ok_or(AppError::DeliveryRequiresEmail)?;
            // Earlier links stop working: deleted in the transaction that writes the new one (when they fit
            // it; a user has a few at most), else before it.
            let index = crate::app::records::token::user_token_index(svc, scope, user_id).await?;
            let mut earlier =
                crate::app::records::token::token_keys(user_id, index, &[INVITATION, RESET], None);
            if 2 * earlier.len() + 4 > crate::ports::store::MAX_TRANSACTION_ITEMS {
                crate::app::records::token::delete_tokens(svc, scope, std::mem::take(&mut earlier))
                    .await?;
            }
            let (token, hash) = crypto::new_token();
            let mut tx = Tx::new();
            for w in crate::app::records::token::token_deletes(scope, &earlier) {
                tx.push(w);
            }
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
            let tenant = tenant::load(svc, &scope.tenant).await?;
            let link = user::set_password_link(svc, &token);
            svc.send_mail(
                &scope.tenant,
                "invitation",
                mail::invitation(&email, &user.name, &tenant.name, &link),
                now,
            )
            .await;
            Ok(Reissued::Mailed)
        }
        user::Delivery::Generated => {
            let policy = crate::app::records::policy::load(svc, scope).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::TenantKey;
    use crate::ports::Change;
    use secrecy::SecretBox;

    fn scope() -> Scope {
        Scope {
            tenant: crate::domain::ids::TenantId::generate(),
            key: std::sync::Arc::new(TenantKey::new(&SecretBox::new(Box::new([7u8; 32])))),
        }
    }

    fn full_record() -> UserRecord {
        UserRecord {
            id: UserId::generate(),
            name: "山田".into(),
            email: Some("y@example.jp".into()),
            login_id: Some("yamada".into()),
            email_index: Some("ei".into()),
            login_index: Some("li".into()),
            role_id: "admin".into(),
            org_admin: true,
            group_ids: vec!["g1".into()],
            status: Status::Active,
            must_change_password: true,
            password_hash: Some("h".into()),
            mfa: false,
            created: 1,
            updated: 2,
        }
    }

    #[test]
    fn a_profile_write_sets_every_attribute_but_the_groups() {
        let s = scope();
        let rec = full_record();
        let item = rec.to_item(&s);
        let Write::Update { changes, cond, .. } = rec.profile_write(&s, 1) else {
            panic!("an update");
        };
        assert_eq!(cond, Some(Cond::Eq(attr::UPDATED, Value::N(1))));
        let set: Vec<&str> = changes
            .iter()
            .map(|c| match c {
                Change::Set(a, _) => *a,
                other => panic!("only sets for a full record: {other:?}"),
            })
            .collect();
        let mut stored: Vec<&str> = item.attrs.keys().map(String::as_str).collect();
        stored.retain(|a| *a != attr::GROUPS);
        stored.sort_unstable();
        let mut set_sorted = set.clone();
        set_sorted.sort_unstable();
        assert_eq!(set_sorted, stored, "every stored attribute but the groups");
    }

    #[test]
    fn a_profile_write_removes_what_the_record_no_longer_has() {
        let s = scope();
        let mut rec = full_record();
        rec.email = None;
        rec.email_index = None;
        rec.password_hash = None;
        let Write::Update { changes, .. } = rec.profile_write(&s, 2) else {
            panic!("an update");
        };
        for a in [attr::EMAIL, attr::EMAIL_INDEX, attr::PASSWORD] {
            assert!(changes.contains(&Change::Remove(a)), "{a} removed");
        }
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, Change::Set(a, _) | Change::Remove(a) if *a == attr::GROUPS))
        );
    }
}
