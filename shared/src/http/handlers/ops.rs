//! Operator endpoints.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::records::tenant;
use crate::app::tenants::{self, NewTenant, TenantChanges};
use crate::domain::ids::TenantId;
use crate::domain::time;
use crate::domain::values::{Email, Name, Slug, seat_limit};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, OptionalJson, PathId};

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

pub async fn get_tenant(
    State(s): State<AppState>,
    PathId(id): PathId<TenantId>,
) -> ApiResult<Out<Value>> {
    let t = tenant::load(&s.svc, &id).await?;
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
    PathId(id): PathId<TenantId>,
    Json(b): Json<TenantChangesBody>,
) -> ApiResult<Out<Value>> {
    let changes = TenantChanges {
        name: b.name.map(|n| Name::parse("name", &n)).transpose()?,
        seat_limit: b.seat_limit.map(seat_limit).transpose()?,
    };
    let t = tenants::update(&s.svc, &id, changes, time::now()).await?;
    Ok(Out(json!(t.view())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateBody {
    contract_end: String,
}

pub async fn terminate(
    State(s): State<AppState>,
    PathId(id): PathId<TenantId>,
    Json(b): Json<TerminateBody>,
) -> ApiResult<Out<Value>> {
    let date = tenant::parse_date(&b.contract_end).ok_or_else(|| ApiError {
        field: Some("contract_end"),
        ..ApiError::invalid("contract_end must be a date, YYYY-MM-DD")
    })?;
    Ok(Out(json!(
        tenants::terminate(&s.svc, &id, date, time::now())
            .await?
            .view()
    )))
}

/// A tenant's questionnaires with their answers: live ones, or the anonymised copies after the purge.
pub async fn questionnaires(
    State(s): State<AppState>,
    PathId(id): PathId<TenantId>,
) -> ApiResult<Out<Value>> {
    let items = match s.svc.scope(&id).await {
        Ok(scope) => crate::app::questionnaires::all(&s.svc, &scope).await?,
        Err(crate::app::AppError::NotFound(_)) => {
            crate::app::questionnaires::archived(&s.svc, &id).await?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Out(json!({"items": items})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JobBody {
    as_of: Option<String>,
    /// Purge only: the most items this run deletes (the next run continues).
    max_items: Option<usize>,
}

fn as_of(b: &JobBody) -> ApiResult<::time::OffsetDateTime> {
    match &b.as_of {
        None => Ok(time::now()),
        Some(s) => time::parse_rfc3339(s).ok_or_else(|| ApiError {
            field: Some("as_of"),
            ..ApiError::invalid("as_of must be an RFC 3339 time")
        }),
    }
}

pub async fn backup(
    State(s): State<AppState>,
    OptionalJson(b): OptionalJson<JobBody>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(
        crate::app::retention::backup(&s.svc, as_of(&b)?).await?
    )))
}

pub async fn backups(State(s): State<AppState>) -> ApiResult<Out<Value>> {
    let mut items: Vec<_> = s
        .svc
        .backups
        .list()
        .await
        .map_err(crate::app::AppError::from)?
        .iter()
        .map(crate::app::retention::info)
        .collect();
    items.reverse();
    Ok(Out(json!({"items": items})))
}

pub async fn purge(
    State(s): State<AppState>,
    OptionalJson(b): OptionalJson<JobBody>,
) -> ApiResult<Out<Value>> {
    let max = b.max_items.unwrap_or(crate::app::retention::PURGE_BUDGET);
    Ok(Out(json!(
        crate::app::retention::purge(&s.svc, as_of(&b)?, max).await?
    )))
}
