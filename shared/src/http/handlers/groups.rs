//! Groups of the caller's tenant and their members.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::groups::{self, MemberFailure};
use crate::app::paging::PageRequest;
use crate::domain::ids::GroupId;
use crate::domain::time;
use crate::domain::values::Name;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Json, Paging, Params, PathId};
use crate::http::handlers::{IdsBody, deletion_report, too_many};

fn failures(f: Vec<MemberFailure>) -> Vec<Value> {
    f.into_iter()
        .map(|f| {
            let (code, message) = f.error.failed_item("group member failed");
            json!({"id": f.id, "code": code, "message": message})
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBody {
    name: String,
    #[serde(default)]
    member_ids: Vec<String>,
}

pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewGroupBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    too_many("member_ids", b.member_ids.len())?;
    let now = time::now();
    let g = groups::create(
        &s.svc,
        &p.scope,
        &p.actor(),
        Name::parse("name", &b.name)?,
        now,
    )
    .await?;
    if b.member_ids.is_empty() {
        return Ok((StatusCode::CREATED, Out(json!(g))));
    }
    let (_, failed) =
        groups::add_members(&s.svc, &p.scope, &p.actor(), &g.id, b.member_ids, now).await?;
    let mut body = json!(groups::load(&s.svc, &p.scope, &g.id).await?);
    if !failed.is_empty() {
        body["failed_members"] = json!(failures(failed));
    }
    Ok((StatusCode::CREATED, Out(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamesBody {
    names: Vec<String>,
}

pub async fn bulk_create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NamesBody>,
) -> ApiResult<Out<Value>> {
    too_many("names", b.names.len())?;
    let (created, failed) =
        groups::create_many(&s.svc, &p.scope, &p.actor(), b.names, time::now()).await?;
    let failed: Vec<Value> = failed
        .into_iter()
        .map(|f| {
            let (code, message) = f.error.failed_item("group creation failed");
            json!({"index": f.index, "name": f.name, "code": code, "message": message})
        })
        .collect();
    Ok(Out(json!({"created": created, "failed": failed})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    q: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Out<Value>> {
    let req = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    Ok(Out(json!(
        groups::list(&s.svc, &p.scope, req, q.q.as_deref()).await?
    )))
}

pub async fn get(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(groups::load(&s.svc, &p.scope, &id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    name: String,
}

pub async fn rename(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
    Json(b): Json<RenameBody>,
) -> ApiResult<Out<Value>> {
    let g = groups::rename(
        &s.svc,
        &p.scope,
        &p.actor(),
        &id,
        Name::parse("name", &b.name)?,
        time::now(),
    )
    .await?;
    Ok(Out(json!(g)))
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
) -> ApiResult<StatusCode> {
    groups::delete(&s.svc, &p.scope, &p.actor(), &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn bulk_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<IdsBody>,
) -> ApiResult<Out<Value>> {
    too_many("ids", b.ids.len())?;
    let (deleted, failed) =
        groups::delete_many(&s.svc, &p.scope, &p.actor(), b.ids, time::now()).await;
    Ok(deletion_report(deleted, failed))
}

pub async fn members(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
    Params(q): Params<Paging>,
) -> ApiResult<Out<Value>> {
    let page = groups::members(&s.svc, &p.scope, &id, q.request()?).await?;
    Ok(Out(json!(page.map(|u| u.view()))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdsBody {
    user_ids: Vec<String>,
}

pub async fn add_members(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
    Json(b): Json<UserIdsBody>,
) -> ApiResult<Out<Value>> {
    too_many("user_ids", b.user_ids.len())?;
    let (added, failed) =
        groups::add_members(&s.svc, &p.scope, &p.actor(), &id, b.user_ids, time::now()).await?;
    Ok(Out(json!({"added": added, "failed": failures(failed)})))
}

pub async fn remove_members(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<GroupId>,
    Json(b): Json<UserIdsBody>,
) -> ApiResult<Out<Value>> {
    too_many("user_ids", b.user_ids.len())?;
    let (removed, failed) =
        groups::remove_members(&s.svc, &p.scope, &p.actor(), &id, b.user_ids, time::now()).await?;
    Ok(Out(json!({"removed": removed, "failed": failures(failed)})))
}

pub async fn remove_member(
    State(s): State<AppState>,
    Caller(p): Caller,
    axum::extract::Path((id, user_id)): axum::extract::Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let gid = GroupId::parse(&id).ok_or_else(|| ApiError::not_found("group"))?;
    let (removed, mut failed) = groups::remove_members(
        &s.svc,
        &p.scope,
        &p.actor(),
        &gid,
        vec![user_id],
        time::now(),
    )
    .await?;
    match (removed.is_empty(), failed.pop()) {
        (false, _) => Ok(StatusCode::NO_CONTENT),
        (true, Some(f)) => Err(match f.error {
            crate::app::AppError::Conflict { .. } => ApiError::not_found("membership"),
            e => e.into(),
        }),
        (true, None) => Err(ApiError::not_found("membership")),
    }
}

/// Creates groups and adds members from a CSV file (`group_name,members`).
pub async fn import(
    State(s): State<AppState>,
    Caller(p): Caller,
    crate::http::extract::Csv(bytes): crate::http::extract::Csv,
) -> ApiResult<Out<Value>> {
    let r = crate::app::imports::import_groups(&s.svc, &p.scope, &p.actor(), &bytes, time::now())
        .await?;
    Ok(Out(
        json!({"created": r.created, "updated": r.updated, "failed": crate::http::extract::row_failures(r.failed)}),
    ))
}
