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

/// Deletes each group of `ids` as [`delete`] does: the ids deleted, and each one that was not with why.
pub async fn delete_many(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    ids: Vec<String>,
    now: OffsetDateTime,
) -> (Vec<String>, Vec<(String, AppError)>) {
    let (mut deleted, mut failed) = (vec![], vec![]);
    for raw in ids {
        let result = match GroupId::parse(&raw) {
            Some(id) => delete(svc, scope, actor, &id, now).await,
            None => Err(AppError::NotFound("group")),
        };
        match result {
            Ok(()) => deleted.push(raw),
            Err(e) => failed.push((raw, e)),
        }
    }
    (deleted, failed)
}

/// Deletes a group: the group and its name go at once (one transaction), then every membership in both
/// directions, in batches. Users stay.
pub async fn delete(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let group = load(svc, scope, id).await?;
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
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::group_name_sk(&name_digest(&group.name)),
    ));
    // SCIM's externalId of the group, if any.
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::scim_group_sk(id),
    ));
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "group.delete",
            target_type: "group",
            target_id: id.as_str(),
        },
        now,
    ));
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
