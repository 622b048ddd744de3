//! Groups (the labels admins organise employees with): names unique per tenant, membership stored both
//! ways (`GMEM#<group>#<user>` items for "members of a group", the user's `groups` set for "groups of a
//! user"), an exact `member_count` kept in the same transactions as the memberships, and bulk operations
//! in transactions of up to [`MEMBERS_PER_TX`] members.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout;
pub use crate::app::records::group::{
    GROUPS_PER_TX, GroupView, by_name, create, list, load, rename,
};
use crate::app::records::group::{name_digest, name_taken, new_group_writes};
use crate::app::records::membership::unlink_writes;
pub use crate::app::records::membership::{
    MEMBERS_PER_TX, MemberFailure, add_members, members, remove_members,
};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{GroupId, UserId};
use crate::domain::time::jst_from_unix;
use crate::domain::values::{Name, comparison_form};
use crate::ports::{Cond, Query, StoreError, Table, Write};

pub struct BulkFailure {
    pub index: usize,
    pub name: String,
    pub error: AppError,
}

/// Creates many groups: names already taken (in the tenant or earlier in the list) are reported, the
/// rest created, [`GROUPS_PER_TX`] per transaction; a chunk that meets a concurrent creation is redone
/// one group at a time so each failure is named.
pub async fn create_many(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    names: Vec<String>,
    now: OffsetDateTime,
) -> Result<(Vec<GroupView>, Vec<BulkFailure>), AppError> {
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    let mut todo: Vec<(usize, Name)> = Vec::new();
    for (index, raw) in names.into_iter().enumerate() {
        match Name::parse("names", &raw) {
            Err(e) => failed.push(BulkFailure {
                index,
                name: raw,
                error: e.into(),
            }),
            Ok(n) if !seen.insert(comparison_form(n.as_str())) => failed.push(BulkFailure {
                index,
                error: AppError::conflict(
                    "group_name_taken",
                    "the same name appears earlier in the list",
                ),
                name: raw,
            }),
            Ok(n) => todo.push((index, n)),
        }
    }
    // Names already taken are found with batched reads of their guards.
    let keys: Vec<(String, String)> = todo
        .iter()
        .map(|(_, n)| (scope.pk(), layout::group_name_sk(&name_digest(n.as_str()))))
        .collect();
    let mut taken = HashSet::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            taken.insert(item.sk);
        }
    }
    let (clash, fresh): (Vec<_>, Vec<_>) = todo
        .into_iter()
        .partition(|(_, n)| taken.contains(&layout::group_name_sk(&name_digest(n.as_str()))));
    failed.extend(clash.into_iter().map(|(index, n)| BulkFailure {
        index,
        error: name_taken(n.as_str()),
        name: n.as_str().to_owned(),
    }));
    let mut created = Vec::new();
    for chunk in fresh.chunks(GROUPS_PER_TX) {
        let ids: Vec<GroupId> = chunk.iter().map(|_| GroupId::generate()).collect();
        let mut writes = Vec::with_capacity(chunk.len() * 3);
        for ((_, name), id) in chunk.iter().zip(&ids) {
            writes.extend(new_group_writes(scope, id, name, now));
            writes.push(audit::entry(
                &scope.tenant,
                &log_key,
                actor,
                Entry {
                    action: "group.create",
                    target_type: "group",
                    target_id: id.as_str(),
                },
                now,
            ));
        }
        match svc.store.transact(writes).await {
            Ok(()) => {
                for ((_, name), id) in chunk.iter().zip(ids) {
                    let ts = jst_from_unix(now.unix_timestamp());
                    created.push(GroupView {
                        id,
                        name: name.as_str().to_owned(),
                        member_count: 0,
                        created_at: ts.clone(),
                        updated_at: ts,
                    });
                }
            }
            Err(StoreError::ConditionFailed { .. }) => {
                for (index, name) in chunk {
                    match create(svc, scope, actor, name.clone(), now).await {
                        Ok(g) => created.push(g),
                        Err(error) => failed.push(BulkFailure {
                            index: *index,
                            name: name.as_str().to_owned(),
                            error,
                        }),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    failed.sort_by_key(|f| f.index);
    Ok((created, failed))
}

/// Deletes the groups of `ids` as [`delete`] does, together: the groups read in one BatchGetItem, their
/// members in one Query each, then as few transactions as hold them (a member of several of them is
/// updated once). A group too big to go with its members, one whose count moved between the reads, and
/// every group of a transaction that fails are deleted on their own as [`delete`]. Answers the ids deleted,
/// and each one that was not with why (an id named again is `NotFound`), in the order given.
pub async fn delete_many(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    ids: Vec<String>,
    now: OffsetDateTime,
) -> (Vec<String>, Vec<(String, AppError)>) {
    let mut outcome: Vec<Option<Result<(), AppError>>> = ids.iter().map(|_| None).collect();
    let mut wanted: Vec<(usize, GroupId)> = Vec::new();
    let mut seen = HashSet::new();
    for (at, raw) in ids.iter().enumerate() {
        match GroupId::parse(raw) {
            Some(id) if seen.insert(raw.clone()) => wanted.push((at, id)),
            _ => outcome[at] = Some(Err(AppError::NotFound("group"))),
        }
    }
    let mut alone: Vec<usize> = Vec::new();
    match leaving_groups(svc, scope, &wanted).await {
        Ok(found) => {
            let mut together = Vec::new();
            for (at, r) in found {
                match r {
                    Ok(Some(g)) => together.push((at, g)),
                    Ok(None) => alone.push(at),
                    Err(e) => outcome[at] = Some(Err(e)),
                }
            }
            for chunk in pack_groups(together) {
                let (ats, groups): (Vec<usize>, Vec<Leaving>) = chunk.into_iter().unzip();
                match commit_group_deletions(svc, scope, actor, &groups, now).await {
                    Ok(()) => {
                        for at in ats {
                            outcome[at] = Some(Ok(()));
                        }
                    }
                    Err(_) => alone.extend(ats),
                }
            }
        }
        Err(_) => alone.extend(wanted.iter().map(|(at, _)| *at)),
    }
    alone.sort_unstable();
    for at in alone {
        if let Some(id) = GroupId::parse(&ids[at]) {
            outcome[at] = Some(delete(svc, scope, actor, &id, now).await);
        }
    }
    let (mut deleted, mut failed) = (vec![], vec![]);
    for (raw, o) in ids.into_iter().zip(outcome) {
        match o.unwrap_or(Err(AppError::NotFound("group"))) {
            Ok(()) => deleted.push(raw),
            Err(e) => failed.push((raw, e)),
        }
    }
    (deleted, failed)
}

/// A group about to be deleted with its members: the group as read (its member count is the deletion's
/// condition) and the members found.
struct Leaving {
    group: GroupView,
    members: Vec<UserId>,
}

/// The groups of `wanted` in one BatchGetItem (per 100) and the members of each in one Query: `Ok(None)`
/// for a group to delete on its own (too many members for one transaction, or a count that moved).
async fn leaving_groups(
    svc: &Services,
    scope: &Scope,
    wanted: &[(usize, GroupId)],
) -> Result<Vec<(usize, Result<Option<Leaving>, AppError>)>, AppError> {
    use futures_util::StreamExt;
    let keys: Vec<(String, String)> = wanted
        .iter()
        .map(|(_, id)| (scope.pk(), layout::group_sk(id)))
        .collect();
    let mut items = std::collections::HashMap::new();
    for chunk in keys.chunks(crate::ports::store::BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            items.insert(item.sk.clone(), item);
        }
    }
    let found: Vec<(usize, Option<GroupView>)> = wanted
        .iter()
        .map(|(at, id)| {
            let g = items
                .get(&layout::group_sk(id))
                .map(crate::app::records::group::view);
            (*at, g)
        })
        .collect();
    let fits = |g: &GroupView| {
        usize::try_from(g.member_count)
            .is_ok_and(|n| 2 * n + 4 <= crate::ports::store::MAX_TRANSACTION_ITEMS)
    };
    let to_query: Vec<Option<(GroupId, i64)>> = found
        .iter()
        .map(|(_, g)| {
            g.as_ref()
                .filter(|g| fits(g))
                .map(|g| (g.id.clone(), g.member_count))
        })
        .collect();
    let members: Vec<Option<Result<Option<Vec<UserId>>, AppError>>> =
        futures_util::stream::iter(to_query)
            .map(|g| async move {
                let (id, count) = g?;
                let prefix = layout::members_prefix(&id);
                let page = svc
                    .store
                    .query(
                        &Query::prefix(Table::Data, scope.pk(), prefix.clone())
                            .limit(MEMBERS_PER_TX),
                    )
                    .await;
                Some(page.map_err(AppError::from).map(|page| {
                    (page.next.is_none() && page.items.len() as i64 == count).then(|| {
                        page.items
                            .iter()
                            .map(|i| {
                                UserId::from_stored(i.sk.strip_prefix(&prefix).unwrap_or_default())
                            })
                            .collect()
                    })
                }))
            })
            .buffered(8)
            .collect()
            .await;
    Ok(found
        .into_iter()
        .zip(members)
        .map(|((at, g), m)| {
            let r = match (g, m) {
                (None, _) => Err(AppError::NotFound("group")),
                (Some(group), Some(Ok(Some(members)))) => Ok(Some(Leaving { group, members })),
                (Some(_), Some(Err(e))) => Err(e),
                (Some(_), _) => Ok(None),
            };
            (at, r)
        })
        .collect())
}

/// Groups put together in transactions of at most 100 items: per group its item, name guard, externalId
/// and audit entry and its membership items; each member's user item once per transaction.
fn pack_groups(groups: Vec<(usize, Leaving)>) -> Vec<Vec<(usize, Leaving)>> {
    let max = crate::ports::store::MAX_TRANSACTION_ITEMS;
    let mut out: Vec<Vec<(usize, Leaving)>> = Vec::new();
    let mut cur: Vec<(usize, Leaving)> = Vec::new();
    let (mut used, mut users) = (0, HashSet::<String>::new());
    for (at, g) in groups {
        let new_users = g
            .members
            .iter()
            .filter(|u| !users.contains(u.as_str()))
            .count();
        if !cur.is_empty() && used + 4 + g.members.len() + new_users > max {
            out.push(std::mem::take(&mut cur));
            used = 0;
            users.clear();
        }
        let new_users = g
            .members
            .iter()
            .filter(|u| !users.contains(u.as_str()))
            .count();
        used += 4 + g.members.len() + new_users;
        users.extend(g.members.iter().map(UserId::to_string));
        cur.push((at, g));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Deletes `groups` with their memberships in one transaction, each conditioned on the member count read.
async fn commit_group_deletions(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    groups: &[Leaving],
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    let mut left: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for Leaving { group, members } in groups {
        let id = &group.id;
        tx.guard(
            Write::Delete {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::group_sk(id),
                cond: Some(Cond::Eq(
                    crate::app::layout::attr::MEMBER_COUNT,
                    crate::ports::Value::N(group.member_count),
                )),
            },
            || AppError::NotFound("group"),
        );
        for u in members {
            tx.push(Write::delete(
                Table::Data,
                scope.pk(),
                layout::member_sk(id, u),
            ));
            left.entry(u.to_string()).or_default().push(id.to_string());
        }
        push_deletion(&mut tx, scope, &log_key, actor, id, &group.name, now);
    }
    // Each member's group set loses every group of the transaction at once.
    for (u, gids) in left {
        tx.push(Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::user_sk(&UserId::from_stored(u)),
            changes: vec![
                crate::ports::Change::SetDelete(crate::app::layout::attr::GROUPS, gids),
                crate::ports::Change::Add(crate::app::layout::attr::GROUPS_REV, 1),
            ],
            cond: Some(Cond::Exists),
        });
    }
    tx.commit(svc.store.as_ref()).await
}

/// The writes of a group's deletion beside the group item: its name guard, SCIM's externalId of it (if
/// any), the audit entry.
fn push_deletion(
    tx: &mut Tx,
    scope: &Scope,
    log_key: &crate::crypto::TenantKey,
    actor: &Actor,
    id: &GroupId,
    name: &str,
    now: OffsetDateTime,
) {
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::group_name_sk(&name_digest(name)),
    ));
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::scim_group_sk(id),
    ));
    tx.push(audit::entry(
        &scope.tenant,
        log_key,
        actor,
        Entry {
            action: "group.delete",
            target_type: "group",
            target_id: id.as_str(),
        },
        now,
    ));
}

/// How often a deletion that takes the members with it reads the group again when its member count moved
/// meanwhile, before it deletes the group first and its memberships after.
const DELETE_ATTEMPTS: usize = 3;

/// Deletes a group: the group and its name go at once (one transaction), and with them every membership in
/// both directions when they fit that transaction (the group's member count, read before the members, is
/// its condition: a member added or removed meanwhile makes it read again); a bigger group's memberships go
/// right after, in batches. Users stay.
pub async fn delete(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut attempt = 1;
    let group = loop {
        let group = load(svc, scope, id).await?;
        let fits = usize::try_from(group.member_count)
            .is_ok_and(|n| 2 * n + 4 <= crate::ports::store::MAX_TRANSACTION_ITEMS);
        if !fits || attempt > DELETE_ATTEMPTS {
            break group;
        }
        attempt += 1;
        let prefix = layout::members_prefix(id);
        let page = svc
            .store
            .query(&Query::prefix(Table::Data, scope.pk(), prefix.clone()).limit(MEMBERS_PER_TX))
            .await?;
        if page.next.is_some() || page.items.len() as i64 != group.member_count {
            // Members came or went between the two reads: read again.
            continue;
        }
        let log_key = svc.log_key(&scope.tenant).await?;
        let mut tx = Tx::new();
        tx.guard(
            Write::Delete {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::group_sk(id),
                cond: Some(Cond::Eq(
                    crate::app::layout::attr::MEMBER_COUNT,
                    crate::ports::Value::N(group.member_count),
                )),
            },
            || AppError::NotFound("group"),
        );
        for i in &page.items {
            let u = UserId::from_stored(i.sk.strip_prefix(&prefix).unwrap_or_default());
            for w in unlink_writes(scope, id, &u) {
                tx.push(w);
            }
        }
        push_deletion(&mut tx, scope, &log_key, actor, id, &group.name, now);
        match tx.commit(svc.store.as_ref()).await {
            Ok(()) => return Ok(()),
            // The count moved, a member was deleted or the group is gone: read again.
            Err(AppError::NotFound(_) | AppError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    };
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::group_sk(id),
            cond: Some(Cond::Exists),
        },
        || AppError::NotFound("group"),
    );
    push_deletion(&mut tx, scope, &log_key, actor, id, &group.name, now);
    tx.commit(svc.store.as_ref()).await?;
    let prefix = layout::members_prefix(id);
    loop {
        let page = svc
            .store
            .query(&Query::prefix(Table::Data, scope.pk(), prefix.clone()).limit(MEMBERS_PER_TX))
            .await?;
        if page.items.is_empty() {
            return Ok(());
        }
        let members: Vec<UserId> = page
            .items
            .iter()
            .map(|i| UserId::from_stored(i.sk.strip_prefix(&prefix).unwrap_or_default()))
            .collect();
        let writes = members
            .iter()
            .flat_map(|u| unlink_writes(scope, id, u))
            .collect();
        if let Err(StoreError::ConditionFailed { .. }) = svc.store.transact(writes).await {
            // A member was deleted meanwhile: unlink one by one; a missing user needs only its item gone.
            for u in &members {
                if svc
                    .store
                    .transact(unlink_writes(scope, id, u).into())
                    .await
                    .is_err()
                {
                    svc.store
                        .transact(vec![Write::delete(
                            Table::Data,
                            scope.pk(),
                            layout::member_sk(id, u),
                        )])
                        .await?;
                }
            }
        }
    }
}
