//! Groups (the labels admins organise employees with): names unique per tenant, membership stored both
//! ways (`GMEM#<group>#<user>` items for "members of a group", the user's `groups` set for "groups of a
//! user"), an exact `member_count` kept in the same transactions as the memberships, and bulk operations
//! in transactions of up to [`MEMBERS_PER_TX`] members.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::paging::{Page, PageRequest};
use crate::app::tx::{self, Tx};
use crate::app::users::{self, UserRecord};
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{GroupId, UserId};
use crate::domain::time::jst_from_unix;
use crate::domain::values::{Name, comparison_form};
use crate::ports::{Change, Cond, Item, Query, StoreError, Table, Value, Write};

/// Two writes per member (membership item, user's set) plus the group's counter: 49 members fill 99 of
/// a transaction's 100 items.
pub const MEMBERS_PER_TX: usize = 49;
/// Three writes per new group (group, name guard, audit entry).
pub const GROUPS_PER_TX: usize = 33;

#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn view(item: &Item) -> GroupView {
    GroupView {
        id: GroupId::from_stored(
            item.sk
                .strip_prefix(layout::GROUP_PREFIX)
                .unwrap_or_default(),
        ),
        name: item.s(attr::NAME).unwrap_or_default().to_owned(),
        member_count: item.n(attr::MEMBER_COUNT).unwrap_or(0),
        created_at: jst_from_unix(item.n(attr::CREATED).unwrap_or(0)),
        updated_at: jst_from_unix(item.n(attr::UPDATED).unwrap_or(0)),
    }
}

pub fn name_digest(name: &str) -> String {
    crate::util::hex(&Sha256::digest(comparison_form(name).as_bytes())[..16])
}

fn name_taken(name: &str) -> AppError {
    AppError::conflict(
        "group_name_taken",
        format!("a group named {name:?} already exists in this tenant"),
    )
}

fn new_group_writes(scope: &Scope, id: &GroupId, name: &Name, now: OffsetDateTime) -> [Write; 2] {
    let ts = now.unix_timestamp();
    [
        Write::put_new(
            Table::Data,
            Item::new(scope.pk(), layout::group_sk(id))
                .with(attr::NAME, Value::S(name.as_str().to_owned()))
                .with(attr::MEMBER_COUNT, Value::N(0))
                .with(attr::CREATED, Value::N(ts))
                .with(attr::UPDATED, Value::N(ts)),
        ),
        Write::put_new(
            Table::Data,
            Item::new(
                scope.pk(),
                layout::group_name_sk(&name_digest(name.as_str())),
            )
            .with(attr::GROUP, Value::S(id.to_string())),
        ),
    ]
}

pub async fn load(svc: &Services, scope: &Scope, id: &GroupId) -> Result<GroupView, AppError> {
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::group_sk(id))
        .await?
        .ok_or(AppError::NotFound("group"))?;
    Ok(view(&item))
}

/// The group a name designates, if any.
pub async fn by_name(
    svc: &Services,
    scope: &Scope,
    name: &str,
) -> Result<Option<GroupId>, AppError> {
    let guard = svc
        .store
        .get(
            Table::Data,
            &scope.pk(),
            &layout::group_name_sk(&name_digest(name)),
        )
        .await?;
    Ok(guard.and_then(|g| g.s(attr::GROUP).map(GroupId::from_stored)))
}

pub async fn create(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    name: Name,
    now: OffsetDateTime,
) -> Result<GroupView, AppError> {
    let id = GroupId::generate();
    let log_key = svc.log_key(&scope.tenant).await?;
    let [group, guard] = new_group_writes(scope, &id, &name, now);
    let mut tx = Tx::new();
    tx.push(group);
    let n = name.as_str().to_owned();
    tx.guard(guard, move || name_taken(&n));
    tx.push(audit::entry(
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
    tx.commit(svc.store.as_ref()).await?;
    load(svc, scope, &id).await
}

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

pub async fn rename(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    name: Name,
    now: OffsetDateTime,
) -> Result<GroupView, AppError> {
    let old = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::group_sk(id))
        .await?
        .ok_or(AppError::NotFound("group"))?;
    let old_name = old.s(attr::NAME).unwrap_or_default().to_owned();
    let old_updated = old.n(attr::UPDATED).unwrap_or(0);
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::group_sk(id),
            changes: vec![
                Change::Set(attr::NAME, Value::S(name.as_str().to_owned())),
                Change::Set(
                    attr::UPDATED,
                    Value::N(now.unix_timestamp().max(old_updated + 1)),
                ),
            ],
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(old_updated))),
        },
        || {
            AppError::conflict(
                "conflict",
                "the group changed while this request ran; read it again and retry",
            )
        },
    );
    if name_digest(&old_name) != name_digest(name.as_str()) {
        tx.push(Write::delete(
            Table::Data,
            scope.pk(),
            layout::group_name_sk(&name_digest(&old_name)),
        ));
        let n = name.as_str().to_owned();
        tx.guard(
            Write::put_new(
                Table::Data,
                Item::new(
                    scope.pk(),
                    layout::group_name_sk(&name_digest(name.as_str())),
                )
                .with(attr::GROUP, Value::S(id.to_string())),
            ),
            move || name_taken(&n),
        );
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "group.rename",
            target_type: "group",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    load(svc, scope, id).await
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

/// Removes one membership in both directions (without touching the group's counter). The user's side
/// moves its membership revision, so a deletion that read the user before fails and reads again.
fn unlink_writes(scope: &Scope, g: &GroupId, u: &UserId) -> [Write; 2] {
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

fn parse_ids(raw: Vec<String>) -> (Vec<UserId>, Vec<MemberFailure>) {
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
    load(svc, scope, id).await?;
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

async fn is_member(
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

fn link_writes(
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
    load(svc, scope, id).await?;
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

fn unlink_many(
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

/// The writes that take a user out of all its groups, for the transaction that deletes the user. Groups
/// deleted meanwhile only lose the membership item (their counter is gone with them).
pub async fn leave_all_writes(
    svc: &Services,
    scope: &Scope,
    user: &UserRecord,
) -> Result<Vec<Write>, AppError> {
    let gids: Vec<GroupId> = user.group_ids.iter().map(GroupId::from_stored).collect();
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
    let mut w = Vec::new();
    for g in &gids {
        w.push(Write::delete(
            Table::Data,
            scope.pk(),
            layout::member_sk(g, &user.id),
        ));
        if live.contains(&layout::group_sk(g)) {
            w.push(Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::group_sk(g),
                changes: vec![Change::Add(attr::MEMBER_COUNT, -1)],
                cond: Some(Cond::Ge(attr::MEMBER_COUNT, 1)),
            });
        }
    }
    Ok(w)
}

/// Groups in creation order; `q` matches a name prefix (names are not personal data, so no decryption).
pub async fn list(
    svc: &Services,
    scope: &Scope,
    page: PageRequest,
    q: Option<&str>,
) -> Result<Page<GroupView>, AppError> {
    let limit = page.limit;
    let after = page.after_key(|k| layout::is_id_key(layout::GROUP_PREFIX, k))?;
    let needle = q.map(comparison_form).filter(|s| !s.is_empty());
    let mut items = Vec::new();
    let mut cursor = after;
    let mut scanned = 0;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::GROUP_PREFIX)
                    .after(cursor.clone())
                    .limit(if needle.is_some() { 200 } else { limit }),
            )
            .await?;
        let last = page.items.last().map(|i| i.sk.clone());
        for item in &page.items {
            scanned += 1;
            cursor = Some(item.sk.clone());
            let g = view(item);
            if needle
                .as_ref()
                .is_none_or(|n| comparison_form(&g.name).starts_with(n.as_str()))
            {
                items.push(g);
                if items.len() == limit {
                    let more = page.next.is_some() || Some(&item.sk) != last.as_ref();
                    return Ok(Page::after_key(items, if more { cursor } else { None }));
                }
            }
        }
        if page.next.is_none() {
            return Ok(Page::after_key(items, None));
        }
        if scanned >= users::SEARCH_SCAN_BUDGET {
            return Ok(Page::after_key(items, cursor));
        }
    }
}

/// A page of a group's members (users), in user-id order.
pub async fn members(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
    page: PageRequest,
) -> Result<Page<UserRecord>, AppError> {
    let prefix = layout::members_prefix(id);
    let after = page.after_key(|k| layout::is_id_key(&prefix, k))?;
    load(svc, scope, id).await?;
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

/// Group ids by name, for imports: creates the missing ones (one transaction each) and returns them all.
pub async fn ensure_named(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    names: &[String],
    now: OffsetDateTime,
) -> Result<BTreeMap<String, Result<GroupId, String>>, AppError> {
    let mut out = BTreeMap::new();
    for raw in names {
        let key = comparison_form(raw);
        if out.contains_key(&key) {
            continue;
        }
        let resolved = match Name::parse("groups", raw) {
            Err(e) => Err(e.message),
            Ok(name) => match by_name(svc, scope, name.as_str()).await? {
                Some(id) => Ok(id),
                None => match create(svc, scope, actor, name.clone(), now).await {
                    Ok(g) => Ok(g.id),
                    // Created concurrently by someone else: use theirs.
                    Err(AppError::Conflict { .. }) => by_name(svc, scope, name.as_str())
                        .await?
                        .ok_or_else(|| "group vanished".to_string()),
                    Err(e) => return Err(e),
                },
            },
        };
        out.insert(key, resolved);
    }
    Ok(out)
}
