//! Pages for people: server-rendered HTML (askama templates compiled into the binary, escaped by default)
//! for what a person does with their own account — open the mailed set-password link, sign in, change the
//! password, ask for a reset, choose notice mails, sign out. Each page is a row of the route table (outside
//! `/v1/`, so not in the OpenAPI document) and calls the same use cases as the JSON API.
//!
//! Sessions: the API's session token in an HttpOnly, SameSite=Lax cookie (Secure unless the public URL is
//! plain http). CSRF: forms of a session carry an HMAC of the session token; forms before a session (login,
//! reset, set-password) carry a random double-submit token that must match their cookie. Every answer has a
//! strict Content-Security-Policy (no script at all; the one stylesheet inlined and allowed by its hash),
//! `frame-ancestors 'none'`, `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy: no-referrer`,
//! `Cache-Control: no-store`, and HSTS when the public URL is https. Japanese by default, English by
//! `Accept-Language` or `?lang=en` (kept in a cookie).

use std::collections::HashMap;
use std::sync::LazyLock;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::auth::{self, Link, LoginRequest};
use crate::app::paging::{self, PageRequest};
use crate::app::principal;
use crate::app::principal::Principal;
use crate::app::records::token;
use crate::app::{AppError, groups, notices, roles};
use crate::crypto::same_secret;
use crate::domain::ids::GroupId;
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::{Caller, ClientIp};
use crate::http::routes::Access;
use crate::ports::prefetch::Prefetched;

pub mod mfa;

const SESSION_COOKIE: &str = "kanri_session";
const CSRF_COOKIE: &str = "kanri_csrf";
const LANG_COOKIE: &str = "kanri_lang";
/// Form bodies: a few short fields, or a console form naming up to 1000 ids or group names (the API's bulk
/// limit), so the API's body limit.
const FORM_LIMIT: usize = crate::http::extract::BODY_LIMIT;

static CSS: &str = include_str!("../../templates/kanri.css");
/// The one script: the copy button of a password shown once. Pages work without it.
pub(crate) static COPY_JS: &str = include_str!("../../templates/copy.js");
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(CSS.as_bytes()));
    let script = STANDARD.encode(Sha256::digest(COPY_JS.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; script-src 'sha256-{script}'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
});

// ---- request context ----------------------------------------------------------------------------------

/// What every page needs from the request: language, cookies, the path and query (for the language switch).
pub struct Page {
    pub(crate) en: bool,
    /// `?lang=` given: remember it in a cookie.
    chosen: Option<bool>,
    cookies: HashMap<String, String>,
    query: Vec<(String, String)>,
    path: String,
    /// The public URL is https: cookies are Secure and HSTS is sent.
    https: bool,
    /// The client's address (`http::policy::client_ip`): the tenant's IP allow-list checks it.
    pub(crate) ip: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let cookies: HashMap<String, String> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect();
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let chosen = query
            .iter()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| lang_code(v));
        let en = chosen
            .or_else(|| cookies.get(LANG_COOKIE).and_then(|v| lang_code(v)))
            .unwrap_or_else(|| {
                accept_language_en(
                    parts
                        .headers
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )
            });
        Ok(Page {
            en,
            chosen,
            cookies,
            query,
            path: parts.uri.path().to_owned(),
            https: s.svc.settings.public_url.starts_with("https://"),
            ip: crate::http::policy::client_ip(&parts.headers, &parts.extensions, &s.svc.settings),
        })
    }
}

/// `Some(true)` for English, `Some(false)` for Japanese.
fn lang_code(v: &str) -> Option<bool> {
    match v {
        "en" => Some(true),
        "ja" => Some(false),
        _ => None,
    }
}

/// Whether the browser prefers English to Japanese (Japanese when it names neither).
fn accept_language_en(header: &str) -> bool {
    let mut best: Option<(f32, bool)> = None;
    for part in header.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let en = match primary {
            "en" => true,
            "ja" => false,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, en));
        }
    }
    best.is_some_and(|(_, en)| en)
}

impl Page {
    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a query parameter (`?id=a&id=b`).
    pub(crate) fn q_all(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a form of this session carries the session's CSRF token.
    pub(crate) fn session_form_ok(&self, form: &Form) -> bool {
        match (self.session_token(), form.get("csrf")) {
            (Some(t), Some(f)) => same_secret(f, &session_csrf(t)),
            _ => false,
        }
    }

    /// The CSRF token of this session's forms (empty without a session).
    pub(crate) fn session_form_token(&self) -> String {
        self.session_token().map(session_csrf).unwrap_or_default()
    }

    /// The 403 page of a page or form the caller's role does not allow.
    pub(crate) fn forbidden(&self) -> Reply {
        self.message(
            StatusCode::FORBIDDEN,
            self.say("この操作の権限がありません", "You may not do this"),
            vec![self.say(
                "あなたのロールでは、このページを開くことも、この操作をすることもできません。必要な場合は組織管理者に依頼してください。",
                "Your role allows neither this page nor this operation. Ask your organisation admin if you need it.",
            )],
            vec![("/account", self.say("アカウントへ", "Your account"))],
        )
    }

    pub(crate) fn say(&self, ja: &str, en: &str) -> String {
        if self.en { en } else { ja }.to_owned()
    }

    /// The parts of the layout every template shares.
    pub(crate) fn chrome(&self) -> Chrome {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.query.iter().filter(|(k, _)| k != "lang") {
            q.append_pair(k, v);
        }
        q.append_pair("lang", if self.en { "ja" } else { "en" });
        Chrome {
            en: self.en,
            lang: if self.en { "en" } else { "ja" },
            css: CSS,
            switch_href: format!("{}?{}", self.path, q.finish()),
            console: false,
            nav: Vec::new(),
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64, same_site: &str) -> String {
        format!(
            "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{}",
            if self.https { "; Secure" } else { "" }
        )
    }

    /// A reply; the language cookie goes along when `?lang=` chose one.
    pub(crate) fn reply(&self, status: StatusCode) -> Reply {
        let mut r = Reply {
            status,
            body: None,
            download: None,
            location: None,
            cookies: Vec::new(),
            hsts: self.https,
        };
        if let Some(en) = self.chosen {
            r.cookies.push(self.cookie(
                LANG_COOKIE,
                if en { "en" } else { "ja" },
                365 * 86_400,
                "Lax",
            ));
        }
        r
    }

    pub(crate) fn html(&self, status: StatusCode, t: &impl Template) -> Reply {
        let mut r = self.reply(status);
        match t.render() {
            Ok(b) => r.body = Some(b),
            Err(e) => {
                tracing::error!(error = %e, "page template failed");
                r.status = StatusCode::INTERNAL_SERVER_ERROR;
                r.body = Some("Internal error".into());
            }
        }
        r
    }

    /// A file the browser saves as `filename` (ASCII), e.g. a CSV for Excel. Sent as
    /// `application/octet-stream`, not `text/csv`: lambda_http re-encodes a `text/*` body as text (dropping
    /// a UTF-8 BOM, transcoding Shift_JIS to UTF-8), and Excel needs the bytes exactly as written.
    pub(crate) fn download(&self, filename: &str, bytes: Vec<u8>) -> Reply {
        let mut r = self.reply(StatusCode::OK);
        r.download = Some((filename.to_owned(), bytes));
        r
    }

    pub(crate) fn redirect(&self, to: &str) -> Reply {
        let mut r = self.reply(StatusCode::SEE_OTHER);
        r.location = Some(to.to_owned());
        r
    }

    pub(crate) fn message(
        &self,
        status: StatusCode,
        title: String,
        paragraphs: Vec<String>,
        links: Vec<(&'static str, String)>,
    ) -> Reply {
        self.html(
            status,
            &MessagePage {
                c: self.chrome(),
                title,
                paragraphs,
                links,
            },
        )
    }

    /// The 403 page of a form posted without its CSRF token (another site's form, or a stale page).
    pub(crate) fn csrf_refused(&self) -> Reply {
        self.message(
            StatusCode::FORBIDDEN,
            self.say(
                "送信を受け付けられませんでした",
                "This form could not be accepted",
            ),
            vec![self.say(
                "フォームの確認用トークンがないか、一致しません。ページを開き直してから、もう一度送信してください。",
                "The form's check token is missing or does not match. Open the page again and send it once more.",
            )],
            vec![("/login", self.say("ログインへ", "Sign in"))],
        )
    }

    /// Failures no form can fix: a lost session goes to the login page, throttling says how long to wait,
    /// anything else is logged and shown as a plain 500 page.
    pub(crate) fn failure(&self, e: AppError) -> Reply {
        match e {
            // The session ended while the page was open (signed out elsewhere, user deleted).
            AppError::Unauthenticated => {
                let mut r = self.redirect("/login");
                self.clear_session(&mut r);
                r
            }
            AppError::IpNotAllowed => self.ip_refused(),
            AppError::MfaEnrolmentRequired => self.redirect(crate::http::policy::ENROLMENT_PAGE),
            AppError::RateLimited { retry_after } => self.message(
                StatusCode::TOO_MANY_REQUESTS,
                self.say("しばらくお待ちください", "Please wait a moment"),
                vec![if self.en {
                    format!("Too many attempts. Try again in {retry_after} seconds.")
                } else {
                    format!("試行回数が多すぎます。{retry_after} 秒後にもう一度お試しください。")
                }],
                vec![],
            ),
            e => {
                tracing::error!(error = %e, "page failed");
                self.message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    self.say("エラーが発生しました", "Something went wrong"),
                    vec![self.say(
                        "しばらくしてから、もう一度お試しください。",
                        "Please try again in a little while.",
                    )],
                    vec![],
                )
            }
        }
    }

    /// The 403 page of an address outside the tenant's IP allow-list.
    pub(crate) fn ip_refused(&self) -> Reply {
        self.message(
            StatusCode::FORBIDDEN,
            self.say(
                "このネットワークからは利用できません",
                "Not available from this network",
            ),
            vec![self.say(
                "組織の設定で、許可されたネットワーク（IP アドレス）からのみサインインできます。社内ネットワークや VPN から開き直すか、管理者にお問い合わせください。",
                "Your organisation allows sign-in only from its own networks (IP addresses). Open the page again from the office network or VPN, or ask your administrator.",
            )],
            vec![],
        )
    }

    /// The double-submit token of the pre-session forms: the cookie's, or a new one (set with the page).
    fn form_token(&self, reply_cookies: &mut Vec<String>) -> String {
        match self.cookies.get(CSRF_COOKIE).filter(|v| v.len() >= 32) {
            Some(t) => t.clone(),
            None => {
                let (t, _) = crate::crypto::new_token();
                let t = t.expose_secret().to_owned();
                reply_cookies.push(self.cookie(CSRF_COOKIE, &t, 86_400, "Strict"));
                t
            }
        }
    }

    fn form_token_ok(&self, form: &Form) -> bool {
        match (self.cookies.get(CSRF_COOKIE), form.get("csrf")) {
            (Some(c), Some(f)) if c.len() >= 32 => same_secret(c, f),
            _ => false,
        }
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        self.cookies
            .get(SESSION_COOKIE)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }

    fn clear_session(&self, r: &mut Reply) {
        r.cookies.push(self.cookie(SESSION_COOKIE, "", 0, "Lax"));
    }
}

/// The CSRF token of a session's forms: an HMAC keyed by the session token, so only a page of that
/// session can know it, and it reveals neither the token nor the stored hash.
pub(crate) fn session_csrf(token: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()) {
        Ok(mut m) => {
            m.update(b"kanri page csrf");
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A page's answer, with the security headers every page carries.
pub struct Reply {
    status: StatusCode,
    body: Option<String>,
    /// A file to save instead of a page: its name and bytes.
    download: Option<(String, Vec<u8>)>,
    location: Option<String>,
    cookies: Vec<String>,
    hsts: bool,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let set = |h: &mut axum::http::HeaderMap, k, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(k, v);
            }
        };
        let mut res = match self.download {
            Some((name, bytes)) => {
                let mut res = (self.status, bytes).into_response();
                let h = res.headers_mut();
                set(h, header::CONTENT_TYPE, "application/octet-stream");
                set(
                    h,
                    header::CONTENT_DISPOSITION,
                    &format!("attachment; filename=\"{name}\""),
                );
                res
            }
            None => {
                let mut res = (self.status, self.body.unwrap_or_default()).into_response();
                set(
                    res.headers_mut(),
                    header::CONTENT_TYPE,
                    "text/html; charset=utf-8",
                );
                res
            }
        };
        let h = res.headers_mut();
        set(h, header::CONTENT_SECURITY_POLICY, &CSP);
        set(h, header::X_FRAME_OPTIONS, "DENY");
        set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(h, header::REFERRER_POLICY, "no-referrer");
        set(h, header::CACHE_CONTROL, "no-store");
        set(h, header::VARY, "Accept-Language, Cookie");
        if self.hsts {
            set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
        }
        if let Some(l) = self.location {
            set(h, header::LOCATION, &l);
        }
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

/// An `application/x-www-form-urlencoded` body, keys in order (a key may come more than once: checkboxes).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn empty() -> Self {
        Form(Vec::new())
    }
    /// The text fields of a multipart form (a file upload's other fields).
    pub(crate) fn from_pairs(fields: Vec<(String, String)>) -> Self {
        Form(fields)
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    /// Every value of a key.
    pub(crate) fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub(crate) fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").trim().to_owned()
    }
    fn secret(&self, k: &str) -> SecretString {
        SecretString::from(self.get(k).unwrap_or("").to_owned())
    }
    fn checked(&self, k: &str) -> bool {
        self.get(k).is_some()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(Form(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}

// ---- templates ----------------------------------------------------------------------------------------

pub(crate) struct Chrome {
    pub(crate) en: bool,
    pub(crate) lang: &'static str,
    pub(crate) css: &'static str,
    pub(crate) switch_href: String,
    /// A console page: the wide layout and the console's navigation.
    pub(crate) console: bool,
    /// The console's navigation links (href, text): only those the caller's role may open.
    pub(crate) nav: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    title: String,
    paragraphs: Vec<String>,
    links: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    csrf: String,
    tenant: String,
    login: String,
    ok: Option<String>,
    error: Option<String>,
    /// The tenant typed or given has a single sign-on provider: its display name, and the start link.
    sso: Option<(String, String)>,
    /// `?sso=1` asked for the tenant's provider and there is none.
    sso_missing: bool,
}

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    c: Chrome,
    csrf: String,
    token: String,
    reset: bool,
    user_name: String,
    username: String,
    tenant_name: String,
    tenant_slug: String,
    expires: String,
    error: Option<String>,
    /// The tenant's minimum password length (its sign-in policy).
    min_chars: usize,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct PasswordResetPage {
    c: Chrome,
    csrf: String,
    tenant: String,
    sent: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "change_password.html")]
struct ChangePasswordPage {
    c: Chrome,
    csrf: String,
    username: String,
    forced: bool,
    error: Option<String>,
    /// The tenant's minimum password length (its sign-in policy).
    min_chars: usize,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    csrf: String,
    name: String,
    tenant_name: String,
    email: String,
    login_id: String,
    role: String,
    org_admin: bool,
    groups: String,
    release: bool,
    incident: bool,
    /// The caller's role opens the console's user pages: a link to them.
    console: bool,
    /// The console's other areas the caller's role may open (href, text).
    console_more: Vec<(&'static str, String)>,
    /// A second factor is active.
    mfa: bool,
    ok: Option<String>,
    error: Option<String>,
}

pub(crate) fn jst_minutes(t: OffsetDateTime) -> String {
    let t = t.to_offset(ktime::JST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} (JST)",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The password rule a weak password broke, in the page's language.
fn weak_password(page: &Page, msg: &str) -> String {
    if let Some(rest) = msg.split("at least ").nth(1) {
        // The tenant's minimum may be above the global one.
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return if page.en {
            format!("The password must have at least {n} characters.")
        } else {
            format!("パスワードは {n} 文字以上にしてください。")
        };
    }
    let (ja, en) = if msg.contains("at most") {
        (
            "パスワードは 128 文字以内にしてください。",
            "The password must have at most 128 characters.",
        )
    } else if msg.contains("login id or e-mail") {
        (
            "ログイン ID やメールアドレスと同じパスワードは使えません。",
            "The password must not be your login ID or e-mail address.",
        )
    } else {
        (
            "このパスワードはよく使われているため使えません。別のものを選んでください。",
            "This password is too common. Please choose another one.",
        )
    };
    page.say(ja, en)
}

fn mismatch(page: &Page) -> String {
    page.say(
        "2 つの新しいパスワードが一致しません。",
        "The two new passwords do not match.",
    )
}

// ---- sessions -----------------------------------------------------------------------------------------

enum Signed {
    In(Box<Principal>, String),
    Out(Reply),
}

/// The signed-in principal of the session cookie, or a redirect to the login page (which also drops a dead
/// cookie). A user who must change their password is sent to that page unless `self_service`.
async fn signed_in(s: &AppState, page: &Page, self_service: bool) -> Result<Signed, AppError> {
    signed_in_with(s, page, self_service, &|_| Vec::new())
        .await
        .map(|(signed, _)| signed)
}

/// [`signed_in`], with the items of the tenant under the sort keys `also` gives read in the session check, and
/// (when signed in) the reads the page is to be served from (`ports::prefetch`).
async fn signed_in_with(
    s: &AppState,
    page: &Page,
    self_service: bool,
    also: &principal::AlsoRead<'_>,
) -> Result<(Signed, Prefetched), AppError> {
    let Some(token) = page.session_token() else {
        return Ok((Signed::Out(page.redirect("/login")), Prefetched::default()));
    };
    let out = |r| Ok((Signed::Out(r), Prefetched::default()));
    match principal::authenticate_with(&s.svc, token, Some(&page.ip), ktime::now(), also).await {
        Ok((p, reads)) => {
            if p.user.must_change_password && !self_service {
                return out(page.redirect("/account/password"));
            }
            // A session limited to enrolling a second factor (the tenant's policy) goes there.
            if p.mfa_enrolment_required
                && !crate::http::policy::page_open_during_enrolment(&page.path)
            {
                return out(page.redirect(crate::http::policy::ENROLMENT_PAGE));
            }
            Ok((Signed::In(Box::new(p), session_csrf(token)), reads))
        }
        Err(AppError::IpNotAllowed) => out(page.ip_refused()),
        Err(AppError::Unauthenticated) => {
            let mut r = page.redirect("/login");
            page.clear_session(&mut r);
            out(r)
        }
        Err(e) => Err(e),
    }
}

fn session_cookie(page: &Page, token: &SecretString, expires: OffsetDateTime) -> String {
    let max_age = (expires - ktime::now()).whole_seconds().max(0);
    page.cookie(SESSION_COOKIE, token.expose_secret(), max_age, "Lax")
}

/// The access of a page's row of the route table, checked as the API checks it but with the session
/// cookie instead of the bearer token: no session → the login page; a password still to change → that
/// page; a role that does not allow the route → a 403 page. The principal goes to the handler as the
/// API's does (`extract::Caller`), and the page is served from the items the session check read for it
/// (`also`, see `http::prefetch`).
pub(crate) async fn authorize(
    state: &AppState,
    access: Access,
    req: Request,
    next: Next,
    also: &principal::AlsoRead<'_>,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let page = match Page::from_request_parts(&mut parts, state).await {
        Ok(p) => p,
        Err(never) => match never {},
    };
    let (p, reads) = match signed_in_with(state, &page, access == Access::SelfService, also).await {
        Ok((Signed::In(p, _), reads)) => (p, reads),
        Ok((Signed::Out(r), _)) => return r.into_response(),
        Err(e) => return page.failure(e).into_response(),
    };
    if !access.allows(&p) {
        return page.forbidden().into_response();
    }
    parts.extensions.insert(std::sync::Arc::new(*p));
    crate::ports::prefetch::within(reads, next.run(Request::from_parts(parts, body))).await
}

// ---- login --------------------------------------------------------------------------------------------

pub async fn login(State(s): State<AppState>, page: Page) -> Reply {
    if let Some(token) = page.session_token()
        && let Ok(p) =
            principal::authenticate_from(&s.svc, token, Some(&page.ip), ktime::now()).await
    {
        return page.redirect(if p.user.must_change_password {
            "/account/password"
        } else if p.mfa_enrolment_required {
            crate::http::policy::ENROLMENT_PAGE
        } else {
            "/account"
        });
    }
    let ok = match page.q("done") {
        Some("signed_out") => Some(page.say("ログアウトしました。", "You have signed out.")),
        Some("password_set") => Some(page.say(
            "パスワードを設定しました。ログインしてください。",
            "Your password is set. Please sign in.",
        )),
        _ => None,
    };
    let tenant = page.q("tenant").unwrap_or("").trim().to_owned();
    let ok = ok.or_else(|| match page.q("done") {
        Some("sso_required") => Some(page.say(
            "この組織では、組織の ID プロバイダーでログインします。",
            "This organisation signs in through its identity provider.",
        )),
        _ => None,
    });
    let asked = page.q("sso") == Some("1");
    login_form(
        &s,
        &page,
        StatusCode::OK,
        (tenant, String::new()),
        ok,
        None,
        asked,
    )
    .await
}

async fn login_form(
    s: &AppState,
    page: &Page,
    status: StatusCode,
    (tenant, login): (String, String),
    ok: Option<String>,
    error: Option<String>,
    sso_asked: bool,
) -> Reply {
    let sso = if tenant.is_empty() {
        None
    } else {
        match crate::app::sso::provider_name(&s.svc, &tenant).await {
            Ok(n) => n.map(|name| {
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("tenant", &tenant);
                (name, format!("/sso/start?{}", q.finish()))
            }),
            Err(e) => return page.failure(e),
        }
    };
    let mut cookies = Vec::new();
    let csrf = page.form_token(&mut cookies);
    let mut r = page.html(
        status,
        &LoginPage {
            c: page.chrome(),
            csrf,
            tenant,
            login,
            ok,
            error,
            sso_missing: sso_asked && sso.is_none(),
            sso,
        },
    );
    r.cookies.extend(cookies);
    r
}

pub async fn login_post(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    page: Page,
    form: Form,
) -> Reply {
    if !page.form_token_ok(&form) {
        return page.csrf_refused();
    }
    let (tenant, login) = (form.text("tenant"), form.text("login"));
    let req = LoginRequest {
        tenant: tenant.clone(),
        login: login.clone(),
        password: form.secret("password"),
        source: ip,
    };
    match auth::login(&s.svc, req, ktime::now()).await {
        Ok(auth::LoginOutcome::Session(session)) => signed_in_reply(&page, &session),
        // No session without the code: the challenge goes in its cookie to the code step.
        Ok(auth::LoginOutcome::SecondFactor(ch)) => mfa::to_code_step(&page, &tenant, &ch),
        Err(e) => {
            // A refusal the person can act on: the form again, with the reason.
            let (status, (ja, en)) = match e {
                AppError::InvalidCredentials => (
                    StatusCode::UNAUTHORIZED,
                    (
                        "テナント ID、ログイン ID またはパスワードが違います。",
                        "The tenant ID, login or password is wrong.",
                    ),
                ),
                AppError::SsoRequired => (
                    StatusCode::FORBIDDEN,
                    (
                        "この組織では、パスワードではなく組織の ID プロバイダーでログインします。下のボタンを使ってください。",
                        "This organisation signs in through its identity provider, not with a password. Use the button below.",
                    ),
                ),
                AppError::ContractEnded => (
                    StatusCode::FORBIDDEN,
                    (
                        "この組織の契約は終了しています。",
                        "The contract of this organisation has ended.",
                    ),
                ),
                AppError::IpNotAllowed => (
                    StatusCode::FORBIDDEN,
                    (
                        "この組織は、許可されたネットワーク（IP アドレス）からのサインインだけを受け付けています。社内ネットワークや VPN からお試しください。",
                        "This organisation accepts sign-in only from its allowed networks (IP addresses). Try again from the office network or VPN.",
                    ),
                ),
                e => return page.failure(e),
            };
            let e = page.say(ja, en);
            login_form(&s, &page, status, (tenant, login), None, Some(e), false).await
        }
    }
}

fn signed_in_reply(page: &Page, session: &principal::Session) -> Reply {
    let mut r = page.redirect(if session.user.must_change_password {
        "/account/password"
    } else if session.mfa_enrolment_required {
        // The tenant's policy requires a second factor first.
        crate::http::policy::ENROLMENT_PAGE
    } else {
        "/account"
    });
    r.cookies
        .push(session_cookie(page, &session.token, session.expires));
    r
}

pub async fn logout_post(State(s): State<AppState>, page: Page, form: Form) -> Reply {
    let signed = match signed_in(&s, &page, true).await {
        Ok(x) => x,
        Err(e) => return page.failure(e),
    };
    let Signed::In(p, csrf) = signed else {
        return page.redirect("/login");
    };
    if !form.get("csrf").is_some_and(|f| same_secret(f, &csrf)) {
        return page.csrf_refused();
    }
    if let Err(e) = auth::logout(&s.svc, &p).await {
        return page.failure(e);
    }
    let mut r = page.redirect("/login?done=signed_out");
    page.clear_session(&mut r);
    r
}

// ---- account ------------------------------------------------------------------------------------------

pub async fn account(State(s): State<AppState>, page: Page) -> Reply {
    let (p, csrf) = match signed_in(&s, &page, false).await {
        Ok(Signed::In(p, c)) => (p, c),
        Ok(Signed::Out(r)) => return r,
        Err(e) => return page.failure(e),
    };
    let ok = match page.q("done") {
        Some("password_set") => Some(page.say(
            "パスワードを設定しました。ようこそ。",
            "Your password is set. Welcome.",
        )),
        Some("password_changed") => Some(page.say(
            "パスワードを変更しました。ほかの端末のログインは終了しました。",
            "Your password is changed. Your other sessions have ended.",
        )),
        Some("subscriptions") => Some(page.say(
            "お知らせメールの設定を保存しました。",
            "Your notice mail settings are saved.",
        )),
        _ => None,
    };
    match account_page(&s, &page, &p, csrf, StatusCode::OK, ok, None).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

async fn account_page(
    s: &AppState,
    page: &Page,
    p: &Principal,
    csrf: String,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let subs = notices::subscriptions(&s.svc, &p.scope, &p.user.id).await?;
    let role = roles::list(&s.svc, &p.scope)
        .await?
        .into_iter()
        .find(|r| r.id == p.user.role_id)
        .map(|r| r.name)
        .unwrap_or_else(|| p.user.role_id.clone());
    let mut names = Vec::new();
    for g in &p.user.group_ids {
        match groups::load(&s.svc, &p.scope, &GroupId::from_stored(g.clone())).await {
            Ok(v) => names.push(v.name),
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let tenant = crate::app::records::tenant::load(&s.svc, &p.scope.tenant).await?;
    let none = page.say("なし", "none");
    Ok(page.html(
        status,
        &AccountPage {
            c: page.chrome(),
            csrf,
            name: p.user.name.clone(),
            tenant_name: tenant.name,
            email: p.user.email.clone().unwrap_or_else(|| none.clone()),
            login_id: p.user.login_id.clone().unwrap_or_else(|| none.clone()),
            role,
            org_admin: p.user.org_admin,
            groups: if names.is_empty() {
                none
            } else {
                names.join(", ")
            },
            release: subs.release,
            incident: subs.incident,
            console: crate::http::routes::may("page-admin-users", p),
            console_more: crate::http::console::areas(page, p)
                .into_iter()
                .filter(|(href, _)| *href != "/admin/users")
                .collect(),
            mfa: p.user.mfa,
            ok,
            error,
        },
    ))
}

pub async fn subscriptions_post(State(s): State<AppState>, page: Page, form: Form) -> Reply {
    let (p, csrf) = match signed_in(&s, &page, false).await {
        Ok(Signed::In(p, c)) => (p, c),
        Ok(Signed::Out(r)) => return r,
        Err(e) => return page.failure(e),
    };
    if !form.get("csrf").is_some_and(|f| same_secret(f, &csrf)) {
        return page.csrf_refused();
    }
    let subs = notices::Subscriptions {
        release: form.checked("release"),
        incident: form.checked("incident"),
    };
    // The form is on the account page and on the notices page; it answers where it was sent from.
    let from_notices = form.get("back") == Some("notices");
    match notices::subscribe(&s.svc, &p, subs, ktime::now()).await {
        Ok(_) if from_notices => page.redirect("/notices?done=subscriptions"),
        Ok(_) => page.redirect("/account?done=subscriptions"),
        Err(AppError::Invalid { .. }) => {
            let e = page.say(
                "メールアドレスが登録されていないため、お知らせメールは受け取れません。",
                "Notice mails need an e-mail address, and your account has none.",
            );
            if from_notices {
                return notices_page(&s, &page, &p, StatusCode::BAD_REQUEST, None, Some(e))
                    .await
                    .unwrap_or_else(|e| page.failure(e));
            }
            account_page(&s, &page, &p, csrf, StatusCode::BAD_REQUEST, None, Some(e))
                .await
                .unwrap_or_else(|e| page.failure(e))
        }
        Err(e) => page.failure(e),
    }
}

// ---- notices (issue 17, operation 17) -------------------------------------------------------------------

/// Notices per page.
const NOTICES_PAGE: usize = 20;

struct NoticeRow {
    id: String,
    incident: bool,
    kind: String,
    title: String,
    body: String,
    published: String,
    /// Incidents: when it happened.
    occurred: Option<String>,
}

#[derive(Template)]
#[template(path = "notices.html")]
struct NoticesPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    /// The kind filter: "", "release" or "incident".
    kind: String,
    rows: Vec<NoticeRow>,
    first_href: Option<String>,
    next_href: Option<String>,
    release: bool,
    incident: bool,
    has_email: bool,
}

fn notices_href(kind: &str, cursor: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if !kind.is_empty() {
        q.append_pair("kind", kind);
    }
    if let Some(c) = cursor {
        q.append_pair("cursor", c);
    }
    let qs = q.finish();
    if qs.is_empty() {
        "/notices".into()
    } else {
        format!("/notices?{qs}")
    }
}

/// A notice's time (milliseconds since the epoch) as the pages show times: JST, to the minute.
fn notice_time(ms: i64) -> String {
    jst_minutes(
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

/// `GET /notices`: release and incident notices, newest first, a page at a time, filtered by kind (as
/// `GET /v1/notices`), with the caller's notice-mail form beside them. For every signed-in user.
pub async fn notices_read(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let ok = (page.q("done") == Some("subscriptions")).then(|| {
        page.say(
            "お知らせメールの設定を保存しました。",
            "Your notice mail settings are saved.",
        )
    });
    notices_page(&s, &page, &p, StatusCode::OK, ok, None)
        .await
        .unwrap_or_else(|e| page.failure(e))
}

async fn notices_page(
    s: &AppState,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let kind = match page.q("kind").unwrap_or("") {
        "" => None,
        k => match notices::Kind::parse(k) {
            Some(k) => Some(k),
            None => {
                return Ok(page.message(
                    StatusCode::BAD_REQUEST,
                    page.say("お知らせの種類が正しくありません", "No such kind of notice"),
                    vec![page.say(
                        "種類は「リリース」か「障害」から選んでください。",
                        "Choose release or incident notices.",
                    )],
                    vec![("/notices", page.say("お知らせへ", "The notices"))],
                ));
            }
        },
    };
    let kind_key = kind.map(|k| k.as_str()).unwrap_or("").to_owned();
    let cursor = page.q("cursor").filter(|c| !c.is_empty());
    // A cursor this list did not give out starts it over.
    let listed = paging::or_first_page(PageRequest::first(NOTICES_PAGE).after(cursor), |r| {
        notices::list(&s.svc, kind, r, false)
    })
    .await?;
    let rows = listed
        .items
        .iter()
        .map(|n| NoticeRow {
            id: n.id.clone(),
            incident: n.kind == notices::Kind::Incident,
            kind: match n.kind {
                notices::Kind::Release => page.say("リリース", "release"),
                notices::Kind::Incident => page.say("障害", "incident"),
            },
            title: n.title.clone(),
            body: n.body.clone(),
            published: notice_time(n.published),
            occurred: n.occurred.map(notice_time),
        })
        .collect();
    let subs = notices::subscriptions(&s.svc, &p.scope, &p.user.id).await?;
    Ok(page.html(
        status,
        &NoticesPage {
            c: page.chrome(),
            csrf: page.session_form_token(),
            ok,
            error,
            first_href: cursor.map(|_| notices_href(&kind_key, None)),
            next_href: listed
                .next
                .map(|n| notices_href(&kind_key, Some(n.as_str()))),
            kind: kind_key,
            rows,
            release: subs.release,
            incident: subs.incident,
            has_email: p.user.email.is_some(),
        },
    ))
}

// ---- change password ----------------------------------------------------------------------------------

pub async fn change_password(State(s): State<AppState>, page: Page) -> Reply {
    match signed_in(&s, &page, true).await {
        Ok(Signed::In(p, csrf)) => change_form(&page, &p, csrf, StatusCode::OK, None),
        Ok(Signed::Out(r)) => r,
        Err(e) => page.failure(e),
    }
}

fn change_form(
    page: &Page,
    p: &Principal,
    csrf: String,
    status: StatusCode,
    error: Option<String>,
) -> Reply {
    page.html(
        status,
        &ChangePasswordPage {
            c: page.chrome(),
            csrf,
            username: p
                .user
                .email
                .clone()
                .or_else(|| p.user.login_id.clone())
                .unwrap_or_default(),
            forced: p.user.must_change_password,
            error,
            min_chars: p.policy.min_password_chars(),
        },
    )
}

pub async fn change_password_post(State(s): State<AppState>, page: Page, form: Form) -> Reply {
    let (p, csrf) = match signed_in(&s, &page, true).await {
        Ok(Signed::In(p, c)) => (p, c),
        Ok(Signed::Out(r)) => return r,
        Err(e) => return page.failure(e),
    };
    if !form.get("csrf").is_some_and(|f| same_secret(f, &csrf)) {
        return page.csrf_refused();
    }
    let new = form.secret("password");
    if new.expose_secret() != form.get("confirm").unwrap_or("") {
        let e = mismatch(&page);
        return change_form(&page, &p, csrf, StatusCode::BAD_REQUEST, Some(e));
    }
    match auth::change_password(&s.svc, &p, form.secret("current"), new, ktime::now()).await {
        Ok(()) => page.redirect("/account?done=password_changed"),
        Err(AppError::Invalid { .. }) => {
            let e = page.say(
                "現在のパスワードが違います。",
                "The current password is wrong.",
            );
            change_form(&page, &p, csrf, StatusCode::BAD_REQUEST, Some(e))
        }
        Err(AppError::WeakPassword(m)) => {
            let e = weak_password(&page, &m);
            change_form(&page, &p, csrf, StatusCode::BAD_REQUEST, Some(e))
        }
        Err(e) => page.failure(e),
    }
}

// ---- set password (invitation and reset links) --------------------------------------------------------

/// Opening the link only reads it: the token is used up by the form's POST alone.
pub async fn set_password(State(s): State<AppState>, page: Page) -> Reply {
    let token = page.q("token").unwrap_or("").to_owned();
    set_password_form(&s, &page, token, StatusCode::OK, None).await
}

async fn set_password_form(
    s: &AppState,
    page: &Page,
    token: String,
    status: StatusCode,
    error: Option<String>,
) -> Reply {
    let link = if token.is_empty() {
        Ok(Link::Unknown)
    } else {
        auth::inspect_link(&s.svc, &token, ktime::now()).await
    };
    match link {
        Ok(Link::Valid {
            kind,
            expires,
            user,
            tenant,
        }) => {
            let mut cookies = Vec::new();
            let csrf = page.form_token(&mut cookies);
            let mut r = page.html(
                status,
                &SetPasswordPage {
                    c: page.chrome(),
                    csrf,
                    token,
                    reset: kind == token::RESET,
                    user_name: user.name.clone(),
                    username: user
                        .email
                        .clone()
                        .or(user.login_id.clone())
                        .unwrap_or_default(),
                    tenant_name: tenant.name.clone(),
                    tenant_slug: tenant.slug.clone(),
                    expires: jst_minutes(expires),
                    error,
                    min_chars: tenant.policy.min_password_chars(),
                },
            );
            r.cookies.extend(cookies);
            r
        }
        Ok(Link::Expired { kind }) => dead_link(page, Some(kind), true),
        Ok(Link::Unknown) => dead_link(page, None, false),
        Err(e) => page.failure(e),
    }
}

/// The page of a link that cannot be used, saying what to do instead. 410: it will not work again.
fn dead_link(page: &Page, kind: Option<&str>, expired: bool) -> Reply {
    let mut paragraphs = vec![if expired {
        page.say(
            "このリンクは有効期限が切れています。",
            "This link has expired.",
        )
    } else {
        page.say(
            "このリンクはすでに使用済みか、新しいリンクが発行されたため無効になっています。",
            "This link has already been used, or a newer link has replaced it.",
        )
    }];
    if kind != Some(token::RESET) {
        paragraphs.push(page.say(
            "招待のリンクの場合: 組織の管理者に、招待の再発行を依頼してください。",
            "An invitation link: ask your organisation's administrator to invite you again.",
        ));
    }
    if kind != Some(token::INVITATION) {
        paragraphs.push(page.say(
            "パスワード再設定のリンクの場合: 再設定をもう一度申し込んでください。",
            "A password reset link: request a new reset.",
        ));
    }
    paragraphs.push(page.say(
        "パスワードを設定済みであれば、そのままログインできます。",
        "If you have already set your password, just sign in.",
    ));
    page.message(
        StatusCode::GONE,
        page.say("このリンクは使えません", "This link cannot be used"),
        paragraphs,
        vec![
            ("/login", page.say("ログイン", "Sign in")),
            (
                "/password-reset",
                page.say("パスワードの再設定", "Reset your password"),
            ),
        ],
    )
}

/// Sets the password (using up the link), then signs the person in with it, as the login page would: the
/// token leaves the URL with the redirect to their account page.
pub async fn set_password_post(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    page: Page,
    form: Form,
) -> Reply {
    if !page.form_token_ok(&form) {
        return page.csrf_refused();
    }
    let token = form.text("token");
    let password = form.secret("password");
    if password.expose_secret() != form.get("confirm").unwrap_or("") {
        let e = mismatch(&page);
        return set_password_form(&s, &page, token, StatusCode::BAD_REQUEST, Some(e)).await;
    }
    // The link used and the session opened in one transaction (`auth::use_link`); no session when the
    // login page must sign the person in (a second factor, the sign-in policy).
    let used = auth::use_link(&s.svc, &token, password, Some(&ip), ktime::now()).await;
    let (tenant_slug, session) = match used {
        Ok(auth::LinkUse::Done {
            tenant_slug,
            session,
        }) => (tenant_slug, session),
        Ok(auth::LinkUse::Dead(Link::Expired { kind })) => {
            return dead_link(&page, Some(kind), true);
        }
        Ok(auth::LinkUse::Dead(_)) | Err(AppError::InvalidToken) => {
            return dead_link(&page, None, false);
        }
        Err(AppError::WeakPassword(m)) => {
            let e = weak_password(&page, &m);
            return set_password_form(&s, &page, token, StatusCode::BAD_REQUEST, Some(e)).await;
        }
        Err(e) => return page.failure(e),
    };
    match session {
        Some(session) => {
            let mut r = page.redirect("/account?done=password_set");
            r.cookies
                .push(session_cookie(&page, &session.token, session.expires));
            r
        }
        // The password is set; signing in is the login page's job when it cannot happen here (a second
        // factor too).
        None => page.redirect(&format!(
            "/login?done=password_set&tenant={}",
            form_urlencoded::byte_serialize(tenant_slug.as_bytes()).collect::<String>()
        )),
    }
}

// ---- password reset request ---------------------------------------------------------------------------

pub async fn password_reset(page: Page) -> Reply {
    let sent = page.q("sent") == Some("1");
    let tenant = page.q("tenant").unwrap_or("").to_owned();
    reset_form(&page, StatusCode::OK, tenant, sent, None)
}

fn reset_form(
    page: &Page,
    status: StatusCode,
    tenant: String,
    sent: bool,
    error: Option<String>,
) -> Reply {
    let mut cookies = Vec::new();
    let csrf = page.form_token(&mut cookies);
    let mut r = page.html(
        status,
        &PasswordResetPage {
            c: page.chrome(),
            csrf,
            tenant,
            sent,
            error,
        },
    );
    r.cookies.extend(cookies);
    r
}

/// The same answer whether or not the account exists (as `POST /v1/auth/password-reset`).
pub async fn password_reset_post(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    page: Page,
    form: Form,
) -> Reply {
    if !page.form_token_ok(&form) {
        return page.csrf_refused();
    }
    let (tenant, login) = (form.text("tenant"), form.text("login"));
    match auth::request_reset(&s.svc, &tenant, &login, &ip, ktime::now()).await {
        Ok(()) => page.redirect("/password-reset?sent=1"),
        Err(AppError::RateLimited { retry_after }) => {
            let e = if page.en {
                format!("Too many requests. Try again in {retry_after} seconds.")
            } else {
                format!("リクエストが多すぎます。{retry_after} 秒後にもう一度お試しください。")
            };
            reset_form(&page, StatusCode::TOO_MANY_REQUESTS, tenant, false, Some(e))
        }
        Err(e) => page.failure(e),
    }
}

// ---- single sign-on (issue 21) --------------------------------------------------------------------------

/// The cookie holding a pending sign-in's state, so only the browser that started it can finish it.
/// SameSite=Lax: the provider sends the browser back with a top-level GET, which Lax lets through.
const SSO_COOKIE: &str = "kanri_sso";

/// `GET /sso/start?tenant=<slug>`: off to the tenant's identity provider, the state kept in a cookie.
pub async fn sso_start(State(s): State<AppState>, page: Page) -> Reply {
    let tenant = page.q("tenant").unwrap_or("").trim().to_owned();
    if tenant.is_empty() {
        return page.redirect("/login?sso=1");
    }
    match crate::app::sso::start(&s.svc, &tenant, ktime::now()).await {
        Ok(started) => {
            let mut r = page.redirect(&started.url);
            r.cookies.push(page.cookie(
                SSO_COOKIE,
                started.state.expose_secret(),
                crate::app::sso::STATE_TTL.whole_seconds(),
                "Lax",
            ));
            r
        }
        Err(crate::app::sso::Refusal::Failed(f)) => sso_failed(&page, &f),
        Err(crate::app::sso::Refusal::Error(e)) => page.failure(e),
    }
}

/// `GET /sso/callback?code=…&state=…`: the provider's answer. A session and the account page, or a page
/// saying why not.
pub async fn sso_callback(State(s): State<AppState>, page: Page) -> Reply {
    let q = |k: &str| page.q(k).map(str::to_owned);
    let cb = crate::app::sso::Callback {
        state: q("state"),
        browser_state: page.cookies.get(SSO_COOKIE).cloned(),
        code: q("code"),
        error: q("error"),
        iss: q("iss"),
    };
    let mut r = match crate::app::sso::callback(&s.svc, cb, ktime::now()).await {
        Ok(session) => signed_in_reply(&page, &session),
        Err(crate::app::sso::Refusal::Failed(f)) => sso_failed(&page, &f),
        Err(crate::app::sso::Refusal::Error(e)) => page.failure(e),
    };
    r.cookies.push(page.cookie(SSO_COOKIE, "", 0, "Lax"));
    r
}

/// The page of a single sign-on that ended without a session: what happened, what to do, and the code
/// (also in the operation log). 4xx, never 5xx: the cause is the provider's answer or the account.
fn sso_failed(page: &Page, f: &crate::app::sso::Failure) -> Reply {
    use crate::app::sso::Failure as F;
    let (status, title, what) = match f {
        F::NotConfigured => (
            StatusCode::NOT_FOUND,
            (
                "この組織ではシングルサインオンを使えません",
                "Single sign-on is not set up for this organisation",
            ),
            (
                "テナント ID を確かめるか、パスワードでログインしてください。",
                "Check the tenant ID, or sign in with your password.",
            ),
        ),
        F::State => (
            StatusCode::BAD_REQUEST,
            (
                "ログイン手続きが無効か、期限切れです",
                "This sign-in is not valid or has expired",
            ),
            (
                "ログイン手続きは開始したブラウザーで 10 分間、1 回だけ有効です。ログイン画面からもう一度始めてください。",
                "A sign-in is valid once, for 10 minutes, in the browser that started it. Start again from the sign-in page.",
            ),
        ),
        F::Provider(_) => (
            StatusCode::BAD_REQUEST,
            (
                "ID プロバイダーがログインを完了しませんでした",
                "The identity provider did not complete the sign-in",
            ),
            (
                "ログインが取り消されたか、プロバイダーが拒否しました。もう一度お試しください。",
                "The sign-in was cancelled or refused by the provider. Please try again.",
            ),
        ),
        F::Unreachable => (
            StatusCode::BAD_REQUEST,
            (
                "ID プロバイダーに接続できませんでした",
                "The identity provider could not be reached",
            ),
            (
                "しばらくしてからもう一度お試しください。続く場合は組織管理者に連絡してください。",
                "Please try again later. If it goes on, contact your organisation admin.",
            ),
        ),
        F::Exchange => (
            StatusCode::BAD_REQUEST,
            (
                "ログインを完了できませんでした",
                "The sign-in could not be completed",
            ),
            (
                "認可コードが期限切れか使用済み、またはクライアントの設定が誤っています。もう一度お試しください。",
                "The authorization code expired or was used, or the client settings are wrong. Please try again.",
            ),
        ),
        F::Token(_) => (
            StatusCode::UNAUTHORIZED,
            (
                "ID プロバイダーの応答を検証できませんでした",
                "The identity provider's answer could not be verified",
            ),
            (
                "ID トークンの署名・発行者・宛先・有効期限・nonce のいずれかが正しくありません。組織管理者に連絡してください。",
                "The ID token's signature, issuer, audience, expiry or nonce is not right. Contact your organisation admin.",
            ),
        ),
        F::NoClaim => (
            StatusCode::FORBIDDEN,
            (
                "利用者を識別できませんでした",
                "Your identity could not be matched",
            ),
            (
                "ID トークンに、設定された識別用の項目がありません。組織管理者に連絡してください。",
                "The ID token lacks the claim configured to identify you. Contact your organisation admin.",
            ),
        ),
        F::EmailUnverified => (
            StatusCode::FORBIDDEN,
            (
                "メールアドレスが確認されていません",
                "Your e-mail address is not verified",
            ),
            (
                "ID プロバイダーでメールアドレスの確認を済ませてから、もう一度お試しください。",
                "Verify your e-mail address at the identity provider, then try again.",
            ),
        ),
        F::Domain => (
            StatusCode::FORBIDDEN,
            (
                "このメールアドレスのドメインは許可されていません",
                "This e-mail domain is not allowed",
            ),
            (
                "組織が許可したドメインのアカウントでログインしてください。",
                "Sign in with an account of a domain your organisation allows.",
            ),
        ),
        F::NoAccount => (
            StatusCode::FORBIDDEN,
            (
                "Kanri のアカウントが見つかりません",
                "No Kanri account matches this identity",
            ),
            (
                "アカウントは組織管理者が登録します（シングルサインオンでは作成されません）。組織管理者に連絡してください。",
                "Accounts are registered by your organisation admin (single sign-on does not create them). Contact your organisation admin.",
            ),
        ),
        F::Disabled => (
            StatusCode::FORBIDDEN,
            (
                "このアカウントは無効にされています",
                "This account is disabled",
            ),
            (
                "組織管理者に連絡してください。",
                "Contact your organisation admin.",
            ),
        ),
        F::ContractEnded => (
            StatusCode::FORBIDDEN,
            (
                "この組織の契約は終了しています",
                "The contract of this organisation has ended",
            ),
            ("ログインできません。", "Signing in is not possible."),
        ),
    };
    let mut paragraphs = vec![page.say(what.0, what.1)];
    if let F::Provider(code) = f
        && !code.is_empty()
    {
        paragraphs.push(if page.en {
            format!("The provider answered: {code}")
        } else {
            format!("プロバイダーの応答: {code}")
        });
    }
    paragraphs.push(if page.en {
        format!("Error code: {}", f.code())
    } else {
        format!("エラーコード: {}", f.code())
    });
    page.message(
        status,
        page.say(title.0, title.1),
        paragraphs,
        vec![("/login", page.say("ログインへ", "Sign in"))],
    )
}

#[cfg(test)]
mod tests {
    use super::accept_language_en;

    #[test]
    fn japanese_unless_the_browser_prefers_english() {
        assert!(!accept_language_en(""));
        assert!(!accept_language_en("fr-FR,fr;q=0.9"));
        assert!(!accept_language_en("ja,en-US;q=0.9,en;q=0.8"));
        assert!(accept_language_en("en-US,en;q=0.9,ja;q=0.8"));
        assert!(accept_language_en("de,en;q=0.5"));
        assert!(!accept_language_en("en;q=0,ja;q=0.1"));
    }
}
