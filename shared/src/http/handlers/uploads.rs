//! Uploads and background imports of the caller's tenant, the operator's clean-up, and (local server
//! only) the URLs the local file store signs.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::imports::job::{self as import_jobs, Kind};
use crate::app::records::user::Delivery;
use crate::app::uploads::{self, NewUpload, Purpose};
use crate::domain::ids::{ImportId, UploadId};
use crate::domain::time::{self, jst};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Json, OptionalJson, PathId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUploadBody {
    purpose: String,
    filename: String,
    content_type: String,
    size: u64,
}

pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewUploadBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let purpose = Purpose::parse(&b.purpose).ok_or_else(|| ApiError {
        field: Some("purpose"),
        ..ApiError::invalid("purpose must be material, user_import or group_import")
    })?;
    let issued = uploads::create(
        &s.svc,
        &p,
        NewUpload {
            purpose,
            filename: b.filename,
            content_type: b.content_type,
            size: b.size,
        },
        time::now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Out(json!({
            "id": issued.upload.id,
            "upload_url": issued.put.url,
            "upload_method": "PUT",
            "upload_headers": issued.put.headers,
            "expires_at": jst(issued.expires_at),
        })),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UploadId>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(uploads::view(&s.svc, &p, &id).await?)))
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UploadId>,
) -> ApiResult<StatusCode> {
    uploads::delete(&s.svc, &p, &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewImportBody {
    upload_id: String,
    kind: String,
    delivery: Option<Delivery>,
}

pub async fn start_import(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewImportBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let kind = Kind::parse(&b.kind).ok_or_else(|| ApiError {
        field: Some("kind"),
        ..ApiError::invalid("kind must be users or groups")
    })?;
    let id = import_jobs::start(&s.svc, &p, &b.upload_id, kind, b.delivery, time::now()).await?;
    Ok((StatusCode::ACCEPTED, Out(json!({"id": id}))))
}

pub async fn import_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<ImportId>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(import_jobs::view(&s.svc, &p.scope, &id).await?)))
}

pub async fn cancel_import(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<ImportId>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(
        import_jobs::cancel(&s.svc, &p, &id, time::now()).await?
    )))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CleanupBody {
    as_of: Option<String>,
}

pub async fn cleanup(
    State(s): State<AppState>,
    OptionalJson(b): OptionalJson<CleanupBody>,
) -> ApiResult<Out<Value>> {
    let as_of = match b.as_of {
        Some(t) => time::parse_rfc3339(&t).ok_or_else(|| ApiError {
            field: Some("as_of"),
            ..ApiError::invalid("as_of must be an RFC 3339 time")
        })?,
        None => time::now(),
    };
    let deleted = uploads::cleanup(&s.svc, as_of).await?;
    Ok(Out(json!({"deleted": deleted})))
}
