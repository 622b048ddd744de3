//! The console's role pages (issue 17, operations 13 and 14): what each role may do (the feature ×
//! view/edit table, open to every signed-in user as `GET /v1/roles` is), creating, changing and deleting a
//! custom role, and the role new users get by default. Each calls the use case of the API route it stands
//! beside (`app::roles::{list, create, update, delete, set_default}`); those routes are for organisation
//! admins, and so are these pages' forms.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use super::{explain, givable, role_name, status_of};
use crate::app::AppError;
use crate::app::principal::Principal;
use crate::app::records::tenant;
use crate::app::roles::{self, RoleView};
use crate::domain::ids::RoleId;
use crate::domain::permissions::{Feature, Grants, Level};
use crate::domain::time as ktime;
use crate::domain::values::Name;
use crate::http::AppState;
use crate::http::extract::{Caller, PathId};
use crate::http::pages::{Chrome, Form, Page, Reply};
use crate::http::routes::may;

/// A feature in words (Japanese, English), as the table and the form show it.
fn feature_label(page: &Page, f: Feature) -> String {
    let (ja, en) = match f {
        Feature::Settings => (
            "設定（ユーザー・グループ・ロール）",
            "Settings (users, groups, roles)",
        ),
        Feature::Materials => ("教材", "Materials"),
        Feature::SupplyChain => ("サプライチェーン", "Supply chain"),
        Feature::AuditLog => ("操作ログ", "Operation log"),
        Feature::Notices => ("お知らせ", "Notices"),
        Feature::Elearning => ("eラーニング", "E-learning"),
        Feature::PhishingTraining => ("標的型攻撃メール訓練", "Phishing drills"),
        Feature::SecurityAwareness => ("セキュリティアウェアネス", "Security awareness"),
        Feature::Surveys => ("アンケート", "Surveys"),
        Feature::Announcements => ("通知", "Announcements"),
        Feature::Incidents => ("インシデント管理", "Incidents"),
        Feature::AssetInventory => ("情報資産管理", "Asset inventory"),
        Feature::RiskManagement => ("リスクマネジメント", "Risk management"),
        Feature::InternalAudit => ("内部監査", "Internal audit"),
        Feature::SafetyConfirmation => ("安否確認", "Safety confirmation"),
        Feature::Policies => ("規程管理", "Policies"),
    };
    page.say(ja, en)
}

fn level_label(page: &Page, l: Option<Level>) -> String {
    match l {
        Some(Level::Edit) => page.say("編集", "edit"),
        Some(Level::View) => page.say("閲覧", "view"),
        None => "—".to_owned(),
    }
}

/// The sentence for a refusal of a role operation: the roles' own cases, then the console's.
fn explain_role(page: &Page, e: &AppError, default_role: bool) -> Option<String> {
    let (ja, en) = match e {
        AppError::Invalid {
            field: Some("name"),
            ..
        } => (
            "ロール名は 1 文字以上 100 文字以内で、制御文字を含めずに入力してください。",
            "A role name must be 1 to 100 characters, without control characters.",
        ),
        AppError::Invalid {
            field: Some("grants"),
            ..
        } => (
            "各機能の権限は「なし」「閲覧」「編集」から選んでください。",
            "Choose none, view or edit for each feature.",
        ),
        AppError::Conflict {
            code: "role_name_taken",
            ..
        } => (
            "この名前のロールはすでにあります（組み込みロールの名前も使えません）。",
            "A role with this name already exists (the built-in roles' names are taken too).",
        ),
        AppError::Conflict {
            code: "role_in_use",
            ..
        } if default_role => (
            "このロールは新しいユーザーに付与される既定のロールになっているため、削除できません。先に既定のロールを変更してください。",
            "This role is the default role of new users, so it cannot be deleted. Choose another default role first.",
        ),
        AppError::Conflict {
            code: "role_in_use",
            ..
        } => (
            "このロールを持つユーザーがいるため、削除できません。先にそのユーザーのロールを変更してください。",
            "Users still hold this role, so it cannot be deleted. Give them another role first.",
        ),
        AppError::Conflict {
            code: "conflict", ..
        } => (
            "ほかの操作でこのロールが変更されました。画面を開き直して、もう一度お試しください。",
            "Someone changed this role meanwhile. Open the page again and retry.",
        ),
        AppError::Forbidden(_) => (
            "組み込みロールは変更も削除もできません。",
            "Built-in roles can be neither changed nor deleted.",
        ),
        AppError::NotFound("role") => (
            "このロールはもう存在しません。",
            "This role no longer exists.",
        ),
        _ => return explain(page, e),
    };
    Some(page.say(ja, en))
}

fn back_to_roles(page: &Page) -> Vec<(&'static str, String)> {
    vec![("/admin/roles", page.say("ロール一覧へ", "The roles"))]
}

fn role_not_found(page: &Page) -> Reply {
    page.message(
        StatusCode::NOT_FOUND,
        page.say("ロールが見つかりません", "No such role"),
        vec![page.say(
            "このロールは存在しないか、削除されています。組み込みロールは変更できません。",
            "This role does not exist or has been deleted. Built-in roles cannot be changed.",
        )],
        back_to_roles(page),
    )
}

/// The custom role `id` of the caller's tenant, if there is one (built-in roles are not editable).
async fn custom_role(s: &AppState, p: &Principal, id: &str) -> Result<Option<RoleView>, AppError> {
    Ok(roles::list(&s.svc, &p.scope)
        .await?
        .into_iter()
        .find(|r| r.id == id && !r.builtin))
}

// ---- the feature × role table (operation 14) ----------------------------------------------------------

struct Column {
    id: String,
    name: String,
    builtin: bool,
    default: bool,
}

struct FeatureRow {
    key: &'static str,
    label: String,
    /// (role id, level in words) per column.
    cells: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage {
    c: Chrome,
    ok: Option<String>,
    columns: Vec<Column>,
    rows: Vec<FeatureRow>,
    /// The caller may create, change and delete custom roles (org admins).
    may_edit: bool,
    may_default: bool,
    default_name: String,
}

/// `GET /admin/roles`: each role's level on each feature; for org admins, the buttons to create, change
/// and delete custom roles and to change the default role.
pub async fn roles_list(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    match roles_page(&s, &p, &page).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

async fn roles_page(s: &AppState, p: &Principal, page: &Page) -> Result<Reply, AppError> {
    let all = roles::list(&s.svc, &p.scope).await?;
    let default = tenant::load(&s.svc, &p.scope.tenant).await?.default_role_id;
    let rows = Feature::ALL
        .iter()
        .map(|f| FeatureRow {
            key: f.as_str(),
            label: feature_label(page, *f),
            cells: all
                .iter()
                .map(|r| (r.id.clone(), level_label(page, r.grants.get(f).copied())))
                .collect(),
        })
        .collect();
    let ok = match page.q("done") {
        Some("created") => Some(page.say("ロールを作成しました。", "The role is created.")),
        Some("updated") => Some(page.say("ロールを変更しました。", "The role is changed.")),
        Some("deleted") => Some(page.say("ロールを削除しました。", "The role is deleted.")),
        _ => None,
    };
    Ok(page.html(
        StatusCode::OK,
        &RolesPage {
            c: page.console(p),
            ok,
            default_name: role_name(&all, &default),
            columns: all
                .iter()
                .map(|r| Column {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    builtin: r.builtin,
                    default: r.id == default,
                })
                .collect(),
            rows,
            may_edit: may("page-admin-roles-create", p),
            may_default: may("page-admin-default-role-post", p),
        },
    ))
}

// ---- creating and changing a custom role (operation 14) ------------------------------------------------

struct GrantRow {
    key: &'static str,
    label: String,
    /// "none", "view" or "edit".
    level: &'static str,
}

#[derive(Template)]
#[template(path = "admin_role_form.html")]
struct RoleFormPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    /// The role changed; `None` on the form that creates one.
    id: Option<String>,
    name: String,
    grants: Vec<GrantRow>,
}

fn level_key(l: Option<Level>) -> &'static str {
    l.map(Level::as_str).unwrap_or("none")
}

fn grant_rows(page: &Page, level_of: impl Fn(Feature) -> &'static str) -> Vec<GrantRow> {
    Feature::ALL
        .iter()
        .map(|f| GrantRow {
            key: f.as_str(),
            label: feature_label(page, *f),
            level: level_of(*f),
        })
        .collect()
}

/// The form again, as it was posted, with the reason it was refused.
fn form_again(
    page: &Page,
    p: &Principal,
    id: Option<String>,
    form: &Form,
    status: StatusCode,
    error: String,
) -> Reply {
    page.html(
        status,
        &RoleFormPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            error: Some(error),
            id,
            name: form.text("name"),
            grants: grant_rows(page, |f| match form.get(&format!("g_{}", f.as_str())) {
                Some("view") => "view",
                Some("edit") => "edit",
                _ => "none",
            }),
        },
    )
}

/// The grants a form gives: `g_<feature>` is `none`, `view` or `edit` (absent is none). Anything else is
/// refused as the API refuses an unknown level (400, field `grants`).
fn form_grants(form: &Form) -> Result<Grants, AppError> {
    let mut g = Grants::new();
    for f in Feature::ALL {
        match form.get(&format!("g_{}", f.as_str())) {
            None | Some("none") => {}
            Some(v) => {
                let level = Level::parse(v).ok_or_else(|| {
                    AppError::invalid(
                        "grants",
                        format!("level of {} must be view or edit", f.as_str()),
                    )
                })?;
                g.insert(*f, level);
            }
        }
    }
    Ok(g)
}

/// `GET /admin/roles/new`: the form to create a custom role (every feature at none to begin with).
pub async fn role_new(Caller(p): Caller, page: Page) -> Reply {
    page.html(
        StatusCode::OK,
        &RoleFormPage {
            c: page.console(&p),
            csrf: page.session_form_token(),
            error: None,
            id: None,
            name: String::new(),
            grants: grant_rows(&page, |_| "none"),
        },
    )
}

/// `POST /admin/roles`: as `POST /v1/roles`.
pub async fn role_create(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let made = match (
        Name::parse("name", &form.text("name")).map_err(AppError::from),
        form_grants(&form),
    ) {
        (Ok(name), Ok(grants)) => {
            roles::create(&s.svc, &p.scope, &p.authority(), name, grants, ktime::now()).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match made {
        Ok(_) => page.redirect("/admin/roles?done=created"),
        Err(e) => match explain_role(&page, &e, false) {
            Some(msg) => form_again(&page, &p, None, &form, status_of(&e), msg),
            None => page.failure(e),
        },
    }
}

/// `GET /admin/roles/{id}`: the form to rename a custom role or change its grants.
pub async fn role_edit(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
) -> Reply {
    let role = match custom_role(&s, &p, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return role_not_found(&page),
        Err(e) => return page.failure(e),
    };
    page.html(
        StatusCode::OK,
        &RoleFormPage {
            c: page.console(&p),
            csrf: page.session_form_token(),
            error: None,
            id: Some(role.id.clone()),
            name: role.name.clone(),
            grants: grant_rows(&page, |f| level_key(role.grants.get(&f).copied())),
        },
    )
}

/// `POST /admin/roles/{id}`: as `PATCH /v1/roles/{id}` with the name and every grant.
pub async fn role_update(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let changed = match (
        Name::parse("name", &form.text("name")).map_err(AppError::from),
        form_grants(&form),
    ) {
        (Ok(name), Ok(grants)) => {
            let Some(id) = RoleId::parse(&id) else {
                return role_not_found(&page);
            };
            roles::update(
                &s.svc,
                &p.scope,
                &p.authority(),
                &id,
                Some(name),
                Some(grants),
                ktime::now(),
            )
            .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match changed {
        Ok(_) => page.redirect("/admin/roles?done=updated"),
        Err(AppError::NotFound(_)) => role_not_found(&page),
        Err(e) => match explain_role(&page, &e, false) {
            Some(msg) => form_again(&page, &p, Some(id), &form, status_of(&e), msg),
            None => page.failure(e),
        },
    }
}

// ---- deleting a custom role ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_role_delete.html")]
struct RoleDeletePage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    id: String,
    name: String,
}

/// `GET /admin/roles/{id}/delete`: what is about to be deleted, and that it cannot be undone.
pub async fn role_delete_confirm(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
) -> Reply {
    match custom_role(&s, &p, &id).await {
        Ok(Some(r)) => page.html(
            StatusCode::OK,
            &RoleDeletePage {
                c: page.console(&p),
                csrf: page.session_form_token(),
                error: None,
                id: r.id,
                name: r.name,
            },
        ),
        Ok(None) => role_not_found(&page),
        Err(e) => page.failure(e),
    }
}

/// `POST /admin/roles/{id}/delete`: as `DELETE /v1/roles/{id}`; refused while anyone holds the role or it
/// is the default, with the reason on the confirmation page.
pub async fn role_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(role) = RoleId::parse(&id) else {
        return role_not_found(&page);
    };
    let e = match roles::delete(&s.svc, &p.scope, &p.actor(), &role, ktime::now()).await {
        Ok(()) => return page.redirect("/admin/roles?done=deleted"),
        Err(AppError::NotFound(_)) => return role_not_found(&page),
        Err(e) => e,
    };
    // Which of the two reasons the app's refusal had, for the sentence: is the role the default?
    let default = match tenant::load(&s.svc, &p.scope.tenant).await {
        Ok(t) => t.default_role_id == id,
        Err(e) => return page.failure(e),
    };
    let Some(msg) = explain_role(&page, &e, default) else {
        return page.failure(e);
    };
    match custom_role(&s, &p, &id).await {
        Ok(Some(r)) => page.html(
            status_of(&e),
            &RoleDeletePage {
                c: page.console(&p),
                csrf: page.session_form_token(),
                error: Some(msg),
                id: r.id,
                name: r.name,
            },
        ),
        Ok(None) => role_not_found(&page),
        Err(e) => page.failure(e),
    }
}

// ---- the default role (operation 13) -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_default_role.html")]
struct DefaultRolePage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    current: String,
    current_id: String,
    /// The roles the caller may give (all of them for an org admin).
    options: Vec<(String, String)>,
}

async fn default_role_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let all = roles::list(&s.svc, &p.scope).await?;
    let current_id = tenant::load(&s.svc, &p.scope.tenant).await?.default_role_id;
    Ok(page.html(
        status,
        &DefaultRolePage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok,
            error,
            current: role_name(&all, &current_id),
            current_id,
            options: givable(p, &all),
        },
    ))
}

/// `GET /admin/default-role`: the role new users get when none is named, and the form to change it.
pub async fn default_role(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let ok = (page.q("done") == Some("changed")).then(|| {
        page.say(
            "既定のロールを変更しました。これから登録するユーザーに付与されます。",
            "The default role is changed. Users registered from now on get it.",
        )
    });
    default_role_page(&s, &p, &page, StatusCode::OK, ok, None)
        .await
        .unwrap_or_else(|e| page.failure(e))
}

/// `POST /admin/default-role`: as `PUT /v1/tenant/default-role` (the role rule of `app::access` holds).
pub async fn default_role_post(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let role_id = form.text("role_id");
    match roles::set_default(&s.svc, &p.scope, &p.authority(), &role_id, ktime::now()).await {
        Ok(()) => page.redirect("/admin/default-role?done=changed"),
        Err(e) => match explain_role(&page, &e, false) {
            Some(msg) => default_role_page(&s, &p, &page, status_of(&e), None, Some(msg))
                .await
                .unwrap_or_else(|e| page.failure(e)),
            None => page.failure(e),
        },
    }
}
