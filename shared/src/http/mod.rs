//! The HTTP layer: one route table, one authorisation layer driven by it, one error mapping. Handlers
//! parse, call one use case, render.

pub mod console;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod lambda;
pub mod local;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod prefetch;
pub mod routes;
pub mod scim;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::app::principal;
use crate::app::{AppError, Services};
use crate::crypto::same_secret;
use crate::domain::time;
use crate::http::error::ApiError;
use crate::http::routes::{Access, Route};
use crate::ports::prefetch::Prefetched;

/// How operator endpoints are authenticated.
pub enum OperatorAuth {
    /// Locally: `Authorization: Bearer <operator token>`.
    Token(secrecy::SecretString),
    /// In AWS: API Gateway has already checked IAM (SigV4); the request context proves it.
    Iam,
}

impl OperatorAuth {
    fn allows(&self, req: &Request) -> bool {
        match self {
            OperatorAuth::Token(secret) => {
                use secrecy::ExposeSecret;
                bearer(req).is_some_and(|t| same_secret(t, secret.expose_secret()))
            }
            OperatorAuth::Iam => lambda::has_iam_identity(req),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Services>,
    pub operator: Arc<OperatorAuth>,
}

fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The authorisation every route gets from its row of the table: authenticate, check the access rule,
/// hand the principal to the handler, and run the handler with the items the session check read for it
/// (`prefetch`: what the route's path names, the caller, the tenant item).
async fn authorize(
    State((state, access, page, enrolment, path)): State<(
        AppState,
        Access,
        bool,
        bool,
        &'static str,
    )>,
    req: Request,
    next: Next,
) -> Response {
    if access == Access::Scim {
        return scim::authorize(&state, req, next).await;
    }
    let (mut parts, body) = req.into_parts();
    let reads = match axum::extract::RawPathParams::from_request_parts(&mut parts, &()).await {
        Ok(params) => prefetch::Reads::of(path, params.iter(), parts.uri.query()),
        Err(_) => prefetch::Reads::default(),
    };
    let also = |caller: &crate::domain::ids::UserId| reads.sort_keys(caller);
    let mut req = Request::from_parts(parts, body);
    if page && access != Access::Public {
        return pages::authorize(&state, access, req, next, &also).await;
    }
    match check(&state, access, enrolment, &mut req, &also).await {
        Ok(reads) => crate::ports::prefetch::within(reads, next.run(req)).await,
        Err(e) => e.into_response(),
    }
}

/// `enrolment`: the route stays open to a session limited to enrolling a second factor
/// (`policy::open_during_enrolment`).
async fn check(
    state: &AppState,
    access: Access,
    enrolment: bool,
    req: &mut Request,
    also: &principal::AlsoRead<'_>,
) -> Result<Prefetched, ApiError> {
    let (session, reads) = match access {
        Access::Public => return Ok(Prefetched::default()),
        Access::Operator if state.operator.allows(req) => return Ok(Prefetched::default()),
        Access::Operator | Access::Scim => return Err(AppError::Unauthenticated.into()),
        Access::SelfService | Access::AnyUser | Access::Feature(..) | Access::OrgAdmin => {
            let token = bearer(req).ok_or(AppError::Unauthenticated)?;
            let source = policy::client_ip(req.headers(), req.extensions(), &state.svc.settings);
            principal::authenticate_with(&state.svc, token, Some(&source), time::now(), also)
                .await?
        }
    };
    if session.user.must_change_password && access != Access::SelfService {
        return Err(AppError::PasswordChangeRequired.into());
    }
    if session.mfa_enrolment_required && !enrolment {
        return Err(AppError::MfaEnrolmentRequired.into());
    }
    if !access.allows(&session) {
        return Err(AppError::Forbidden("your role does not allow this".into()).into());
    }
    req.extensions_mut().insert(Arc::new(session));
    Ok(reads)
}

/// What a request is given before it is answered 503 `unavailable`: in Lambda, the invocation's time left
/// minus [`DEADLINE_MARGIN`] (so the function answers, not Lambda's timeout); locally,
/// `Settings::request_timeout`.
async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = match lambda::time_left(&req) {
        Some(left) if left > 2 * DEADLINE_MARGIN => left - DEADLINE_MARGIN,
        // A deadline (nearly) past when the request starts is not one Lambda gives (its function timeout
        // is 10 s), but cargo-lambda's emulator can: the local request timeout applies then.
        _ => state.svc.settings.request_timeout,
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!(%method, path, limit_ms = limit.as_millis() as u64, "request timed out");
            error::timed_out().into_response()
        }
    }
}

/// Kept between the HTTP layer's timeout and the Lambda function's.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A router with these routes: all of them locally (`routes::table()`), its own one in a Lambda binary.
pub fn router(state: AppState, routes: Vec<Route>) -> Router {
    let mut r = Router::new();
    for route in routes {
        let mr = (route.handler)().route_layer(middleware::from_fn_with_state(
            (
                state.clone(),
                route.access,
                route.is_page(),
                policy::open_during_enrolment(route.id),
                route.path,
            ),
            authorize,
        ));
        r = r.route(route.path, mr);
    }
    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/scim/") {
        // A SCIM client reads SCIM errors only (RFC 7644 §3.12).
        return scim::ScimError::new(StatusCode::NOT_FOUND, None, "no such SCIM endpoint")
            .into_response();
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /v1/openapi.json",
    )
    .into_response()
}

async fn method_not_allowed(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/scim/") {
        return scim::ScimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "this SCIM endpoint does not take that method",
        )
        .into_response();
    }
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
    .into_response()
}
