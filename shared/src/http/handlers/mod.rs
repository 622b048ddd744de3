//! Handlers: parse, call one use case, render. Grouped as the API groups its endpoints.

pub mod groups;
pub mod logs;
pub mod me;
pub mod mfa;
pub mod notices;
pub mod ops;
pub mod questionnaires;
pub mod roles;
pub mod scim_tokens;
pub mod session;
pub mod sign_in_policy;
pub mod sso;
pub mod system;
pub mod tenant;
pub mod uploads;
pub mod users;

use axum::Json as Out;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppError;
use crate::domain::values::BULK_LIMIT;
use crate::http::error::{ApiError, ApiResult};

/// 400 naming the field when a bulk request lists more than [`BULK_LIMIT`] items.
fn too_many(field: &'static str, n: usize) -> ApiResult<()> {
    if n > BULK_LIMIT {
        return Err(ApiError {
            field: Some(field),
            ..ApiError::invalid(format!("at most {BULK_LIMIT} per request, got {n}"))
        });
    }
    Ok(())
}

/// The body of a bulk deletion: the ids to delete.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsBody {
    ids: Vec<String>,
}

/// What a bulk deletion answers: the ids deleted, and each failure with its code.
fn deletion_report(deleted: Vec<String>, failed: Vec<(String, AppError)>) -> Out<Value> {
    let failed: Vec<Value> = failed
        .into_iter()
        .map(|(id, e)| {
            let (code, message) = e.failed_item("bulk delete failed");
            json!({"id": id, "code": code, "message": message})
        })
        .collect();
    Out(json!({"deleted": deleted, "failed": failed}))
}
