//! The identity-provider client: hyper with hyper-rustls (the AWS SDK's own HTTPS stack, aws-lc-rs and the
//! system's root certificates), HTTP/1.1, a deadline per request and a bounded body. Plain http is refused
//! except to a loopback address (the tests' provider on 127.0.0.1).

use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ports::web::{MAX_BODY, WebClient, WebError, WebResponse, is_loopback};

/// Connect, send and read the whole answer within this.
const DEADLINE: Duration = Duration::from_secs(10);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Built on its first request: loading and parsing the system's root certificates takes milliseconds, and
/// only single sign-on needs them, so a Lambda function's init does not pay for it.
#[derive(Default)]
pub struct HyperWebClient {
    client: std::sync::OnceLock<HttpsClient>,
}

impl HyperWebClient {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self) -> Result<&HttpsClient, WebError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| WebError::Failed(format!("the system's root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(self
            .client
            .get_or_init(|| Client::builder(TokioExecutor::new()).build(https)))
    }

    async fn send(&self, req: http::Request<Full<Bytes>>) -> Result<WebResponse, WebError> {
        let run = async {
            let res = self
                .client()?
                .request(req)
                .await
                .map_err(|e| WebError::Failed(crate::telemetry::ErrorChain(&e).to_string()))?;
            let status = res.status().as_u16();
            let body = Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| WebError::Failed(format!("reading the answer: {e}")))?
                .to_bytes()
                .to_vec();
            Ok(WebResponse { status, body })
        };
        tokio::time::timeout(DEADLINE, run)
            .await
            .map_err(|_| WebError::Failed(format!("no answer within {DEADLINE:?}")))?
    }
}

/// An https URL, or an http URL whose host is a loopback address.
pub fn allowed_url(url: &str) -> Result<http::Uri, WebError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| WebError::Refused(format!("{url:?} is not a URL")))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        _ => Err(WebError::Refused(format!(
            "{url:?}: only https (http only to a loopback address)"
        ))),
    }
}

fn request(
    method: http::Method,
    uri: http::Uri,
    content_type: Option<&str>,
    authorization: Option<String>,
    body: Vec<u8>,
) -> Result<http::Request<Full<Bytes>>, WebError> {
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, "kanri");
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    if let Some(a) = authorization {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    b.body(Full::new(Bytes::from(body)))
        .map_err(|e| WebError::Refused(e.to_string()))
}

#[async_trait]
impl WebClient for HyperWebClient {
    async fn get(&self, url: &str, bearer: Option<&str>) -> Result<WebResponse, WebError> {
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let req = request(http::Method::GET, allowed_url(url)?, None, auth, Vec::new())?;
        self.send(req).await
    }

    async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<WebResponse, WebError> {
        use base64::Engine;
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                form.append_pair(k, v);
            }
            form.finish().into_bytes()
        };
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
        let auth = basic.map(|(id, secret)| {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(id),
                    enc(secret)
                ))
            )
        });
        let req = request(
            http::Method::POST,
            allowed_url(url)?,
            Some("application/x-www-form-urlencoded"),
            auth,
            body,
        )?;
        self.send(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::allowed_url;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        assert!(allowed_url("https://login.microsoftonline.com/x/v2.0").is_ok());
        assert!(allowed_url("http://127.0.0.1:4000/token").is_ok());
        assert!(allowed_url("http://[::1]:4000/jwks").is_ok());
        assert!(allowed_url("http://localhost/jwks").is_ok());
        assert!(allowed_url("http://idp.example.com/token").is_err());
        assert!(allowed_url("http://127.0.0.1.nip.io/token").is_err());
        assert!(allowed_url("ftp://127.0.0.1/").is_err());
        assert!(allowed_url("not a url").is_err());
    }
}
