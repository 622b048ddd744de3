//! Roles as stored: grants' codec, a role's grants, the holder counter, the name guard's digest, the list.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::layout::{self, attr};
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::RoleId;
use crate::domain::permissions::{self, Feature, Grants, Level};
use crate::domain::values::{Name, comparison_form};
use crate::ports::{Change, Cond, Item, Query, Table, Write};

/// Grants as stored: `feature=level` pairs joined by commas.
pub fn encode_grants(g: &Grants) -> String {
    g.iter()
        .map(|(f, l)| format!("{}={}", f.as_str(), l.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn decode_grants(s: &str) -> Grants {
    s.split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(f, l)| Some((Feature::parse(f)?, Level::parse(l)?)))
        .collect()
}

/// A role id's grants: built-in, or a custom role of this tenant; `None` when there is no such role.
pub async fn grants_of(
    svc: &Services,
    scope: &Scope,
    role_id: &str,
) -> Result<Option<Grants>, AppError> {
    let Some(id) = RoleId::parse(role_id) else {
        return Ok(None);
    };
    if let Some(b) = id.builtin() {
        return Ok(Some((b.grants)()));
    }
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::role_sk(role_id))
        .await?;
    Ok(item.map(|i| decode_grants(i.s(attr::GRANTS).unwrap_or_default())))
}

/// The write that counts one more (or one fewer) holder of a custom role; built-in roles are not counted.
/// Taking a holder requires the role to exist, so a role deleted concurrently cannot be handed out.
pub fn holder_change(scope: &Scope, role_id: &str, delta: i64) -> Option<Write> {
    if permissions::builtin(role_id).is_some() {
        return None;
    }
    Some(Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::role_sk(role_id),
        changes: vec![Change::Add(attr::HOLDERS, delta)],
        cond: Some(if delta > 0 {
            Cond::Exists
        } else {
            Cond::Ge(attr::HOLDERS, -delta)
        }),
    })
}

pub(crate) fn name_digest(name: &Name) -> String {
    stored_name_digest(name.as_str())
}

/// The digest a role name's guard is keyed by (also what the integrity check expects of a stored name).
pub(crate) fn stored_name_digest(name: &str) -> String {
    crate::util::hex(&Sha256::digest(comparison_form(name).as_bytes())[..16])
}

#[derive(Clone, Debug, Serialize)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    pub builtin: bool,
    pub grants: Grants,
}

pub(crate) fn custom_view(item: &Item) -> RoleView {
    RoleView {
        id: item
            .sk
            .strip_prefix(layout::ROLE_PREFIX)
            .unwrap_or_default()
            .to_owned(),
        name: item.s(attr::NAME).unwrap_or_default().to_owned(),
        builtin: false,
        grants: decode_grants(item.s(attr::GRANTS).unwrap_or_default()),
    }
}

pub async fn list(svc: &Services, scope: &Scope) -> Result<Vec<RoleView>, AppError> {
    let mut out: Vec<RoleView> = permissions::BUILTIN_ROLES
        .iter()
        .map(|r| RoleView {
            id: r.id.into(),
            name: r.name.into(),
            builtin: true,
            grants: (r.grants)(),
        })
        .collect();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::ROLE_PREFIX)
                    .after(after)
                    .limit(200),
            )
            .await?;
        out.extend(page.items.iter().map(custom_view));
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}
