//! The tenant's sign-in policy (org admins): `GET/PUT /v1/tenant/sign-in-policy`.

use axum::Json as Out;
use axum::extract::State;
use serde_json::Value;

use crate::app::sign_in_policy;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, ClientIp, Json};

/// The policy read with the session (the tenant item, in this request's one BatchGetItem): no other read.
pub async fn get(State(s): State<AppState>, Caller(p): Caller) -> Out<Value> {
    Out(p.policy.view(&s.svc))
}

pub async fn put(
    State(s): State<AppState>,
    Caller(p): Caller,
    ClientIp(ip): ClientIp,
    Json(b): Json<sign_in_policy::PolicyInput>,
) -> ApiResult<Out<Value>> {
    let policy = sign_in_policy::put(&s.svc, &p.scope, &p.actor(), &b, &ip, time::now()).await?;
    Ok(Out(policy.view(&s.svc)))
}
