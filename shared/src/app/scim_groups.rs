//! Groups as SCIM provisions them (issue 18): Kanri's groups, their name unique as always, members added and
//! removed through the groups' own batched transactions (`membership::add_members`, `remove_members`:
//! [`membership::MEMBERS_PER_TX`] memberships each), the SCIM token as the actor.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::app::audit::Actor;
use crate::app::layout::{self, attr};
use crate::app::paging::PageRequest;
use crate::app::records::group;
use crate::app::records::group::GroupView;
use crate::app::records::membership;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{GroupId, UserId};
use crate::domain::values::Name;
use crate::ports::{Item, Query, Table, Value, Write};

/// Members one request may name (as the API's bulk member routes).
pub const MAX_MEMBERS: usize = 1000;

#[derive(Clone, Debug)]
pub struct ScimGroup {
    pub group: GroupView,
    /// `(user id, name)`, when loaded.
    pub members: Option<Vec<(String, String)>>,
    /// SCIM's `externalId`, as sent.
    pub external_id: Option<String>,
}

/// Stores (or, with `None`, removes) a group's externalId.
async fn set_external_id(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
    external: Option<&str>,
) -> Result<(), AppError> {
    let w = match external {
        Some(x) => Write::Put {
            table: Table::Data,
            item: Item::new(scope.pk(), layout::scim_group_sk(id))
                .with(attr::EXTERNAL_ID, Value::S(x.to_owned())),
            cond: None,
        },
        None => Write::delete(Table::Data, scope.pk(), layout::scim_group_sk(id)),
    };
    // Only while the group exists: a group deleted meanwhile keeps no externalId.
    let check = Write::Check {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::group_sk(id),
        cond: crate::ports::Cond::Exists,
    };
    let mut tx = crate::app::tx::Tx::new();
    tx.guard(check, || AppError::NotFound("group"));
    tx.push(w);
    tx.commit(svc.store.as_ref()).await
}

async fn member_list(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
) -> Result<Vec<(String, String)>, AppError> {
    let mut out = Vec::new();
    let mut req = PageRequest::first(1000);
    loop {
        let page = membership::member_page(svc, scope, id, req.clone()).await?;
        out.extend(
            page.items
                .iter()
                .map(|u| (u.id.to_string(), u.name.clone())),
        );
        match page.next {
            Some(n) => req.after = Some(n),
            None => return Ok(out),
        }
    }
}

pub async fn load(
    svc: &Services,
    scope: &Scope,
    id: &GroupId,
    with_members: bool,
) -> Result<ScimGroup, AppError> {
    // The group and its externalId in one read.
    let keys = [
        (scope.pk(), layout::group_sk(id)),
        (scope.pk(), layout::scim_group_sk(id)),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let group = group::view(
        items
            .iter()
            .find(|i| i.sk == keys[0].1)
            .ok_or(AppError::NotFound("group"))?,
    );
    let external_id = items
        .iter()
        .find(|i| i.sk == keys[1].1)
        .and_then(|i| i.s(attr::EXTERNAL_ID).map(str::to_owned));
    let members = if with_members {
        Some(member_list(svc, scope, id).await?)
    } else {
        None
    };
    Ok(ScimGroup {
        group,
        members,
        external_id,
    })
}

/// Every group in creation order (members only when asked: a list without them reads one page per 200
/// groups).
pub async fn all(
    svc: &Services,
    scope: &Scope,
    with_members: bool,
) -> Result<Vec<ScimGroup>, AppError> {
    let mut externals = std::collections::HashMap::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::SCIM_GROUP_PREFIX)
                    .after(after)
                    .limit(500),
            )
            .await?;
        for i in &page.items {
            if let Some(x) = i.s(attr::EXTERNAL_ID) {
                let g =
                    i.sk.strip_prefix(layout::SCIM_GROUP_PREFIX)
                        .unwrap_or_default();
                externals.insert(g.to_owned(), x.to_owned());
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut out = Vec::new();
    let mut req = PageRequest::first(200);
    loop {
        let page = group::list(svc, scope, req.clone(), None).await?;
        for g in page.items {
            let members = if with_members {
                Some(member_list(svc, scope, &g.id).await?)
            } else {
                None
            };
            let external_id = externals.remove(g.id.as_str());
            out.push(ScimGroup {
                group: g,
                members,
                external_id,
            });
        }
        match page.next {
            Some(n) => req.after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The group a display name designates (compared as Kanri compares names).
pub async fn by_name(
    svc: &Services,
    scope: &Scope,
    name: &str,
    with_members: bool,
) -> Result<Option<ScimGroup>, AppError> {
    match group::by_name(svc, scope, name).await? {
        Some(id) => match load(svc, scope, &id, with_members).await {
            Ok(g) => Ok(Some(g)),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    }
}

/// Checks that every id is a user of the tenant before anything is changed: 400 naming the first that is
/// not (a group is never half-provisioned because of a bad member).
async fn check_members(svc: &Services, scope: &Scope, ids: &[String]) -> Result<(), AppError> {
    if ids.len() > MAX_MEMBERS {
        return Err(AppError::invalid(
            "members",
            format!("at most {MAX_MEMBERS} members per request; add more with PATCH"),
        ));
    }
    let mut parsed = Vec::new();
    for raw in ids {
        match UserId::parse(raw) {
            Some(u) => parsed.push(u),
            None => {
                return Err(AppError::invalid(
                    "members",
                    format!("no user with id {raw:?}"),
                ));
            }
        }
    }
    let found = membership::existing_users(svc, scope, &parsed).await?;
    if let Some(missing) = parsed.iter().find(|u| !found.contains_key(u.as_str())) {
        return Err(AppError::invalid(
            "members",
            format!("no user with id {:?}", missing.as_str()),
        ));
    }
    Ok(())
}

/// Adds and removes members in the groups' batches; a member that failed is reported as an error.
async fn change_members(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    add: Vec<String>,
    remove: Vec<String>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if !add.is_empty() {
        let (_, failed) = membership::add_members(svc, scope, actor, id, add, now).await?;
        if let Some(f) = failed.into_iter().next() {
            return Err(f.error);
        }
    }
    if !remove.is_empty() {
        let (_, failed) = membership::remove_members(svc, scope, actor, id, remove, now).await?;
        if let Some(f) = failed.into_iter().next() {
            return Err(f.error);
        }
    }
    Ok(())
}

fn check_external(x: Option<&str>) -> Result<(), AppError> {
    match x {
        Some(x)
            if x.chars().count() > crate::app::records::scim::MAX_EXTRA
                || x.chars().any(char::is_control) =>
        {
            Err(AppError::invalid(
                "externalId",
                "externalId has at most 256 characters and no control character",
            ))
        }
        _ => Ok(()),
    }
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

/// Creates a group, with its members if any (409 `group_name_taken` when the name is taken).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    name: Name,
    members: Vec<String>,
    external: Option<String>,
    now: OffsetDateTime,
) -> Result<ScimGroup, AppError> {
    let members = dedup(members);
    check_members(svc, scope, &members).await?;
    check_external(external.as_deref())?;
    let g = group::create(svc, scope, actor, name, now).await?;
    if external.is_some() {
        set_external_id(svc, scope, &g.id, external.as_deref()).await?;
    }
    change_members(svc, scope, actor, &g.id, members, vec![], now).await?;
    load(svc, scope, &g.id, true).await
}

/// Makes a group what a PUT (or a PATCH applied to its representation) asks: the name, then the members
/// added and removed (each in the groups' batched transactions).
#[allow(clippy::too_many_arguments)]
pub async fn replace(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &GroupId,
    name: Name,
    members: Vec<String>,
    external: Option<String>,
    now: OffsetDateTime,
) -> Result<ScimGroup, AppError> {
    check_external(external.as_deref())?;
    let old = load(svc, scope, id, true).await?;
    replace_from(svc, scope, actor, old, name, members, external, now).await
}

/// [`replace`] of a group read already with its members (a PATCH applies its operations to what it read).
#[allow(clippy::too_many_arguments)]
pub async fn replace_from(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    old: ScimGroup,
    name: Name,
    members: Vec<String>,
    external: Option<String>,
    now: OffsetDateTime,
) -> Result<ScimGroup, AppError> {
    let members = dedup(members);
    check_external(external.as_deref())?;
    let id = &old.group.id.clone();
    let old_members = match &old.members {
        Some(m) => m.clone(),
        None => member_list(svc, scope, id).await?,
    };
    if old.external_id != external {
        set_external_id(svc, scope, id, external.as_deref()).await?;
    }
    let old_ids: HashSet<String> = old_members.iter().map(|(u, _)| u.clone()).collect();
    let new_ids: HashSet<&String> = members.iter().collect();
    let add: Vec<String> = members
        .iter()
        .filter(|u| !old_ids.contains(*u))
        .cloned()
        .collect();
    let remove: Vec<String> = old_ids
        .iter()
        .filter(|u| !new_ids.contains(u))
        .cloned()
        .collect();
    check_members(svc, scope, &add).await?;
    if name.as_str() != old.group.name {
        group::rename(svc, scope, actor, id, name, now).await?;
    }
    change_members(svc, scope, actor, id, add, remove, now).await?;
    load(svc, scope, id, true).await
}
