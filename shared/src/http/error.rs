//! The one place where errors become HTTP: status, code, message. A 5xx body says nothing internal; its
//! cause is logged once with its chain.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            AppError::Invalid { field, message } => ApiError {
                field,
                ..ApiError::new(S::BAD_REQUEST, "invalid_request", message)
            },
            AppError::WeakPassword(m) => ApiError {
                field: Some("password"),
                ..ApiError::new(S::BAD_REQUEST, "weak_password", m)
            },
            AppError::InvalidToken => ApiError::new(S::BAD_REQUEST, "invalid_token", msg),
            AppError::DeliveryRequiresEmail => ApiError {
                field: Some("delivery"),
                ..ApiError::new(S::BAD_REQUEST, "delivery_requires_email", msg)
            },
            AppError::Unauthenticated => ApiError::new(S::UNAUTHORIZED, "unauthenticated", msg),
            AppError::InvalidCredentials => {
                ApiError::new(S::UNAUTHORIZED, "invalid_credentials", msg)
            }
            AppError::Forbidden(m) => ApiError::new(S::FORBIDDEN, "forbidden", m),
            AppError::TargetOutranksCaller => {
                ApiError::new(S::FORBIDDEN, "target_outranks_caller", msg)
            }
            AppError::RoleOutranksCaller => {
                ApiError::new(S::FORBIDDEN, "role_outranks_caller", msg)
            }
            AppError::PasswordChangeRequired => {
                ApiError::new(S::FORBIDDEN, "password_change_required", msg)
            }
            AppError::ContractEnded => ApiError::new(S::FORBIDDEN, "contract_ended", msg),
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Conflict { code, message } => ApiError::new(S::CONFLICT, code, message),
            AppError::TooLarge(m) => ApiError::new(S::PAYLOAD_TOO_LARGE, "payload_too_large", m),
            AppError::UnsupportedMediaType(m) => {
                ApiError::new(S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", m)
            }
            AppError::RateLimited { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(S::TOO_MANY_REQUESTS, "rate_limited", msg)
            },
            AppError::Unavailable(source) => unavailable(source.as_ref()),
            AppError::Internal(source) if crate::ports::is_unavailable(source.as_ref()) => {
                unavailable(source.as_ref())
            }
            AppError::Internal(source) => {
                tracing::error!(error = %ErrorChain(source.as_ref()), "request failed");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side; it has been logged",
                )
            }
        }
    }
}

/// Seconds a client is asked to wait after a 503 `unavailable`.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 2;

fn unavailable(source: &(dyn std::error::Error + 'static)) -> ApiError {
    tracing::warn!(error = %ErrorChain(source), "request answered 503: a dependency is unavailable");
    ApiError {
        retry_after: Some(RETRY_AFTER_UNAVAILABLE),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a service this request needs is busy or unreachable; try again shortly",
        )
    }
}

/// The answer to a request that ran out of time (the HTTP layer's request timeout).
pub fn timed_out() -> ApiError {
    ApiError {
        retry_after: Some(RETRY_AFTER_UNAVAILABLE),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the request took too long and was stopped; try again shortly",
        )
    }
}

/// Displays an error with its whole source chain.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cur = self.0.source();
        while let Some(s) = cur {
            write!(f, ": {s}")?;
            cur = s.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(f) = self.field {
            body["error"]["field"] = json!(f);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<crate::domain::values::Invalid> for ApiError {
    fn from(e: crate::domain::values::Invalid) -> Self {
        AppError::from(e).into()
    }
}
