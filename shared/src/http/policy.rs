//! Where the HTTP layer enforces the tenant's sign-in policy (`app::sign_in_policy`): the client's
//! address every request is checked with, and what a session limited to enrolling a second factor may
//! still reach.

use axum::http::{Extensions, HeaderMap};

use crate::app::Settings;

/// The client's address: API Gateway's source IP in Lambda; locally the trusted header when configured
/// (`KANRI_CLIENT_IP_HEADER`), else the socket peer (`unknown` without one). Of a list
/// (`X-Forwarded-For: client, proxy1, …`) the right-most entry counts: the one the trusted proxy itself
/// added; every entry left of it is whatever the client chose to send. Rate limits and the IP allow-list
/// both read it.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, settings: &Settings) -> String {
    if let Some(ip) = crate::http::lambda::source_ip(extensions) {
        return ip;
    }
    if let Some(h) = &settings.client_ip_header
        && let Some(v) = headers.get(h.as_str()).and_then(|v| v.to_str().ok())
        && let Some(last) = v
            .rsplit(',')
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    {
        return last.to_owned();
    }
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The API routes a session limited to enrolment may call: enrol and confirm a TOTP factor, read
/// `GET /v1/me` (which says `mfa_enrolment_required`), sign out, and change a password that must be
/// changed first (the enrolment routes refuse such a session with `password_change_required`).
/// Everything else answers 403 `mfa_enrolment_required`.
pub fn open_during_enrolment(route_id: &str) -> bool {
    matches!(
        route_id,
        "me-mfa-totp" | "me-mfa-totp-confirm" | "me-get" | "auth-logout" | "me-password"
    )
}

/// Where a page of a session limited to enrolment is sent.
pub const ENROLMENT_PAGE: &str = "/account/mfa";

/// The pages such a session may open: the enrolment page (and its forms), signing out, and the
/// password change that must come first. Every other page redirects to [`ENROLMENT_PAGE`].
pub fn page_open_during_enrolment(path: &str) -> bool {
    path == ENROLMENT_PAGE
        || path.starts_with("/account/mfa/")
        || matches!(path, "/logout" | "/account/password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_enrolment_sign_out_and_the_password_change_stay_open() {
        for id in [
            "me-mfa-totp",
            "me-mfa-totp-confirm",
            "me-get",
            "auth-logout",
        ] {
            assert!(open_during_enrolment(id), "{id}");
        }
        for id in [
            "users-list",
            "tenant-get",
            "me-mfa-delete",
            "tenant-sign-in-policy-get",
        ] {
            assert!(!open_during_enrolment(id), "{id}");
        }
        for p in [
            "/account/mfa",
            "/account/mfa/confirm",
            "/logout",
            "/account/password",
        ] {
            assert!(page_open_during_enrolment(p), "{p}");
        }
        for p in ["/account", "/admin/users", "/account/mfax", "/notices"] {
            assert!(!page_open_during_enrolment(p), "{p}");
        }
    }
}
