//! The tenant's SCIM tokens (issue 18): created, listed and revoked by an organisation admin.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::scim_tokens;
use crate::domain::ids::ScimTokenId;
use crate::domain::time;
use crate::domain::values::Name;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, Json, PathId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    name: String,
}

/// 201 with the token, shown this once.
pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewTokenBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let name = Name::parse("name", &b.name)?;
    let (view, token) =
        scim_tokens::create(&s.svc, &p.scope, &p.authority(), name, time::now()).await?;
    let mut body = json!(view);
    body["token"] = json!(token.expose_secret());
    Ok((StatusCode::CREATED, Out(body)))
}

pub async fn list(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Out<Value>> {
    Ok(Out(
        json!({"items": scim_tokens::list(&s.svc, &p.scope).await?}),
    ))
}

pub async fn revoke(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<ScimTokenId>,
) -> ApiResult<StatusCode> {
    scim_tokens::revoke(&s.svc, &p.scope, &p.authority(), &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
