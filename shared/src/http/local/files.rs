//! The URLs the local file store signs, as S3's presigned URLs are in AWS: `PUT /files/{key}` takes an
//! upload's bytes and `GET /files/{key}` serves them, each checked against its signature. Not API routes
//! and no Lambda: the local server mounts them when its files are the local store.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::adapters::embedded::LocalFiles;
use crate::adapters::embedded::files::Signed;
use crate::app::Services;
use crate::app::uploads::{self, Purpose};
use crate::domain::time;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Params, read_body};

/// The services, and the local file store that signed the URLs.
#[derive(Clone)]
pub struct FilesState {
    pub svc: Arc<Services>,
    pub files: Arc<LocalFiles>,
}

/// The `/files` routes. The body limit is the size the URL was signed for (read by the handler, with a
/// JSON 413).
pub fn router(state: FilesState) -> axum::Router {
    axum::Router::new()
        .route(
            "/files/{*key}",
            axum::routing::put(put_file)
                .get(get_file)
                .fallback(file_method_not_allowed),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

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

fn check(s: &FilesState, key: &str, q: &FileQuery, op: &str) -> ApiResult<()> {
    if q.op != op
        || !s
            .files
            .verify(&signed(key, q), time::now().unix_timestamp())
    {
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
    State(s): State<FilesState>,
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
    State(s): State<FilesState>,
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
