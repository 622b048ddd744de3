//! The console's sign-in policy page (issue 22): the tenant's second-factor requirement, minimum password
//! length, session lifetime and idle timeout, and IP allow-list, for organisation admins, beside
//! `GET/PUT /v1/tenant/sign-in-policy` and calling the same use case (`app::sign_in_policy::put`). A list
//! that would shut out the admin's own address is saved only once they tick the confirmation.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppError;
use crate::app::principal::Principal;
use crate::app::records::policy;
use crate::app::records::policy::SignInPolicy;
use crate::app::sign_in_policy::{self, PolicyInput};
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::Caller;
use crate::http::pages::{Chrome, Form, Page, Reply};

#[derive(Template)]
#[template(path = "admin_sign_in_policy.html")]
struct PolicyPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    /// The form's values: the stored policy, or what was sent when it was refused.
    second_factor: String,
    password_min_length: String,
    session_lifetime: String,
    idle_timeout: String,
    ip_allowlist: String,
    /// The caller's own address, as the allow-list checks it.
    my_ip: String,
    /// The list shown does not contain the caller's address.
    excludes_me: bool,
    /// The last save was refused as a self-lockout: show the confirmation box.
    confirm: bool,
    service_lifetime: i64,
    min_floor: usize,
    min_max: usize,
}

fn values_of(p: &SignInPolicy) -> [String; 5] {
    [
        p.second_factor.as_str().to_owned(),
        p.min_password_chars().to_string(),
        p.session_lifetime_minutes
            .map(|m| m.to_string())
            .unwrap_or_default(),
        p.idle_timeout_minutes
            .map(|m| m.to_string())
            .unwrap_or_default(),
        p.ip_allowlist
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    ]
}

#[allow(clippy::too_many_arguments)]
fn policy_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    status: StatusCode,
    values: [String; 5],
    excludes_me: bool,
    confirm: bool,
    ok: Option<String>,
    error: Option<String>,
) -> Reply {
    let [
        second_factor,
        password_min_length,
        session_lifetime,
        idle_timeout,
        ip_allowlist,
    ] = values;
    page.html(
        status,
        &PolicyPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok,
            error,
            second_factor,
            password_min_length,
            session_lifetime,
            idle_timeout,
            ip_allowlist,
            my_ip: page.ip.clone(),
            excludes_me,
            confirm,
            service_lifetime: s.svc.settings.session_ttl.whole_minutes(),
            min_floor: crate::domain::values::Password::MIN_CHARS,
            min_max: policy::PASSWORD_MIN_LENGTH_MAX,
        },
    )
}

/// `GET /admin/sign-in-policy`: the policy now, and the form to change it.
pub async fn sign_in_policy(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    // As read with the session, in this request.
    let policy = p.policy.clone();
    let ok = (page.q("done") == Some("saved")).then(|| {
        page.say(
            "サインインポリシーを保存しました。ログイン中のユーザーにも、次の操作から適用されます。",
            "The sign-in policy is saved. It applies to signed-in users from their next request.",
        )
    });
    let excludes_me = !policy.allows_ip(&page.ip);
    policy_page(
        &s,
        &p,
        &page,
        StatusCode::OK,
        values_of(&policy),
        excludes_me,
        false,
        ok,
        None,
    )
}

/// A whole number from a form field; empty is `None` where `optional`.
fn number(form: &Form, name: &'static str, optional: bool) -> Result<Option<i64>, AppError> {
    let raw = form.text(name);
    let raw = raw.trim();
    if raw.is_empty() && optional {
        return Ok(None);
    }
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| AppError::invalid(name, format!("{name} must be a whole number")))
}

fn input_of(form: &Form) -> Result<PolicyInput, AppError> {
    Ok(PolicyInput {
        second_factor: form.text("second_factor"),
        password_min_length: number(form, "password_min_length", false)?.unwrap_or(0),
        session_lifetime_minutes: number(form, "session_lifetime_minutes", true)?,
        idle_timeout_minutes: number(form, "idle_timeout_minutes", true)?,
        ip_allowlist: form
            .text("ip_allowlist")
            .split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        confirm_self_lockout: form.get("confirm_self_lockout").is_some(),
    })
}

/// What a refused policy is told, in the page's language.
fn explain(page: &Page, e: &AppError) -> Option<String> {
    let msg = e.to_string();
    let (ja, en): (String, String) = match e {
        AppError::Invalid { field, .. } => {
            let ja = match *field {
                Some("second_factor") => "二段階認証の設定を選んでください。".to_owned(),
                Some("password_min_length") => format!(
                    "パスワードの最小文字数は {} から {} の整数で入力してください。",
                    crate::domain::values::Password::MIN_CHARS,
                    policy::PASSWORD_MIN_LENGTH_MAX
                ),
                Some("session_lifetime_minutes") => {
                    "セッションの有効期間は 15 分から 43200 分（30 日）の整数で入力するか、空欄にしてください。"
                        .to_owned()
                }
                Some("idle_timeout_minutes") => {
                    "無操作タイムアウトは 5 分から 1440 分（1 日）の整数で、セッションの有効期間より短くしてください（なしにするには空欄）。"
                        .to_owned()
                }
                Some("ip_allowlist") => format!(
                    "IP 許可リストに読み取れない行があります。203.0.113.0/24 や 2001:db8::/32 の形で入力してください（{msg}）。"
                ),
                _ => "入力内容を確認してください。".to_owned(),
            };
            (ja, msg.clone())
        }
        AppError::Conflict {
            code: "self_lockout",
            ..
        } => (
            format!(
                "この IP 許可リストには、あなたの現在のアドレス（{}）が含まれていません。保存すると、あなた自身もすぐに利用できなくなります。自分のネットワークを追加するか、理解したうえで下の確認欄にチェックを入れて保存してください。",
                page.ip
            ),
            format!(
                "This allow-list does not contain your current address ({}). Saving it shuts you out at once. Add your network, or tick the confirmation below to save it anyway.",
                page.ip
            ),
        ),
        _ => return None,
    };
    Some(if page.en { en } else { ja })
}

/// `POST /admin/sign-in-policy`: as `PUT /v1/tenant/sign-in-policy`.
pub async fn sign_in_policy_post(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let sent = [
        form.text("second_factor"),
        form.text("password_min_length"),
        form.text("session_lifetime_minutes"),
        form.text("idle_timeout_minutes"),
        form.text("ip_allowlist"),
    ];
    let result = match input_of(&form) {
        Ok(input) => {
            sign_in_policy::put(&s.svc, &p.scope, &p.actor(), &input, &page.ip, ktime::now()).await
        }
        Err(e) => Err(e),
    };
    match result {
        // The admin may have shut themselves out knowingly: the next page says so.
        Ok(_) => page.redirect("/admin/sign-in-policy?done=saved"),
        Err(e) => match explain(&page, &e) {
            Some(msg) => {
                let lockout = matches!(
                    e,
                    AppError::Conflict {
                        code: "self_lockout",
                        ..
                    }
                );
                let status = if lockout {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::BAD_REQUEST
                };
                policy_page(
                    &s,
                    &p,
                    &page,
                    status,
                    sent,
                    lockout,
                    lockout,
                    None,
                    Some(msg),
                )
            }
            None => page.failure(e),
        },
    }
}
