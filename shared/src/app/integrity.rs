//! The integrity check behind `kanri-ops check` (and the test suite after its race tests): walks a tenant's
//! partition and reports every broken invariant of the derived state, the state that transactions keep
//! beside the entities: the seat and org-admin counters, both directions of every membership and each
//! group's member count, the uniqueness guards (e-mail, login id, group name, role name, slug) against
//! their entities and the reverse, and each custom role's holder count.
//!
//! It reads raw items and decrypts nothing: ids, counters and blind indexes are all it compares, so it
//! needs no tenant key and prints no personal data. A change in flight (a group deletion unlinking its
//! members in batches) shows as a problem until it completes; run it again before acting on one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::app::layout::{self, attr};
use crate::app::{AppError, Services};
use crate::domain::ids::TenantId;
use crate::domain::permissions;
use crate::ports::{Item, Query, Table};

/// One broken invariant: a stable kind (for scripts and tests) and the ids it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: &'static str,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// What the check saw in one tenant, and what is wrong there.
#[derive(Clone, Debug, Default)]
pub struct TenantReport {
    pub tenant: String,
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub roles: usize,
    pub problems: Vec<Problem>,
}

impl TenantReport {
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
    fn broken(&mut self, kind: &'static str, detail: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            detail: detail.into(),
        });
    }
}

/// Every item of a partition whose sort key starts with `prefix`, page after page.
async fn all(svc: &Services, pk: &str, prefix: &str) -> Result<Vec<Item>, AppError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, pk, prefix)
                    .after(after)
                    .limit(1000),
            )
            .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

fn suffix<'a>(item: &'a Item, prefix: &str) -> &'a str {
    item.sk.strip_prefix(prefix).unwrap_or_default()
}

/// The attributes of a user the invariants speak of.
struct UserFacts {
    role: String,
    org_admin: bool,
    /// A disabled user holds no seat and is not counted among the org admins.
    disabled: bool,
    groups: BTreeSet<String>,
    email_index: Option<String>,
    login_index: Option<String>,
}

/// Checks every tenant in the registry that still holds data (purged ones are skipped).
pub async fn check_all(svc: &Services) -> Result<Vec<TenantReport>, AppError> {
    let mut out = Vec::new();
    for entry in all(svc, layout::REGISTRY_PK, "").await? {
        if entry.s(attr::PURGE).is_some() {
            continue;
        }
        let tenant = TenantId::from_stored(entry.sk.clone());
        match check_tenant(svc, &tenant).await {
            Ok(r) => out.push(r),
            // Created in the registry but not (yet, or any more) in the data: nothing to check.
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Walks one tenant and reports each broken invariant. `NotFound` when the tenant has no data.
pub async fn check_tenant(svc: &Services, tenant: &TenantId) -> Result<TenantReport, AppError> {
    let pk = layout::tenant_pk(tenant);
    let meta = svc
        .store
        .get(Table::Data, &pk, layout::META)
        .await?
        .ok_or(AppError::NotFound("tenant"))?;
    let mut r = TenantReport {
        tenant: tenant.to_string(),
        ..Default::default()
    };

    let users: BTreeMap<String, UserFacts> = all(svc, &pk, layout::USER_PREFIX)
        .await?
        .iter()
        .map(|i| {
            let facts = UserFacts {
                role: i
                    .s(attr::ROLE)
                    .unwrap_or(permissions::DEFAULT_ROLE)
                    .to_owned(),
                org_admin: i.bool(attr::ORG_ADMIN).unwrap_or(false),
                disabled: i.s(attr::STATUS) == Some("disabled"),
                groups: i.ss(attr::GROUPS).into_iter().collect(),
                email_index: i.s(attr::EMAIL_INDEX).map(str::to_owned),
                login_index: i.s(attr::LOGIN_INDEX).map(str::to_owned),
            };
            (suffix(i, layout::USER_PREFIX).to_owned(), facts)
        })
        .collect();
    r.users = users.len();

    // Counters of the tenant item.
    let seats = meta.n(attr::SEATS_USED).unwrap_or(0);
    let enabled = users.values().filter(|u| !u.disabled).count();
    if seats != enabled as i64 {
        r.broken(
            "seats_used",
            format!("the tenant counts {seats} seats used but has {enabled} enabled users"),
        );
    }
    let admins = users
        .values()
        .filter(|u| u.org_admin && !u.disabled)
        .count() as i64;
    let counted = meta.n(attr::ORG_ADMINS).unwrap_or(0);
    if counted != admins {
        r.broken(
            "org_admins",
            format!(
                "the tenant counts {counted} org admins but {admins} enabled users are org admins"
            ),
        );
    }
    let slug = meta.s(attr::SLUG).unwrap_or_default();
    let slug_owner = svc
        .store
        .get(Table::Data, &layout::slug_pk(slug), layout::SLUG_SK)
        .await?;
    if slug_owner.as_ref().and_then(|i| i.s(attr::TENANT)) != Some(tenant.as_str()) {
        r.broken(
            "slug_guard",
            format!("the slug {slug:?} does not lead to this tenant"),
        );
    }

    // E-mail and login-id guards, both ways.
    type IndexOf = fn(&UserFacts) -> Option<&String>;
    type GuardSk = fn(&str) -> String;
    let kinds: [(String, &'static str, IndexOf, GuardSk); 2] = [
        (
            layout::email_guard_sk(""),
            "email",
            |u| u.email_index.as_ref(),
            |i| layout::email_guard_sk(i),
        ),
        (
            layout::login_guard_sk(""),
            "login",
            |u| u.login_index.as_ref(),
            |i| layout::login_guard_sk(i),
        ),
    ];
    for (prefix, what, index_of, guard_sk) in kinds {
        let guards: HashMap<String, String> = all(svc, &pk, &prefix)
            .await?
            .iter()
            .map(|g| {
                (
                    suffix(g, &prefix).to_owned(),
                    g.s(attr::USER).unwrap_or_default().to_owned(),
                )
            })
            .collect();
        for (index, user) in &guards {
            match users.get(user) {
                None => r.broken(
                    "guard_without_entity",
                    format!(
                        "{what} guard {} names user {user}, who does not exist",
                        guard_sk(index)
                    ),
                ),
                Some(u) if index_of(u) != Some(index) => r.broken(
                    "guard_without_entity",
                    format!(
                        "{what} guard {} names user {user}, whose {what} is another",
                        guard_sk(index)
                    ),
                ),
                Some(_) => {}
            }
        }
        for (id, u) in &users {
            if let Some(i) = index_of(u)
                && guards.get(i) != Some(id)
            {
                r.broken(
                    "entity_without_guard",
                    format!("user {id} has no {what} guard {} of its own", guard_sk(i)),
                );
            }
        }
    }

    // Groups and their name guards.
    let group_items = all(svc, &pk, layout::GROUP_PREFIX).await?;
    let groups: BTreeMap<String, (String, i64)> = group_items
        .iter()
        .map(|g| {
            (
                suffix(g, layout::GROUP_PREFIX).to_owned(),
                (
                    g.s(attr::NAME).unwrap_or_default().to_owned(),
                    g.n(attr::MEMBER_COUNT).unwrap_or(0),
                ),
            )
        })
        .collect();
    r.groups = groups.len();
    let gname_prefix = layout::group_name_sk("");
    let gnames: HashMap<String, String> = all(svc, &pk, &gname_prefix)
        .await?
        .iter()
        .map(|g| {
            (
                suffix(g, &gname_prefix).to_owned(),
                g.s(attr::GROUP).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (digest, gid) in &gnames {
        match groups.get(gid) {
            Some((name, _)) if &crate::app::records::group::name_digest(name) == digest => {}
            Some(_) => r.broken(
                "guard_without_entity",
                format!("group-name guard {digest} names group {gid}, whose name is another"),
            ),
            None => r.broken(
                "guard_without_entity",
                format!("group-name guard {digest} names group {gid}, which does not exist"),
            ),
        }
    }
    for (gid, (name, _)) in &groups {
        let digest = crate::app::records::group::name_digest(name);
        if gnames.get(&digest) != Some(gid) {
            r.broken(
                "entity_without_guard",
                format!("group {gid} has no name guard {digest} of its own"),
            );
        }
    }

    // Memberships: the GMEM items against the users' group sets, and each group's count.
    let mut members: BTreeMap<String, i64> = BTreeMap::new();
    let mut links: BTreeSet<(String, String)> = BTreeSet::new();
    for m in all(svc, &pk, layout::MEMBER_PREFIX).await? {
        let Some((gid, uid)) = suffix(&m, layout::MEMBER_PREFIX).split_once('#') else {
            r.broken("membership_malformed", format!("item {}", m.sk));
            continue;
        };
        r.memberships += 1;
        *members.entry(gid.to_owned()).or_default() += 1;
        links.insert((gid.to_owned(), uid.to_owned()));
        if !groups.contains_key(gid) {
            r.broken(
                "membership_without_group",
                format!("user {uid} is a member of group {gid}, which does not exist"),
            );
        }
        match users.get(uid) {
            None => r.broken(
                "membership_without_user",
                format!("group {gid} has member {uid}, who does not exist"),
            ),
            Some(u) if !u.groups.contains(gid) => r.broken(
                "membership_one_way",
                format!("group {gid} lists member {uid}, whose groups do not include it"),
            ),
            Some(_) => {}
        }
    }
    for (uid, u) in &users {
        for gid in &u.groups {
            if !links.contains(&(gid.clone(), uid.clone())) {
                r.broken(
                    "membership_one_way",
                    format!("user {uid} lists group {gid}, which has no such member"),
                );
            }
        }
    }
    for (gid, (_, count)) in &groups {
        let n = members.get(gid).copied().unwrap_or(0);
        if *count != n {
            r.broken(
                "member_count",
                format!("group {gid} counts {count} members but has {n}"),
            );
        }
    }

    // Custom roles: holders, name guards, and every user's role.
    let roles: BTreeMap<String, (String, i64)> = all(svc, &pk, layout::ROLE_PREFIX)
        .await?
        .iter()
        .map(|i| {
            (
                suffix(i, layout::ROLE_PREFIX).to_owned(),
                (
                    i.s(attr::NAME).unwrap_or_default().to_owned(),
                    i.n(attr::HOLDERS).unwrap_or(0),
                ),
            )
        })
        .collect();
    r.roles = roles.len();
    let rname_prefix = layout::role_name_sk("");
    let rnames: HashMap<String, String> = all(svc, &pk, &rname_prefix)
        .await?
        .iter()
        .map(|g| {
            (
                suffix(g, &rname_prefix).to_owned(),
                g.s(attr::ROLE).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (digest, rid) in &rnames {
        match roles.get(rid) {
            Some((name, _)) if &crate::app::records::role::stored_name_digest(name) == digest => {}
            Some(_) => r.broken(
                "guard_without_entity",
                format!("role-name guard {digest} names role {rid}, whose name is another"),
            ),
            None => r.broken(
                "guard_without_entity",
                format!("role-name guard {digest} names role {rid}, which does not exist"),
            ),
        }
    }
    let mut holders: BTreeMap<&str, i64> = BTreeMap::new();
    for (uid, u) in &users {
        if roles.contains_key(&u.role) {
            *holders.entry(u.role.as_str()).or_default() += 1;
        } else if permissions::builtin(&u.role).is_none() {
            r.broken(
                "role_missing",
                format!("user {uid} holds role {}, which does not exist", u.role),
            );
        }
    }
    for (rid, (name, count)) in &roles {
        let digest = crate::app::records::role::stored_name_digest(name);
        if rnames.get(&digest) != Some(rid) {
            r.broken(
                "entity_without_guard",
                format!("role {rid} has no name guard {digest} of its own"),
            );
        }
        let n = holders.get(rid.as_str()).copied().unwrap_or(0);
        if *count != n {
            r.broken(
                "role_holders",
                format!("role {rid} counts {count} holders but {n} users hold it"),
            );
        }
    }
    let default = meta
        .s(attr::DEFAULT_ROLE)
        .unwrap_or(permissions::DEFAULT_ROLE);
    if permissions::builtin(default).is_none() && !roles.contains_key(default) {
        r.broken(
            "role_missing",
            format!("the tenant's default role {default} does not exist"),
        );
    }
    Ok(r)
}
