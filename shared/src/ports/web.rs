//! Outgoing HTTPS requests to a tenant's identity provider (OpenID Connect discovery, its keys, the code
//! exchange): small JSON documents, read whole, each with a deadline.

use async_trait::async_trait;

/// What an identity provider answered: the status and the body, at most [`MAX_BODY`] bytes.
#[derive(Clone, Debug)]
pub struct WebResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The largest body read from a provider (a discovery document or key set is a few kilobytes).
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not an address this client may call (an http URL outside loopback, a malformed URL).
    #[error("refused URL: {0}")]
    Refused(String),
    /// Unreachable, timed out, TLS failed, or a body over the limit.
    #[error("request failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait WebClient: Send + Sync {
    /// A GET, with a bearer token when given (the userinfo endpoint).
    async fn get(&self, url: &str, bearer: Option<&str>) -> Result<WebResponse, WebError>;
    /// A `application/x-www-form-urlencoded` POST, with HTTP Basic credentials when given.
    async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<WebResponse, WebError>;
}

/// `localhost`, `127.x.x.x` or `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
