//! The signed-in user.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::auth;
use crate::domain::permissions::effective;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, Json};

pub async fn get(Caller(p): Caller) -> Out<Value> {
    let mut v = json!(p.user.view());
    v["grants"] = json!(effective(&p.grants, p.user.org_admin));
    v["mfa_enabled"] = json!(p.user.mfa);
    v["mfa_enrolment_required"] = json!(p.mfa_enrolment_required);
    Out(v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    current_password: SecretString,
    new_password: SecretString,
}

pub async fn change_password(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<ChangePasswordBody>,
) -> ApiResult<StatusCode> {
    auth::change_password(&s.svc, &p, b.current_password, b.new_password, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
