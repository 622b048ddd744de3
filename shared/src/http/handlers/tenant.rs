//! The caller's tenant.

use axum::Json as Out;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::records::tenant;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::Caller;

pub async fn get(State(s): State<AppState>, Caller(p): Caller) -> ApiResult<Out<Value>> {
    let t = tenant::load(&s.svc, &p.scope.tenant).await?;
    Ok(Out(json!(t.view())))
}
