//! The tenant's sign-in policy (org admins): `GET/PUT /v1/tenant/sign-in-policy`.

use axum::Json as Out;
use axum::extract::State;
use serde_json::Value;

use crate::app::{sign_in_policy, tenants};
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, ClientIp, Json};

pub async fn get(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Out<Value>> {
    // Read again rather than the copy that came with the session: the answer is the stored policy.
    let t = tenants::load(&s.svc, &p.scope.tenant).await?;
    Ok(Out(t.policy.view(&s.svc)))
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
