use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppError;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};

/// Liveness and readiness: 200 `{status: "ok", version}` when the store answers a read, 503
/// `unavailable` when it does not (a load balancer or the operator then knows this process cannot serve).
pub async fn health(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    s.svc.ready().await.map_err(|e| match e {
        AppError::Unavailable(_) => ApiError::from(e),
        other => ApiError::from(AppError::Unavailable(Box::new(other))),
    })?;
    Ok(Json(
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
    ))
}

pub async fn openapi() -> Json<Value> {
    Json(crate::http::openapi::document())
}
