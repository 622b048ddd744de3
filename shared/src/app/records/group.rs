//! The group record and the group operations several use cases share (the API and console, SCIM, the CSV
//! import): load, look-up by name, create, rename, list, ensure a named group exists.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::paging::{Page, PageRequest};
use crate::app::records::user;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::GroupId;
use crate::domain::time::jst_from_unix;
use crate::domain::values::{Name, comparison_form};
use crate::ports::{Change, Cond, Item, Query, Table, Value, Write};

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

pub(crate) fn view(item: &Item) -> GroupView {
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

pub(crate) fn name_taken(name: &str) -> AppError {
    AppError::conflict(
        "group_name_taken",
        format!("a group named {name:?} already exists in this tenant"),
    )
}

pub(crate) fn new_group_writes(
    scope: &Scope,
    id: &GroupId,
    name: &Name,
    now: OffsetDateTime,
) -> [Write; 2] {
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
        if scanned >= user::SEARCH_SCAN_BUDGET {
            return Ok(Page::after_key(items, cursor));
        }
    }
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
