//! Operator endpoints.

use axum::Json as Out;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::tenants::{self, NewTenant, TenantChanges};
use crate::domain::ids::TenantId;
use crate::domain::time;
use crate::domain::values::{Email, Name, Slug, seat_limit};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId};
use axum::extract::State;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenantBody {
    slug: String,
    name: String,
    seat_limit: i64,
    admin: AdminBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminBody {
    name: String,
    email: String,
}

pub async fn create_tenant(
    State(s): State<AppState>,
    Json(b): Json<NewTenantBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let new = NewTenant {
        slug: Slug::parse(&b.slug)?,
        name: Name::parse("name", &b.name)?,
        seat_limit: seat_limit(b.seat_limit)?,
        admin_name: Name::parse("admin.name", &b.admin.name)?,
        admin_email: Email::parse(&b.admin.email)?,
    };
    let c = tenants::create(&s.svc, new, time::now()).await?;
    Ok((
        StatusCode::CREATED,
        Out(json!({"tenant": c.tenant.view(), "admin": c.admin.view()})),
    ))
}

fn tenant_id(id: &str) -> ApiResult<TenantId> {
    TenantId::parse(id).ok_or_else(|| ApiError::not_found("tenant"))
}

pub async fn get_tenant(State(s): State<AppState>, PathId(id): PathId) -> ApiResult<Out<Value>> {
    let t = tenants::load(&s.svc, &tenant_id(&id)?).await?;
    Ok(Out(json!(t.view())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantChangesBody {
    name: Option<String>,
    seat_limit: Option<i64>,
}

pub async fn update_tenant(
    State(s): State<AppState>,
    PathId(id): PathId,
    Json(b): Json<TenantChangesBody>,
) -> ApiResult<Out<Value>> {
    let id = tenant_id(&id)?;
    let changes = TenantChanges {
        name: b.name.map(|n| Name::parse("name", &n)).transpose()?,
        seat_limit: b.seat_limit.map(seat_limit).transpose()?,
    };
    let t = tenants::update(&s.svc, &id, changes, time::now()).await?;
    Ok(Out(json!(t.view())))
}
