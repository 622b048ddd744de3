//! Roles, the permission catalogue, the tenant's default role, and a user's role and org-admin flag.

use std::collections::BTreeMap;

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::records::tenant;
use crate::app::roles;
use crate::domain::ids::{RoleId, UserId};
use crate::domain::permissions::{Feature, Grants, Level};
use crate::domain::time;
use crate::domain::values::Name;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Json, PathId};
use crate::http::routes::{self, Access};

pub async fn list(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Out<Value>> {
    Ok(Out(json!({"items": roles::list(&s.svc, &p.scope).await?})))
}

/// For each feature, the API endpoints that `view` and `edit` open: read off the route table the server
/// enforces, so the two cannot disagree. The console's pages are rows of the same table with the same
/// access, but not API endpoints: they are left out.
pub fn catalogue() -> Value {
    let mut opens: BTreeMap<Feature, (Vec<String>, Vec<String>)> = Feature::ALL
        .iter()
        .map(|f| (*f, (vec![], vec![])))
        .collect();
    for r in routes::infos().into_iter().filter(|r| !r.is_page()) {
        if let Access::Feature(f, level) = r.access {
            let e = format!("{} {}", r.method, r.path);
            let entry = opens.entry(f).or_default();
            // Edit includes view, so an endpoint needing view is opened by both.
            if level == Level::View {
                entry.0.push(e.clone());
            }
            entry.1.push(e);
        }
    }
    let items: Vec<Value> = opens
        .into_iter()
        .map(|(f, (view, edit))| json!({"feature": f, "description": f.description(), "view": view, "edit": edit}))
        .collect();
    json!({"items": items})
}

pub async fn permissions() -> Out<Value> {
    Out(catalogue())
}

fn parse_grants(raw: BTreeMap<String, String>) -> ApiResult<Grants> {
    raw.into_iter()
        .map(|(f, l)| {
            let feature = Feature::parse(&f).ok_or_else(|| {
                field_err(format!("unknown feature {f:?}; see GET /v1/permissions"))
            })?;
            let level = Level::parse(&l)
                .ok_or_else(|| field_err(format!("level of {f} must be \"view\" or \"edit\"")))?;
            Ok((feature, level))
        })
        .collect()
}

fn field_err(message: String) -> ApiError {
    ApiError {
        field: Some("grants"),
        ..ApiError::invalid(message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRoleBody {
    name: String,
    grants: BTreeMap<String, String>,
}

pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewRoleBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let role = roles::create(
        &s.svc,
        &p.scope,
        &p.authority(),
        Name::parse("name", &b.name)?,
        parse_grants(b.grants)?,
        time::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Out(json!(role))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChangesBody {
    name: Option<String>,
    grants: Option<BTreeMap<String, String>>,
}

pub async fn update(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<RoleId>,
    Json(b): Json<RoleChangesBody>,
) -> ApiResult<Out<Value>> {
    let name = b
        .name
        .as_deref()
        .map(|n| Name::parse("name", n))
        .transpose()?;
    let grants = b.grants.map(parse_grants).transpose()?;
    Ok(Out(json!(
        roles::update(
            &s.svc,
            &p.scope,
            &p.authority(),
            &id,
            name,
            grants,
            time::now()
        )
        .await?
    )))
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<RoleId>,
) -> ApiResult<StatusCode> {
    roles::delete(&s.svc, &p.scope, &p.actor(), &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleIdBody {
    role_id: String,
}

pub async fn set_default(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<RoleIdBody>,
) -> ApiResult<Out<Value>> {
    roles::set_default(&s.svc, &p.scope, &p.authority(), &b.role_id, time::now()).await?;
    Ok(Out(json!(
        tenant::load(&s.svc, &p.scope.tenant).await?.view()
    )))
}

pub async fn assign(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
    Json(b): Json<RoleIdBody>,
) -> ApiResult<Out<Value>> {
    let u = roles::assign(
        &s.svc,
        &p.scope,
        &p.authority(),
        &id,
        &b.role_id,
        time::now(),
    )
    .await?;
    Ok(Out(json!(u.view())))
}

pub async fn grant_org_admin(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Out<Value>> {
    let u = roles::set_org_admin(&s.svc, &p.scope, &p.authority(), &id, true, time::now()).await?;
    Ok(Out(json!(u.view())))
}

pub async fn revoke_org_admin(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Out<Value>> {
    let u = roles::set_org_admin(&s.svc, &p.scope, &p.authority(), &id, false, time::now()).await?;
    Ok(Out(json!(u.view())))
}
