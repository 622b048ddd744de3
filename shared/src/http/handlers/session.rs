//! Login, logout and setting a password with a one-time link.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::auth::{self, LoginRequest};
use crate::app::principal;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, ClientIp, Json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    tenant: String,
    login: String,
    password: SecretString,
}

pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<LoginBody>,
) -> ApiResult<Out<Value>> {
    let outcome = auth::login(
        &s.svc,
        LoginRequest {
            tenant: b.tenant,
            login: b.login,
            password: b.password,
            source: ip,
        },
        time::now(),
    )
    .await?;
    Ok(Out(match outcome {
        auth::LoginOutcome::Session(session) => session_body(&session),
        // No session yet: the challenge goes with a code to POST /v1/auth/login/mfa.
        auth::LoginOutcome::SecondFactor(c) => json!({
            "mfa_required": true,
            "challenge": c.token.expose_secret(),
            "expires_at": time::jst(c.expires),
        }),
    }))
}

/// What a completed login answers, after the password alone or after a second factor.
pub(super) fn session_body(session: &principal::Session) -> Value {
    let mut body = json!({
        "token": session.token.expose_secret(),
        "expires_at": time::jst(session.expires),
        "user": session.user.view(),
    });
    // The tenant's policy requires a second factor first: only enrolment works with this session. Said
    // only then, so every other login answers as before.
    if session.mfa_enrolment_required {
        body["mfa_enrolment_required"] = json!(true);
    }
    body
}

pub async fn logout(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<StatusCode> {
    auth::logout(&s.svc, &p).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordBody {
    token: String,
    password: SecretString,
}

pub async fn set_password(
    State(s): State<AppState>,
    Json(b): Json<SetPasswordBody>,
) -> ApiResult<StatusCode> {
    auth::set_password(&s.svc, &b.token, b.password, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    tenant: String,
    login: String,
}

/// Always 202 with an empty object, whether or not the account exists.
pub async fn password_reset(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<ResetBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    auth::request_reset(&s.svc, &b.tenant, &b.login, &ip, time::now()).await?;
    Ok((StatusCode::ACCEPTED, Out(json!({}))))
}
