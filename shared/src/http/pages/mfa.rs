//! The second factor on the pages (issue 22): the login's code step, and the enrolment page
//! `/account/mfa`. They call the API's use cases (`app::mfa`), so throttling, replay and the operation log
//! are the API's.
//!
//! The code step: the password step (`POST /login`) of a user with a factor opens no session; it puts the
//! challenge in a short-lived HttpOnly cookie (`kanri_mfa`, SameSite=Strict, Path=/login, 5 minutes) and
//! sends the browser to `/login/mfa`, whose form takes a TOTP code or a recovery code. Only a right code
//! opens the session (the same cookie as a password login); an expired or used challenge goes back to the
//! password step. The challenge never appears in a URL or the page.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use super::{Chrome, Form, Page, Reply, jst_minutes, login_form, signed_in_reply};
use crate::app::principal::Principal;
use crate::app::records::factor;
use crate::app::{AppError, mfa};
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::{Caller, ClientIp};

/// The cookie carrying a login challenge between the password step and the code step.
const CHALLENGE_COOKIE: &str = "kanri_mfa";

impl Page {
    fn challenge(&self) -> Option<&str> {
        self.cookies
            .get(CHALLENGE_COOKIE)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }

    /// The challenge cookie: only `/login…` receives it, never another site's request, for its lifetime.
    fn challenge_cookie(&self, value: &str, max_age: i64) -> String {
        format!(
            "{CHALLENGE_COOKIE}={value}; Path=/login; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
            if self.https { "; Secure" } else { "" }
        )
    }
}

/// The password step's answer for a user with a second factor: the challenge in its cookie, and the code
/// page (the tenant in its address, so that going back to the password step keeps it).
pub(super) fn to_code_step(page: &Page, tenant: &str, challenge: &factor::Challenge) -> Reply {
    let mut r = page.redirect(&format!(
        "/login/mfa?tenant={}",
        form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
    ));
    let max_age = (challenge.expires - ktime::now()).whole_seconds().max(0);
    r.cookies
        .push(page.challenge_cookie(challenge.token.expose_secret(), max_age));
    r
}

#[derive(Template)]
#[template(path = "login_mfa.html")]
struct CodePage {
    c: Chrome,
    csrf: String,
    tenant: String,
    /// The password step again, with the tenant filled in.
    back_href: String,
    expires: String,
    error: Option<String>,
}

fn code_form(
    page: &Page,
    status: StatusCode,
    tenant: String,
    expires: OffsetDateTime,
    error: Option<String>,
) -> Reply {
    let mut cookies = Vec::new();
    let csrf = page.form_token(&mut cookies);
    let mut r = page.html(
        status,
        &CodePage {
            c: page.chrome(),
            csrf,
            back_href: format!(
                "/login?tenant={}",
                form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
            ),
            tenant,
            expires: jst_minutes(expires),
            error,
        },
    );
    r.cookies.extend(cookies);
    r
}

/// Back to the password step: the challenge is gone (expired, used, or its factor removed meanwhile).
async fn challenge_ended(s: &AppState, page: &Page, tenant: String) -> Reply {
    let e = page.say(
        "確認コードの入力期限が切れたか、このログインはすでに終了しています。もう一度パスワードからログインしてください。",
        "The time to enter a code has run out, or this sign-in has already ended. Please sign in again with your password.",
    );
    let mut r = login_form(
        s,
        page,
        StatusCode::UNAUTHORIZED,
        (tenant, String::new()),
        None,
        Some(e),
        false,
    )
    .await;
    r.cookies.push(page.challenge_cookie("", 0));
    r
}

/// `GET /login/mfa`: the code form while the challenge of the cookie can be completed (read only).
pub async fn login_code(State(s): State<AppState>, page: Page) -> Reply {
    let tenant = page.q("tenant").unwrap_or("").to_owned();
    let Some(challenge) = page.challenge() else {
        return page.redirect("/login");
    };
    match mfa::challenge_expiry(&s.svc, challenge, ktime::now()).await {
        Ok(Some(expires)) => code_form(&page, StatusCode::OK, tenant, expires, None),
        Ok(None) => challenge_ended(&s, &page, tenant).await,
        Err(e) => page.failure(e),
    }
}

/// The code form again with what went wrong, while its challenge lasts.
async fn code_again(
    s: &AppState,
    page: &Page,
    challenge: &str,
    tenant: String,
    status: StatusCode,
    error: String,
) -> Reply {
    match mfa::challenge_expiry(&s.svc, challenge, ktime::now()).await {
        Ok(Some(expires)) => code_form(page, status, tenant, expires, Some(error)),
        Ok(None) => challenge_ended(s, page, tenant).await,
        Err(e) => page.failure(e),
    }
}

/// `POST /login/mfa`: the code step (as `POST /v1/auth/login/mfa`): a TOTP code or a recovery code opens
/// the session; a wrong one shows the form again; throttled as the API is.
pub async fn login_code_post(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    page: Page,
    form: Form,
) -> Reply {
    if !page.form_token_ok(&form) {
        return page.csrf_refused();
    }
    let tenant = form.text("tenant");
    let Some(challenge) = page.challenge().map(str::to_owned) else {
        return challenge_ended(&s, &page, tenant).await;
    };
    let now = ktime::now();
    match mfa::login(&s.svc, &challenge, &form.text("code"), &ip, now).await {
        Ok(session) => {
            let mut r = signed_in_reply(&page, &session);
            r.cookies.push(page.challenge_cookie("", 0));
            r
        }
        Err(AppError::InvalidCode) => {
            let e = page.say(
                "コードが違うか、すでに使われています。認証アプリに表示されている新しいコードか、未使用の回復コードを入力してください。",
                "The code is wrong or has already been used. Enter the code your authenticator app shows now, or an unused recovery code.",
            );
            code_again(&s, &page, &challenge, tenant, StatusCode::UNAUTHORIZED, e).await
        }
        Err(AppError::RateLimited { retry_after }) => {
            let e = if page.en {
                format!("Too many wrong codes. Try again in {retry_after} seconds.")
            } else {
                format!("間違ったコードが多すぎます。{retry_after} 秒後にもう一度お試しください。")
            };
            code_again(
                &s,
                &page,
                &challenge,
                tenant,
                StatusCode::TOO_MANY_REQUESTS,
                e,
            )
            .await
        }
        Err(AppError::InvalidChallenge) => challenge_ended(&s, &page, tenant).await,
        Err(AppError::ContractEnded) => {
            let e = page.say(
                "この組織の契約は終了しています。",
                "The contract of this organisation has ended.",
            );
            let mut r = login_form(
                &s,
                &page,
                StatusCode::FORBIDDEN,
                (tenant, String::new()),
                None,
                Some(e),
                false,
            )
            .await;
            r.cookies.push(page.challenge_cookie("", 0));
            r
        }
        Err(e) => page.failure(e),
    }
}

// ---- enrolment: /account/mfa ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "account_mfa.html")]
struct MfaPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    /// "off", "pending" or "on".
    state: &'static str,
    /// Pending: the secret as text, and its QR code as inline SVG.
    secret: String,
    qr: String,
    recovery_codes_left: usize,
}

#[derive(Template)]
#[template(path = "account_mfa_codes.html")]
struct CodesPage {
    c: Chrome,
    csrf: String,
    codes: Vec<String>,
    /// The codes as a text file, for the download link (a `data:` URL: nothing is kept on the server).
    download: String,
}

/// The QR code of an `otpauth://` URI as inline SVG (black on white, with its quiet zone), or `None` if
/// the URI does not fit a QR code (it always does: about 120 bytes).
fn qr_svg(uri: &str, label: &str) -> Option<String> {
    use qrcode::render::svg;
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: no XML declaration; a name for screen readers. The label is ours (no markup).
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{label}\" id=\"qr\" "),
        1,
    ))
}

/// `GET /account/mfa`: where the caller's second factor stands, and what they can do about it.
pub async fn account_mfa(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let ok = match page.q("done") {
        Some("disabled") => Some(page.say(
            "二段階認証を解除しました。次回からはパスワードだけでログインします。",
            "Two-step verification is off. You now sign in with your password alone.",
        )),
        _ => None,
    };
    mfa_page(&s, &page, &p, StatusCode::OK, ok, None)
        .await
        .unwrap_or_else(|e| page.failure(e))
}

/// The enrolment page again with why the form was refused.
async fn mfa_refused(
    s: &AppState,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    error: String,
) -> Reply {
    mfa_page(s, page, p, status, None, Some(error))
        .await
        .unwrap_or_else(|e| page.failure(e))
}

async fn mfa_page(
    s: &AppState,
    page: &Page,
    p: &Principal,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let (state, secret, qr, left) = match mfa::state(&s.svc, p).await? {
        mfa::State::Off => ("off", String::new(), String::new(), 0),
        mfa::State::Pending(e) => {
            let label = page.say(
                "認証アプリで読み取る QR コード",
                "QR code for your authenticator app",
            );
            let qr = qr_svg(e.uri.expose_secret(), &label).ok_or_else(|| {
                AppError::Internal("the otpauth URI does not fit a QR code".into())
            })?;
            ("pending", e.secret.expose_secret().to_owned(), qr, 0)
        }
        mfa::State::On {
            recovery_codes_left,
        } => ("on", String::new(), String::new(), recovery_codes_left),
    };
    Ok(page.html(
        status,
        &MfaPage {
            c: page.chrome(),
            csrf: page.session_form_token(),
            ok,
            error,
            state,
            secret,
            qr,
            recovery_codes_left: left,
        },
    ))
}

/// `POST /account/mfa/totp`: starts (or starts again) an enrolment, then shows it (`GET /account/mfa`).
pub async fn account_mfa_start(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    match mfa::start(&s.svc, &p, ktime::now()).await {
        Ok(_) => page.redirect("/account/mfa"),
        Err(AppError::Conflict { .. }) => {
            let e = page.say(
                "二段階認証はすでに有効です。設定し直すには、先に解除してください。",
                "Two-step verification is already on. Turn it off first to set it up again.",
            );
            mfa_refused(&s, &page, &p, StatusCode::CONFLICT, e).await
        }
        Err(e) => page.failure(e),
    }
}

/// `POST /account/mfa/totp/confirm`: one code of the pending secret turns the factor on; the ten recovery
/// codes are shown on this answer only.
pub async fn account_mfa_confirm(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    match mfa::confirm(&s.svc, &p, &form.text("code"), ktime::now()).await {
        Ok(codes) => {
            let codes: Vec<String> = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
            let text = format!(
                "Kanri recovery codes / 回復コード\r\n{}\r\n",
                codes.join("\r\n")
            );
            page.html(
                StatusCode::OK,
                &CodesPage {
                    c: page.chrome(),
                    csrf: page.session_form_token(),
                    download: format!(
                        "data:text/plain;charset=utf-8;base64,{}",
                        STANDARD.encode(text.as_bytes())
                    ),
                    codes,
                },
            )
        }
        Err(AppError::Invalid { .. }) => {
            let e = page.say(
                "コードが違います。認証アプリに今表示されている 6 桁のコードを入力してください。",
                "The code is wrong. Enter the six digits your authenticator app shows now.",
            );
            mfa_refused(&s, &page, &p, StatusCode::BAD_REQUEST, e).await
        }
        Err(AppError::Conflict { code, .. }) => {
            let e = if code == "mfa_not_pending" {
                page.say(
                    "設定中の二段階認証がありません。もう一度「設定を始める」から操作してください。",
                    "No set-up is waiting for a code. Start again with \u{201c}Set up\u{201d}.",
                )
            } else {
                page.say(
                    "二段階認証はすでに有効です。",
                    "Two-step verification is already on.",
                )
            };
            mfa_refused(&s, &page, &p, StatusCode::CONFLICT, e).await
        }
        Err(e) => page.failure(e),
    }
}

/// `POST /account/mfa/delete`: turns the factor off (or drops a pending set-up) with the current password.
pub async fn account_mfa_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    match mfa::remove(&s.svc, &p, form.secret("password"), ktime::now()).await {
        Ok(()) => page.redirect("/account/mfa?done=disabled"),
        Err(AppError::Invalid { .. }) => {
            let e = page.say("パスワードが違います。", "The password is wrong.");
            mfa_refused(&s, &page, &p, StatusCode::BAD_REQUEST, e).await
        }
        Err(AppError::Conflict { .. }) => page.redirect("/account/mfa"),
        Err(e) => page.failure(e),
    }
}
