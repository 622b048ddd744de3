//! The one place where errors become HTTP: an [`AppError`] gets its status here (its code, message and
//! field are the app's). A 5xx body says nothing internal; its cause is logged once, when the answer is sent.

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
    /// An error of ours or of a dependency, logged once when the answer is sent (never shown). Boxed: it is
    /// rare, and every handler's `Result` carries an `ApiError`.
    pub cause: Option<Box<AppError>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            cause: None,
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
        let retry_after = match &e {
            AppError::RateLimited { retry_after } => Some(*retry_after),
            _ if e.is_unavailable() => Some(RETRY_AFTER_UNAVAILABLE),
            _ => None,
        };
        ApiError {
            status: status(&e),
            code: e.code(),
            message: e.public_message(),
            field: e.field(),
            retry_after,
            cause: matches!(e, AppError::Internal(_) | AppError::Unavailable(_))
                .then(|| Box::new(e)),
        }
    }
}

/// The HTTP status of each error; code, message and field are the app's.
fn status(e: &AppError) -> StatusCode {
    use StatusCode as S;
    match e {
        AppError::Invalid { .. }
        | AppError::WeakPassword(_)
        | AppError::InvalidToken
        | AppError::DeliveryRequiresEmail => S::BAD_REQUEST,
        AppError::Unauthenticated
        | AppError::InvalidCredentials
        | AppError::InvalidCode
        | AppError::InvalidChallenge => S::UNAUTHORIZED,
        AppError::Forbidden(_)
        | AppError::TargetOutranksCaller
        | AppError::RoleOutranksCaller
        | AppError::PasswordChangeRequired
        | AppError::MfaEnrolmentRequired
        | AppError::IpNotAllowed
        | AppError::ContractEnded
        | AppError::SsoRequired => S::FORBIDDEN,
        AppError::NotFound(_) => S::NOT_FOUND,
        AppError::Conflict { .. } => S::CONFLICT,
        AppError::TooLarge(_) => S::PAYLOAD_TOO_LARGE,
        AppError::UnsupportedMediaType(_) => S::UNSUPPORTED_MEDIA_TYPE,
        AppError::RateLimited { .. } => S::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) | AppError::Internal(_) if e.is_unavailable() => {
            S::SERVICE_UNAVAILABLE
        }
        AppError::Unavailable(_) | AppError::Internal(_) => S::INTERNAL_SERVER_ERROR,
    }
}

/// Seconds a client is asked to wait after a 503 `unavailable`.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 2;

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            cause.log("request failed");
        }
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
