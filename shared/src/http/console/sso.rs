//! The console's single sign-on page (issue 21): the tenant's OpenID Connect provider, the form to set it
//! (as `PUT /v1/tenant/sso`) and the button to remove it (as `DELETE /v1/tenant/sso`), for organisation
//! admins. The client secret is never shown: left empty, the stored one stays.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;

use crate::app::principal::Principal;
use crate::app::records::sso as sso_config;
use crate::app::{AppError, sso};
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::Caller;
use crate::http::pages::{Chrome, Form, Page, Reply};

#[derive(Template)]
#[template(path = "admin_sso.html")]
struct SsoPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    configured: bool,
    secret_set: bool,
    issuer: String,
    client_id: String,
    display_name: String,
    claim: String,
    domains: String,
    required: bool,
    redirect_uri: String,
}

/// The form's values: the stored configuration, or what was sent when it was refused.
struct Values {
    issuer: String,
    client_id: String,
    display_name: String,
    claim: String,
    domains: String,
    required: bool,
}

async fn sso_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
    sent: Option<Values>,
) -> Result<Reply, AppError> {
    let cfg = sso::get(&s.svc, &p.scope).await?;
    let v = match (sent, &cfg) {
        (Some(v), _) => v,
        (None, Some(c)) => Values {
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            display_name: c.display_name.clone(),
            claim: c.claim.clone(),
            domains: c.domains.join("\n"),
            required: c.mode == sso_config::Mode::Required,
        },
        (None, None) => Values {
            issuer: String::new(),
            client_id: String::new(),
            display_name: String::new(),
            claim: "email".into(),
            domains: String::new(),
            required: false,
        },
    };
    Ok(page.html(
        status,
        &SsoPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok,
            error,
            configured: cfg.is_some(),
            secret_set: cfg.is_some(),
            issuer: v.issuer,
            client_id: v.client_id,
            display_name: v.display_name,
            claim: v.claim,
            domains: v.domains,
            required: v.required,
            redirect_uri: sso::redirect_uri(&s.svc),
        },
    ))
}

/// `GET /admin/sso`.
pub async fn sso_show(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let ok = match page.q("done") {
        Some("saved") => Some(page.say(
            "シングルサインオンの設定を保存しました。",
            "The single sign-on settings are saved.",
        )),
        Some("removed") => Some(page.say(
            "シングルサインオンを解除しました。全員がパスワードでログインします。",
            "Single sign-on is removed. Everyone signs in with a password.",
        )),
        _ => None,
    };
    sso_page(&s, &p, &page, StatusCode::OK, ok, None, None)
        .await
        .unwrap_or_else(|e| page.failure(e))
}

fn explain_sso(page: &Page, e: &AppError) -> Option<String> {
    let (ja, en) = match e {
        AppError::Invalid {
            field: Some("issuer"),
            ..
        } => (
            "発行者 (Issuer) は https:// で始まる URL で入力してください。",
            "The issuer must be an https:// URL.",
        ),
        AppError::Invalid {
            field: Some("client_id"),
            ..
        } => (
            "クライアント ID を入力してください。",
            "Enter the client ID.",
        ),
        AppError::Invalid {
            field: Some("client_secret"),
            ..
        } => (
            "クライアントシークレットを入力してください（最初の設定では必須です）。",
            "Enter the client secret (required the first time).",
        ),
        AppError::Invalid {
            field: Some("display_name"),
            ..
        } => (
            "表示名は 1 文字以上 100 文字以内で入力してください。",
            "The display name must have 1 to 100 characters.",
        ),
        AppError::Invalid {
            field: Some("claim"),
            ..
        } => (
            "識別に使うクレーム名は半角英数字と「_ . : -」で入力してください。",
            "The claim name may have letters, digits and _ . : - only.",
        ),
        AppError::Invalid {
            field: Some("allowed_domains"),
            ..
        } => (
            "許可するドメインは 1 行に 1 つ、example.co.jp の形で入力してください（50 件まで）。",
            "Allowed domains: one a line, like example.co.jp (at most 50).",
        ),
        AppError::Invalid { .. } => ("入力内容を確認してください。", "Check what you entered."),
        AppError::Conflict { .. } => (
            "ほかの管理者が同時に設定を変更しました。ページを開き直してください。",
            "Another admin changed the settings meanwhile. Open the page again.",
        ),
        AppError::NotFound(_) => (
            "シングルサインオンは設定されていません。",
            "Single sign-on is not configured.",
        ),
        _ => return None,
    };
    Some(page.say(ja, en))
}

/// `POST /admin/sso`: as `PUT /v1/tenant/sso`.
pub async fn sso_save(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let secret = form.text("client_secret");
    let domains = form.get("allowed_domains").unwrap_or("").to_owned();
    let input = sso::ConfigInput {
        issuer: form.text("issuer"),
        client_id: form.text("client_id"),
        client_secret: (!secret.is_empty()).then(|| SecretString::from(secret)),
        display_name: form.text("display_name"),
        claim: Some(form.text("claim")),
        allowed_domains: domains
            .split(['\n', ',', ' '])
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect(),
        mode: Some(form.text("mode")),
    };
    let sent = Values {
        issuer: input.issuer.clone(),
        client_id: input.client_id.clone(),
        display_name: input.display_name.clone(),
        claim: form.text("claim"),
        domains,
        required: form.get("mode") == Some("required"),
    };
    match sso::put(&s.svc, &p.scope, &p.authority(), input, ktime::now()).await {
        Ok(_) => page.redirect("/admin/sso?done=saved"),
        Err(e) => match explain_sso(&page, &e) {
            Some(msg) => {
                let status = if matches!(e, AppError::Conflict { .. }) {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::BAD_REQUEST
                };
                sso_page(&s, &p, &page, status, None, Some(msg), Some(sent))
                    .await
                    .unwrap_or_else(|e| page.failure(e))
            }
            None => page.failure(e),
        },
    }
}

/// `POST /admin/sso/delete`: as `DELETE /v1/tenant/sso`.
pub async fn sso_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    match sso::delete(&s.svc, &p.scope, &p.authority(), ktime::now()).await {
        Ok(()) => page.redirect("/admin/sso?done=removed"),
        Err(e) => match explain_sso(&page, &e) {
            Some(msg) => sso_page(&s, &p, &page, StatusCode::NOT_FOUND, None, Some(msg), None)
                .await
                .unwrap_or_else(|e| page.failure(e)),
            None => page.failure(e),
        },
    }
}
