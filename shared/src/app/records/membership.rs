//! Group memberships (the `GROUP#…#MEMBER#…` and `USER#…#GROUP#…` pair): adding and removing members in
//! chunked transactions, listing them, and the writes that take a user out of every group.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::paging::{Page, PageRequest};
use crate::app::records::user::UserRecord;
use crate::app::tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{GroupId, UserId};
use crate::ports::{Change, Cond, Item, Query, Table, Value, Write};

/// Two writes per member (membership item, user's set) plus the group's counter: 49 members fill 99 of
/// a transaction's 100 items.
pub const MEMBERS_PER_TX: usize = 49;

/// Removes one membership in both directions (without touching the group's counter). The user's side
/// moves its membership revision, so a deletion that read the user before fails and reads again.
pub(crate) fn unlink_writes(scope: &Scope, g: &GroupId, u: &UserId) -> [Write; 2] {
    [
        Write::delete(Table::Data, scope.pk(), layout::member_sk(g, u)),
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(u),
            changes: vec![
                Change::SetDelete(attr::GROUPS, vec![g.to_string()]),
                Change::Add(attr::GROUPS_REV, 1),
            ],
            cond: Some(Cond::Exists),
        },
    ]
}

pub struct MemberFailure {
    pub id: String,
    pub error: AppError,
}

/// Loads the users among `ids` that exist in this tenant (batched reads).
pub(crate) async fn existing_users(
    svc: &Services,
    scope: &Scope,
    ids: &[UserId],
) -> Result<HashMap<String, UserRecord>, AppError> {
    let keys: Vec<(String, String)> = ids
        .iter()
        .map(|u| (scope.pk(), layout::user_sk(u)))
        .collect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            let u = UserRecord::from_item(scope, &item)?;
            out.insert(u.id.to_string(), u);
        }
    }
    Ok(out)
}

pub(crate) fn parse_ids(raw: Vec<String>) -> (Vec<UserId>, Vec<MemberFailure>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    for r in raw {
        match UserId::parse(&r) {
            Some(u) if seen.insert(r.clone()) => ok.push(u),
            Some(_) => {}
            None => failed.push(MemberFailure {
                id: r,
                error: AppError::NotFound("user"),
            }),
        }
    }
    (ok, failed)
}

/// Adds members: ids that are not users of this tenant are reported, never added; members already in the
/// group count as added. Every transaction moves the counter by exactly the memberships it creates.
pub async fn add_members(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    raw_ids: Vec<String>,
    now: OffsetDateTime,
) -> Result<(Vec<String>, Vec<MemberFailure>), AppError> {
    crate::app::records::group::load(svc, scope, id).await?;
    let (ids, mut failed) = parse_ids(raw_ids);
    let users = existing_users(svc, scope, &ids).await?;
    let gid = id.to_string();
    let mut added = Vec::new();
    let mut todo = Vec::new();
    for u in ids {
        match users.get(u.as_str()) {
            None => failed.push(MemberFailure {
                id: u.to_string(),
                error: AppError::NotFound("user"),
            }),
            Some(rec) if rec.group_ids.contains(&gid) => added.push(u.to_string()),
            Some(_) => todo.push(u),
        }
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    let (written, refused) = tx::in_chunks(svc.store.as_ref(), &todo, MEMBERS_PER_TX, |users| {
        link_writes(scope, id, users, &log_key, actor, now)
    })
    .await?;
    added.extend(written.into_iter().map(UserId::to_string));
    // Already a member (added concurrently) is success; a vanished user or group is not.
    for u in refused {
        match is_member(svc, scope, id, u).await? {
            true => added.push(u.to_string()),
            false => failed.push(MemberFailure {
                id: u.to_string(),
                error: AppError::NotFound("user"),
            }),
        }
    }
    Ok((added, failed))
}

pub(crate) async fn is_member(
    svc: &Services,
    scope: &Scope,
    g: &GroupId,
    u: &UserId,
) -> Result<bool, AppError> {
    Ok(svc
        .store
        .get(Table::Data, &scope.pk(), &layout::member_sk(g, u))
        .await?
        .is_some())
}

pub(crate) fn link_writes(
    scope: &Scope,
    g: &GroupId,
    users: &[UserId],
    log_key: &crate::crypto::TenantKey,
    actor: &Actor,
    now: OffsetDateTime,
) -> Vec<Write> {
    let mut w = Vec::with_capacity(users.len() * 2 + 2);
    for u in users {
        w.push(Write::put_new(
            Table::Data,
            Item::new(scope.pk(), layout::member_sk(g, u))
                .with(attr::CREATED, Value::N(now.unix_timestamp())),
        ));
        // Only the set and its revision: a profile write racing this one never rewrites them.
        w.push(Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(u),
            changes: vec![
                Change::SetInsert(attr::GROUPS, vec![g.to_string()]),
                Change::Add(attr::GROUPS_REV, 1),
            ],
            cond: Some(Cond::Exists),
        });
    }
    w.push(Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::group_sk(g),
        changes: vec![Change::Add(attr::MEMBER_COUNT, users.len() as i64)],
        cond: Some(Cond::Exists),
    });
    // One entry per batch, naming every member it added.
    let targets = users
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(",");
    w.push(audit::entry(
        &scope.tenant,
        log_key,
        actor,
        Entry {
            action: "group.add_members",
            target_type: "group",
            target_id: &format!("{g}:{targets}"),
        },
        now,
    ));
    w
}

/// Removes members; ids that are not members are reported.
pub async fn remove_members(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    raw_ids: Vec<String>,
    now: OffsetDateTime,
) -> Result<(Vec<String>, Vec<MemberFailure>), AppError> {
    crate::app::records::group::load(svc, scope, id).await?;
    let (ids, mut failed) = parse_ids(raw_ids);
    let keys: Vec<(String, String)> = ids
        .iter()
        .map(|u| (scope.pk(), layout::member_sk(id, u)))
        .collect();
    let mut members = HashSet::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            members.insert(item.sk);
        }
    }
    let (todo, absent): (Vec<UserId>, Vec<UserId>) = ids
        .into_iter()
        .partition(|u| members.contains(&layout::member_sk(id, u)));
    failed.extend(absent.into_iter().map(|u| MemberFailure {
        id: u.to_string(),
        error: AppError::conflict("not_a_member", "this user is not a member of the group"),
    }));
    let log_key = svc.log_key(&scope.tenant).await?;
    let (written, refused) = tx::in_chunks(svc.store.as_ref(), &todo, MEMBERS_PER_TX, |users| {
        unlink_many(scope, id, users, &log_key, actor, now)
    })
    .await?;
    let removed: Vec<String> = written.into_iter().map(UserId::to_string).collect();
    failed.extend(refused.into_iter().map(|u| MemberFailure {
        id: u.to_string(),
        error: AppError::conflict(
            "not_a_member",
            "this user is not (or no longer) a member of the group",
        ),
    }));
    Ok((removed, failed))
}

pub(crate) fn unlink_many(
    scope: &Scope,
    g: &GroupId,
    users: &[UserId],
    log_key: &crate::crypto::TenantKey,
    actor: &Actor,
    now: OffsetDateTime,
) -> Vec<Write> {
    let mut w = Vec::with_capacity(users.len() * 2 + 2);
    for u in users {
        let [mut del, upd] = unlink_writes(scope, g, u);
        if let Write::Delete { cond, .. } = &mut del {
            *cond = Some(Cond::Exists);
        }
        w.push(del);
        w.push(upd);
    }
    w.push(Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::group_sk(g),
        changes: vec![Change::Add(attr::MEMBER_COUNT, -(users.len() as i64))],
        cond: Some(Cond::Ge(attr::MEMBER_COUNT, users.len() as i64)),
    });
    let targets = users
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(",");
    w.push(audit::entry(
        &scope.tenant,
        log_key,
        actor,
        Entry {
            action: "group.remove_members",
            target_type: "group",
            target_id: &format!("{g}:{targets}"),
        },
        now,
    ));
    w
}

/// The sort keys (`GROUP#<id>`) of those of `gids` that still exist: one BatchGetItem per 100 groups, none
/// for no group. A group deleted meanwhile has no counter left to change.
pub async fn live_groups(
    svc: &Services,
    scope: &Scope,
    gids: &[GroupId],
) -> Result<HashSet<String>, AppError> {
    let keys: Vec<(String, String)> = gids
        .iter()
        .map(|g| (scope.pk(), layout::group_sk(g)))
        .collect();
    let mut live = HashSet::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            live.insert(item.sk);
        }
    }
    Ok(live)
}

/// A page of a group's members (users), in user-id order.
pub async fn members(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
    page: PageRequest,
) -> Result<Page<UserRecord>, AppError> {
    let prefix = layout::members_prefix(id);
    page.after_key(|k| layout::is_id_key(&prefix, k))?;
    crate::app::records::group::load(svc, scope, id).await?;
    member_page(svc, scope, id, page).await
}

/// A page of the members of a group known to exist (read already by the caller): one Query of the
/// memberships, one BatchGetItem of the users.
pub async fn member_page(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
    page: PageRequest,
) -> Result<Page<UserRecord>, AppError> {
    let prefix = layout::members_prefix(id);
    let after = page.after_key(|k| layout::is_id_key(&prefix, k))?;
    let page = svc
        .store
        .query(
            &Query::prefix(Table::Data, scope.pk(), prefix.clone())
                .after(after)
                .limit(page.limit),
        )
        .await?;
    let ids: Vec<UserId> = page
        .items
        .iter()
        .map(|i| UserId::from_stored(i.sk.strip_prefix(&prefix).unwrap_or_default()))
        .collect();
    let found = existing_users(svc, scope, &ids).await?;
    let items = ids
        .iter()
        .filter_map(|u| found.get(u.as_str()).cloned())
        .collect();
    Ok(Page::after_key(items, page.next))
}
