//! The Lambda side: each binary serves its one row of the route table under the Lambda Runtime API.

use std::sync::Arc;

use axum::extract::Request;
use lambda_http::request::RequestContext;

use crate::http::routes::Route;
use crate::http::{AppState, OperatorAuth, router};

/// Whether API Gateway authenticated the caller with IAM (the operator routes' authorizer).
pub fn has_iam_identity(req: &Request) -> bool {
    match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.authorizer.as_ref().is_some_and(|a| a.iam.is_some())
        }
        _ => false,
    }
}

/// The time this Lambda invocation has left, from the runtime's deadline (`None` outside Lambda).
pub fn time_left(req: &Request) -> Option<std::time::Duration> {
    let ctx = req.extensions().get::<lambda_http::Context>()?;
    Some(
        ctx.deadline()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The caller's address as API Gateway saw it.
pub fn source_ip(extensions: &axum::http::Extensions) -> Option<String> {
    match extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// Init (the functions' common start-up, then the router of this one route) once, then hand the handler
/// to the runtime. `route` is the route's function in `http::routes` (`run(routes::users_get)`): the binary
/// references that route's handler and no other, so the linker leaves the other routes' code out.
pub async fn run(route: fn() -> Route) -> Result<(), Error> {
    let state = AppState {
        svc: Arc::new(crate::lambda::start().await?.services),
        operator: Arc::new(OperatorAuth::Iam),
    };
    let app = router(state, vec![route()]);
    lambda_http::run(app).await
}
pub use crate::lambda::Error;
