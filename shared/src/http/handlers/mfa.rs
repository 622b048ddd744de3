//! The second factor: enrolment by the signed-in user, and the login's code step.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::mfa;
use crate::domain::ids::UserId;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, ClientIp, Json, PathId};

/// A new secret, as base32 and as the `otpauth://` URI an authenticator app reads; nothing active yet.
pub async fn start(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let e = mfa::start(&s.svc, &p, time::now()).await?;
    Ok((
        StatusCode::CREATED,
        Out(json!({
            "secret": e.secret.expose_secret(),
            "otpauth_uri": e.uri.expose_secret(),
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

/// Activates the pending secret with one of its codes; answers the recovery codes, once.
pub async fn confirm(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<CodeBody>,
) -> ApiResult<Out<Value>> {
    let codes = mfa::confirm(&s.svc, &p, &b.code, time::now()).await?;
    let codes: Vec<&str> = codes.iter().map(|c| c.expose_secret()).collect();
    Ok(Out(json!({ "recovery_codes": codes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    password: SecretString,
}

pub async fn remove(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<RemoveBody>,
) -> ApiResult<StatusCode> {
    mfa::remove(&s.svc, &p, b.password, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    challenge: String,
    code: String,
}

/// Completes a login that answered `mfa_required`: the same body as a password login.
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<LoginBody>,
) -> ApiResult<Out<Value>> {
    let session = mfa::login(&s.svc, &b.challenge, &b.code, &ip, time::now()).await?;
    Ok(Out(super::session::session_body(&session)))
}

/// An admin's reset of another user's second factor (`DELETE /v1/users/{id}/mfa`): within the target rule,
/// in the operation log, mailed to the user; the user then signs in with the password alone.
pub async fn reset(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<StatusCode> {
    mfa::reset(&s.svc, &p.scope, &p.authority(), &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
