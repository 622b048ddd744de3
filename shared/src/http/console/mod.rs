//! The admin console (issue 17): pages for an organisation's admins, server-rendered like the pages of
//! `http::pages` and working without JavaScript. Each page is a row of the route table with the access and
//! target of the API route it stands beside; the HTTP layer checks that access against the session cookie
//! (`pages::authorize`) before a handler runs, and the handlers call the same use cases as the API, so the
//! target rule (`app::access`) applies unchanged. A link or button is shown only when its route's access
//! and the target rule allow it; its POST is refused either way.
//!
//! One file per area of the console (`users.rs`: the list, registration, a user's page, deletion, the
//! export; `user_import.rs`: registration from a CSV file, its preview and a background import's progress;
//! `groups.rs`: groups and their members; `logs.rs`: the operation and mail logs); this file
//! holds what the areas share: the console's chrome, the sentences for refusals, the target rule as pages
//! read it.

use axum::http::StatusCode;

use crate::app::AppError;
use crate::app::access::{may_act_on, may_give};
use crate::app::principal::Principal;
use crate::app::records::user::UserRecord;
use crate::app::roles::RoleView;
use crate::http::pages::{Chrome, Page};
use crate::http::routes::may;

mod groups;
mod logs;
mod roles;
mod sign_in_policy;
mod sso;
mod user_import;
mod users;

pub use groups::*;
pub use logs::*;
pub use roles::*;
pub use sign_in_policy::*;
pub use sso::*;
pub use user_import::*;
pub use users::*;

/// The console's navigation: a link per area (the route that serves it, its path, Japanese, English),
/// shown only when the caller's role may open that route.
const NAV: &[(&str, &str, &str, &str)] = &[
    ("page-admin-users", "/admin/users", "ユーザー一覧", "Users"),
    ("page-admin-groups", "/admin/groups", "グループ", "Groups"),
    (
        "page-admin-audit-log",
        "/admin/audit-log",
        "操作ログ",
        "Operation log",
    ),
    (
        "page-admin-mail-log",
        "/admin/mail-log",
        "メール送信ログ",
        "Mail log",
    ),
    ("page-admin-roles", "/admin/roles", "ロールと権限", "Roles"),
    (
        "page-admin-default-role",
        "/admin/default-role",
        "既定のロール",
        "Default role",
    ),
    (
        "page-admin-sign-in-policy",
        "/admin/sign-in-policy",
        "サインインポリシー",
        "Sign-in policy",
    ),
    (
        "page-admin-sso",
        "/admin/sso",
        "シングルサインオン",
        "Single sign-on",
    ),
];

/// The console's areas the caller's role may open (path, name), for its navigation and the account page.
pub(crate) fn areas(page: &Page, p: &Principal) -> Vec<(&'static str, String)> {
    NAV.iter()
        .filter(|(route, ..)| may(route, p))
        .map(|(_, href, ja, en)| (*href, page.say(ja, en)))
        .collect()
}

impl Page {
    fn console(&self, p: &Principal) -> Chrome {
        let mut nav = vec![("/account", self.say("アカウント", "Your account"))];
        nav.extend(areas(self, p));
        Chrome {
            console: true,
            nav,
            ..self.chrome()
        }
    }
}

/// The user-facing sentence for a refusal a form can explain; `None` for failures no form fixes.
pub(super) fn explain(page: &Page, e: &AppError) -> Option<String> {
    if page.en {
        return match e {
            AppError::Invalid { .. }
            | AppError::DeliveryRequiresEmail
            | AppError::Conflict { .. }
            | AppError::TargetOutranksCaller
            | AppError::RoleOutranksCaller
            | AppError::Forbidden(_) => Some(e.to_string()),
            AppError::NotFound(_) => Some("This user no longer exists.".into()),
            _ => None,
        };
    }
    let ja = match e {
        AppError::Invalid {
            field: Some("name"),
            ..
        } => "氏名は 1 文字以上 100 文字以内で入力してください。",
        AppError::Invalid {
            field: Some("email"),
            ..
        } => "メールアドレスの形式が正しくありません。",
        AppError::Invalid {
            field: Some("login_id"),
            ..
        } => "ログイン ID は 64 文字以内の半角英数字と「.」「_」「-」で入力してください。",
        AppError::Invalid {
            field: Some("role_id"),
            ..
        } => "そのロールはありません。",
        AppError::Invalid { field: None, .. } => {
            "メールアドレスとログイン ID の少なくとも一方を入力してください。"
        }
        AppError::Invalid { .. } => "入力内容を確認してください。",
        AppError::DeliveryRequiresEmail => {
            "リンクをメールで送るには、メールアドレスが必要です。メールアドレスのないユーザーには「パスワードを発行」を選んでください。"
        }
        AppError::Conflict { code, .. } => match *code {
            "email_taken" => "このメールアドレスは、すでにほかのユーザーが使っています。",
            "login_id_taken" => "このログイン ID は、すでにほかのユーザーが使っています。",
            "seat_limit_reached" => {
                "契約のシートをすべて使っています。ユーザーを削除するか無効にするか、シートの追加をご依頼ください。"
            }
            "cannot_delete_self" => "自分自身は削除できません。",
            "cannot_disable_self" => "自分自身は無効にできません。",
            "user_disabled" => "このユーザーは無効です。先に有効にしてください。",
            "last_org_admin" => "組織管理者を 0 人にすることはできません。",
            "cannot_reset_self" => {
                "自分自身の二段階認証はここではリセットできません。アカウント画面の「二段階認証」から、パスワードを入力して解除してください。"
            }
            "mfa_not_enabled" => "このユーザーは二段階認証を使っていません。",
            _ => "ほかの操作と重なりました。もう一度お試しください。",
        },
        AppError::TargetOutranksCaller => {
            "このユーザーは組織管理者か、あなたより広い権限を持っているため変更できません。組織管理者に依頼してください。"
        }
        AppError::RoleOutranksCaller => {
            "このロールはあなたより広い権限を持っているため、付与できません。"
        }
        AppError::Forbidden(_) => "この操作の権限がありません。",
        AppError::NotFound(_) => "このユーザーはもう存在しません。",
        _ => return None,
    };
    Some(ja.to_owned())
}

/// The status of a refusal shown on a form.
pub(super) fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::TargetOutranksCaller | AppError::RoleOutranksCaller | AppError::Forbidden(_) => {
            StatusCode::FORBIDDEN
        }
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn grants_of<'a>(roles: &'a [RoleView], id: &str) -> Option<&'a RoleView> {
    roles.iter().find(|r| r.id == id)
}

pub(super) fn role_name(roles: &[RoleView], id: &str) -> String {
    grants_of(roles, id)
        .map(|r| r.name.clone())
        .unwrap_or_else(|| id.to_owned())
}

/// Whether the target rule lets the caller act on this account (a role that no longer exists grants
/// nothing, as `Authority::check_target` reads it).
pub(super) fn may_act(p: &Principal, roles: &[RoleView], u: &UserRecord) -> bool {
    let grants = grants_of(roles, &u.role_id)
        .map(|r| r.grants.clone())
        .unwrap_or_default();
    may_act_on(&p.grants, p.user.org_admin, &grants, u.org_admin)
}

/// The roles the caller may give (all of them for an org admin).
pub(super) fn givable(p: &Principal, roles: &[RoleView]) -> Vec<(String, String)> {
    roles
        .iter()
        .filter(|r| may_give(&p.grants, p.user.org_admin, &r.grants))
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect()
}
