//! Uploads and background imports of the caller's tenant, the operator's clean-up, and (local server
//! only) the URLs the local file store signs.

use axum::Json as Out;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapters::embedded::files::Signed;
use crate::app::import_jobs::{self, Kind};
use crate::app::uploads::{self, NewUpload, Purpose};
use crate::app::users::Delivery;
use crate::domain::time::{self, jst};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Json, OptionalJson, Params, PathId, read_body};

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
    PathId(id): PathId,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(uploads::view(&s.svc, &p, &id).await?)))
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
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
    PathId(id): PathId,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(import_jobs::view(&s.svc, &p.scope, &id).await?)))
}

pub async fn cancel_import(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
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

// ---- the local file store's URLs (local server only) --------------------------------------------------

#[derive(Deserialize)]
pub struct FileQuery {
    op: String,
    expires: i64,
    size: Option<u64>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    name: Option<String>,
    sig: String,
}

fn signed<'a>(key: &'a str, q: &'a FileQuery) -> Signed<'a> {
    Signed {
        op: &q.op,
        key,
        expires: q.expires,
        size: q.size,
        content_type: q.content_type.as_deref(),
        name: q.name.as_deref(),
        signature: &q.sig,
    }
}

fn check(s: &AppState, key: &str, q: &FileQuery, op: &str) -> ApiResult<()> {
    let files = s
        .svc
        .local_files
        .as_ref()
        .ok_or_else(|| ApiError::not_found("file"))?;
    if q.op != op || !files.verify(&signed(key, q), time::now().unix_timestamp()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the link is invalid or has expired",
        ));
    }
    Ok(())
}

/// The object key of a `/files/{key}` request.
fn file_key(uri: &axum::http::Uri) -> ApiResult<String> {
    uri.path()
        .strip_prefix("/files/")
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::not_found("file"))
}

/// `PUT /files/{key}`: the bytes of an upload, as the URL was issued for. Every refusal is the API's JSON
/// error, as on the API routes.
pub async fn put_file(
    State(s): State<AppState>,
    Params(q): Params<FileQuery>,
    req: axum::extract::Request,
) -> ApiResult<StatusCode> {
    let key = file_key(req.uri())?;
    check(&s, &key, &q, "put")?;
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if Some(ctype.as_str()) != q.content_type.as_deref() {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the Content-Type the upload was issued for",
        ));
    }
    let limit = q.size.unwrap_or(0).min(Purpose::Material.max_size()) as usize;
    let body = read_body(req, limit).await?;
    if Some(body.len() as u64) != q.size {
        return Err(ApiError {
            field: Some("size"),
            ..ApiError::invalid("the body is not the size the upload was issued for")
        });
    }
    uploads::receive_local(&s.svc, &key, &ctype, body.to_vec()).await?;
    Ok(StatusCode::OK)
}

/// Any other method on `/files/{key}`.
pub async fn file_method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "upload URLs take PUT, download URLs GET",
    )
}

/// `GET /files/{key}`: a stored upload's bytes, decrypted, as an attachment.
pub async fn get_file(
    State(s): State<AppState>,
    Params(q): Params<FileQuery>,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let key = file_key(&uri)?;
    check(&s, &key, &q, "get")?;
    let (u, bytes) = uploads::serve_local(&s.svc, &key).await?;
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        crate::util::url_encode(&u.filename)
    );
    Ok((
        [
            (header::CONTENT_TYPE, u.content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
