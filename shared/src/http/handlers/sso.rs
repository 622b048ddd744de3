//! The tenant's single sign-on provider (issue 21): read, set and removed by an organisation admin. The
//! client secret is taken, sealed, and never answered.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::sso;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, Json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoBody {
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<SecretString>,
    display_name: String,
    #[serde(default)]
    claim: Option<String>,
    #[serde(default)]
    allowed_domains: Vec<String>,
    #[serde(default)]
    mode: Option<String>,
}

/// 200 with the configuration, 404 when there is none.
pub async fn get(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Out<Value>> {
    let cfg = sso::get(&s.svc, &p.scope)
        .await?
        .ok_or(crate::app::AppError::NotFound(
            "single sign-on configuration",
        ))?;
    Ok(Out(json!(cfg.view(&s.svc))))
}

pub async fn put(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<SsoBody>,
) -> ApiResult<Out<Value>> {
    let input = sso::ConfigInput {
        issuer: b.issuer,
        client_id: b.client_id,
        client_secret: b.client_secret,
        display_name: b.display_name,
        claim: b.claim,
        allowed_domains: b.allowed_domains,
        mode: b.mode,
    };
    let view = sso::put(&s.svc, &p.scope, &p.authority(), input, time::now()).await?;
    Ok(Out(json!(view)))
}

pub async fn delete(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<StatusCode> {
    sso::delete(&s.svc, &p.scope, &p.authority(), time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
