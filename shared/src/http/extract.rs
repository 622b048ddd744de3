//! Extractors that turn every malformed request into the API's JSON error: bodies (media type, size,
//! syntax, keys given twice, unknown fields, wrong types), query strings, ids in paths, and the caller.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::app::AppError;
use crate::app::paging::PageRequest;
use crate::app::principal::Principal;
use crate::domain::ids::PathParam;
use crate::http::error::ApiError;

/// Request bodies above this are refused with 413 (API.md: 1 MiB unless an endpoint says otherwise).
pub const BODY_LIMIT: usize = 1 << 20;

/// A JSON body: `application/json`, at most [`BODY_LIMIT`], no key given twice, strictly typed
/// (`deny_unknown_fields` on T).
pub struct Json<T>(pub T);

/// A JSON body that may be left out entirely (then `T::default()`), e.g. `{as_of?}` of the jobs.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, s: &S) -> Result<Self, ApiError> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            == Some("0")
            || (req.headers().get(header::CONTENT_TYPE).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none()
                && req.headers().get(header::CONTENT_LENGTH).is_none());
        if empty {
            return Ok(OptionalJson(T::default()));
        }
        Json::<T>::from_request(req, s)
            .await
            .map(|Json(t)| OptionalJson(t))
    }
}

/// The request's media type, lower case and without its parameters (`charset=…`); empty when none is sent.
fn media_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// 415 with what to send instead.
fn unsupported(what: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        what,
    )
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let mime = media_type(&req);
        if mime != "application/json" {
            return Err(unsupported("send the body as application/json"));
        }
        let bytes = read_body(req, BODY_LIMIT).await?;
        let value = parse_json_object(&bytes).map_err(|e| {
            ApiError::invalid(if bytes.is_empty() {
                "the request body is empty".to_owned()
            } else {
                format!("malformed JSON: {e}")
            })
        })?;
        // Serde would fill a struct from an array too; the API takes objects only.
        if !value.is_object() {
            return Err(ApiError::invalid("the request body must be a JSON object"));
        }
        T::deserialize(value)
            .map(Json)
            .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))
    }
}

/// Parses a JSON document, refusing an object that names a key twice at any depth. serde_json would keep
/// the last one, so `{"role_id": "staff", "role_id": "admin"}` could mean one thing to a proxy or firewall in
/// front and another here.
pub fn parse_json_object(bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(v) = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

struct StrictValue(serde_json::Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(v.into()))
    }
    fn visit_unit<E>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(serde_json::Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(StrictValue(serde_json::Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(StrictValue(serde_json::Value::Object(out)))
    }
}

pub async fn read_body(req: Request, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        })
}

/// A strictly typed query string.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))
    }
}

/// The `{id}` of a route's path as the id it must be: a value that cannot be one is a 404 naming the
/// resource, like an id that names nothing (`PathId<UserId>`); `PathId` alone is the text as it is.
pub struct PathId<T = String>(pub T);

impl<S: Send + Sync, T: PathParam> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, s)
            .await
            .map_err(|_| ApiError::not_found(T::RESOURCE))?;
        T::from_path(&id)
            .map(PathId)
            .ok_or_else(|| ApiError::not_found(T::RESOURCE))
    }
}

/// The authenticated caller, put in place by the route's authorisation layer.
pub struct Caller(pub Arc<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "authentication required",
                )
            })
    }
}

/// The query of a list that takes nothing but paging: `limit` and `cursor` ([`PageRequest::parse`]).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl Paging {
    pub fn request(&self) -> Result<PageRequest, AppError> {
        PageRequest::parse(self.limit.as_deref(), self.cursor.as_deref())
    }
}

/// The client's address (`http::policy::client_ip`): API Gateway's source IP in Lambda; locally the trusted
/// header when configured (`KANRI_CLIENT_IP_HEADER`, its right-most entry), else the socket peer. Used for
/// per-source rate limits and the tenant's IP allow-list.
pub struct ClientIp(pub String);

impl FromRequestParts<crate::http::AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::http::AppState,
    ) -> Result<Self, ApiError> {
        Ok(ClientIp(crate::http::policy::client_ip(
            &parts.headers,
            &parts.extensions,
            &state.svc.settings,
        )))
    }
}

/// A CSV upload: `text/csv` (also `application/csv` and `application/vnd.ms-excel`, which browsers send
/// for `.csv` files on Windows), at most [`BODY_LIMIT`].
pub struct Csv(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for Csv {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let mime = media_type(&req);
        if !matches!(
            mime.as_str(),
            "text/csv" | "application/csv" | "application/vnd.ms-excel"
        ) {
            return Err(unsupported("send the file as text/csv"));
        }
        let bytes = read_body(req, BODY_LIMIT).await?;
        if bytes.is_empty() {
            return Err(ApiError::invalid("the file is empty"));
        }
        Ok(Csv(bytes))
    }
}

/// A row failure of an import report: `{line, code, message}`.
pub fn row_failures(failed: Vec<crate::app::imports::RowFailure>) -> Vec<serde_json::Value> {
    failed
        .into_iter()
        .map(|f| {
            let (code, message) = f.error.failed_item("import row failed");
            serde_json::json!({"line": f.line, "code": code, "message": message})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_json_object;

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth_however_it_is_spelt() {
        for body in [
            r#"{"role_id": "staff", "role_id": "admin"}"#,
            r#"{"name": "a", "n\u0061me": "b"}"#,
            r#"{"respondent": {"email": "a@x.jp", "email": "b@x.jp"}, "answers": []}"#,
            r#"{"items": [{"id": 1}, {"id": 2, "id": 3}]}"#,
        ] {
            let e = parse_json_object(body.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("duplicate key"), "{body}: {e}");
        }
        let v =
            parse_json_object(br#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"a": {}}}"#).unwrap();
        assert_eq!(v["a"][2], 3.5);
        assert_eq!(v["b"]["a"], serde_json::json!({}));
        assert!(parse_json_object(br#"{"a": 1} trailing"#).is_err());
    }
}
