//! The console's user pages: the list, registration, one user's page (role, org admin, credentials), deletion.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;

use super::{explain, givable, may_act, role_name, status_of};
use crate::app::csv_file::{ExcelEncoding, write_for_excel};
use crate::app::paging::{self, PageRequest};
use crate::app::principal::Principal;
use crate::app::records::tenant;
use crate::app::records::user;
use crate::app::records::user::{Delivery, NewUser, UserRecord};
use crate::app::users;
use crate::app::{AppError, auth, groups, roles};
use crate::domain::ids::{GroupId, UserId};
use crate::domain::time as ktime;
use crate::domain::values::{Email, LoginId, Name};
use crate::http::AppState;
use crate::http::extract::{Caller, PathId};
use crate::http::pages::{COPY_JS, Chrome, Form, Page, Reply, jst_minutes};
use crate::http::routes::may;

/// Users per page of the list.
const PAGE_SIZE: usize = 20;
/// Groups offered by the list's filter.
const GROUP_CHOICES: usize = 200;
/// Users one confirmation may delete (the API's bulk limit).
const DELETE_LIMIT: usize = crate::domain::values::BULK_LIMIT;

fn state_label(page: &Page, u: &UserRecord) -> String {
    match u.status {
        user::Status::Invited => {
            page.say("招待中（パスワード未設定）", "invited (no password yet)")
        }
        user::Status::Active if u.must_change_password => page.say(
            "有効（初回パスワード変更待ち）",
            "active (must change the first password)",
        ),
        user::Status::Active => page.say("有効", "active"),
        user::Status::Disabled => page.say(
            "無効（ログイン不可・席を使わない）",
            "disabled (no login, no seat)",
        ),
    }
}

fn contact(u: &UserRecord) -> String {
    u.email
        .clone()
        .or_else(|| u.login_id.clone())
        .unwrap_or_default()
}

// ---- the user list ------------------------------------------------------------------------------------

struct Row {
    id: String,
    name: String,
    contact: String,
    role: String,
    org_admin: bool,
    state: String,
    /// The target rule lets the caller act on this account: it gets a checkbox.
    actionable: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Chrome,
    ok: Option<String>,
    seats_used: i64,
    seat_limit: i64,
    q: String,
    group: String,
    groups: Vec<(String, String)>,
    rows: Vec<Row>,
    may_create: bool,
    /// The caller may register users from a CSV file.
    may_import: bool,
    may_delete: bool,
    /// The export of this list (its search or group), as UTF-8 and as CP932.
    export_href: String,
    export_sjis_href: String,
    first_href: Option<String>,
    next_href: Option<String>,
}

fn list_href(q: &str, group: &str, cursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    if !group.is_empty() {
        s.append_pair("group", group);
    }
    if let Some(c) = cursor {
        s.append_pair("cursor", c);
    }
    let qs = s.finish();
    if qs.is_empty() {
        "/admin/users".into()
    } else {
        format!("/admin/users?{qs}")
    }
}

/// `GET /admin/users`: search by name, e-mail or login id (`q`), or the members of a group (`group`), a
/// page at a time; the seats used of the contract.
pub async fn users_list(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    match users_list_page(&s, &p, &page).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

async fn users_list_page(s: &AppState, p: &Principal, page: &Page) -> Result<Reply, AppError> {
    let q = page.q("q").unwrap_or("").trim().to_owned();
    let group = page.q("group").unwrap_or("").to_owned();
    let cursor = page.q("cursor").filter(|c| !c.is_empty());
    let req = PageRequest::first(PAGE_SIZE).after(cursor);
    let gid = (!group.is_empty())
        .then(|| GroupId::parse(&group))
        .flatten();
    let listed = match &gid {
        Some(g) => {
            // A cursor this list did not give out starts it over.
            match paging::or_first_page(req, |r| groups::members(&s.svc, &p.scope, g, r)).await {
                Err(AppError::NotFound(_)) => paging::Page {
                    items: vec![],
                    next: None,
                },
                r => r?,
            }
        }
        None => {
            let q = (!q.is_empty()).then_some(q.as_str());
            paging::or_first_page(req, |r| users::list(&s.svc, &p.scope, r, q)).await?
        }
    };
    let tenant = tenant::load(&s.svc, &p.scope.tenant).await?;
    let roles = roles::list(&s.svc, &p.scope).await?;
    let group_choices = groups::list(&s.svc, &p.scope, PageRequest::first(GROUP_CHOICES), None)
        .await?
        .items
        .into_iter()
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let rows = listed
        .items
        .iter()
        .map(|u| Row {
            id: u.id.to_string(),
            name: u.name.clone(),
            contact: contact(u),
            role: role_name(&roles, &u.role_id),
            org_admin: u.org_admin,
            state: state_label(page, u),
            actionable: u.id != p.user.id && may_act(p, &roles, u),
        })
        .collect();
    let group = if gid.is_some() { group } else { String::new() };
    let ok = match page.q("done") {
        Some("deleted") => Some(if page.en {
            format!(
                "Deleted {} user(s).",
                page.q("n")
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0)
            )
        } else {
            format!(
                "{} 人のユーザーを削除しました。",
                page.q("n")
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0)
            )
        }),
        _ => None,
    };
    let next = listed.next;
    let export_href =
        list_href(&q, &group, None).replacen("/admin/users", "/admin/users/export", 1);
    let export_sjis_href = format!(
        "{export_href}{}encoding=cp932",
        if export_href.contains('?') { '&' } else { '?' }
    );
    Ok(page.html(
        StatusCode::OK,
        &UsersPage {
            c: page.console(p),
            ok,
            seats_used: tenant.seats_used,
            seat_limit: tenant.seat_limit,
            first_href: cursor.map(|_| list_href(&q, &group, None)),
            next_href: next.map(|n| list_href(&q, &group, Some(n.as_str()))),
            q,
            group,
            groups: group_choices,
            rows,
            may_create: may("page-admin-users-create", p),
            may_import: may("page-admin-users-import-post", p),
            may_delete: may("page-admin-users-delete-post", p),
            export_href,
            export_sjis_href,
        },
    ))
}

// ---- the export --------------------------------------------------------------------------------------

/// Users read per store page while exporting.
const EXPORT_PAGE: usize = 500;
/// The largest file the export writes: below Lambda's 6 MB response limit once base64-encoded (× 4/3).
const EXPORT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// `GET /admin/users/export`: the users of the list as it is filtered (`q` or `group`), as a CSV file that
/// Excel opens: UTF-8 with a BOM, or CP932 with `encoding=cp932`. The columns are the import's
/// (`name,email,login_id,role,groups`, so an edited file can be imported elsewhere once the extra columns are
/// removed) and then `org_admin,status,created`. Cells that look like formulas are escaped.
pub async fn users_export(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    match users_export_file(&s, &p, &page).await {
        Ok(r) => r,
        Err(e @ AppError::Invalid { .. }) => page.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.say("ファイルを作れませんでした", "The file could not be written"),
            vec![if page.en {
                e.to_string()
            } else {
                "Shift_JIS（CP932）で書けない文字（絵文字や一部の漢字など）を含むユーザーがいます。UTF-8 でダウンロードしてください。".to_owned()
            }],
            vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
        ),
        Err(AppError::Conflict { .. }) => page.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            page.say("ファイルが大きすぎます", "The file would be too large"),
            vec![page.say(
                "一度に書き出せるのは 4 MB までです。グループや検索で絞り込んでから、もう一度お試しください。",
                "One export holds at most 4 MB. Filter the list by a group or a search, then try again.",
            )],
            vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
        ),
        Err(e) => page.failure(e),
    }
}

async fn users_export_file(s: &AppState, p: &Principal, page: &Page) -> Result<Reply, AppError> {
    let q = page.q("q").unwrap_or("").trim().to_owned();
    let gid = page.q("group").and_then(GroupId::parse);
    let encoding = match page.q("encoding") {
        Some("cp932") => ExcelEncoding::Cp932,
        _ => ExcelEncoding::Utf8Bom,
    };
    let roles = roles::list(&s.svc, &p.scope).await?;
    let mut group_names = std::collections::HashMap::new();
    let mut req = PageRequest::first(EXPORT_PAGE);
    loop {
        let got = groups::list(&s.svc, &p.scope, req.clone(), None).await?;
        group_names.extend(got.items.into_iter().map(|g| (g.id.to_string(), g.name)));
        match got.next {
            Some(n) => req.after = Some(n),
            None => break,
        }
    }
    let mut rows = Vec::new();
    let mut size = 0usize;
    let mut req = PageRequest::first(EXPORT_PAGE);
    loop {
        let got = match &gid {
            Some(g) => groups::members(&s.svc, &p.scope, g, req.clone()).await?,
            None => {
                let q = (!q.is_empty()).then_some(q.as_str());
                users::list(&s.svc, &p.scope, req.clone(), q).await?
            }
        };
        for u in got.items {
            let row = vec![
                u.name.clone(),
                u.email.clone().unwrap_or_default(),
                u.login_id.clone().unwrap_or_default(),
                role_name(&roles, &u.role_id),
                u.group_ids
                    .iter()
                    .filter_map(|g| group_names.get(g).cloned())
                    .collect::<Vec<_>>()
                    .join(";"),
                if u.org_admin { "yes" } else { "no" }.to_owned(),
                u.status.as_str().to_owned(),
                ktime::jst_from_unix(u.created),
            ];
            size += row.iter().map(|c| c.len() + 3).sum::<usize>();
            if size > EXPORT_MAX_BYTES {
                return Err(AppError::conflict(
                    "export_too_large",
                    "the export is too large",
                ));
            }
            rows.push(row);
        }
        match got.next {
            Some(n) => req.after = Some(n),
            None => break,
        }
    }
    let bytes = write_for_excel(
        &[
            "name",
            "email",
            "login_id",
            "role",
            "groups",
            "org_admin",
            "status",
            "created",
        ],
        &rows,
        encoding,
    )?;
    Ok(page.download("users.csv", bytes))
}

// ---- registering a user (operations 8 and 9) ----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_user_new.html")]
struct NewUserPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    name: String,
    email: String,
    login_id: String,
    roles: Vec<(String, String)>,
    role: String,
    generated: bool,
}

#[derive(Template)]
#[template(path = "admin_user_created.html")]
struct CreatedPage {
    c: Chrome,
    /// A password re-issued for an existing user, not a new user's.
    reissued: bool,
    id: String,
    name: String,
    login: String,
    password: String,
    js: &'static str,
}

/// `GET /admin/users/new`: the registration form; the roles offered are those the caller may give.
pub async fn user_new(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let form = Form::empty();
    match new_user_form(&s, &p, &page, &form, StatusCode::OK, None).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

async fn new_user_form(
    s: &AppState,
    p: &Principal,
    page: &Page,
    form: &Form,
    status: StatusCode,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let roles = roles::list(&s.svc, &p.scope).await?;
    let role = match form.get("role") {
        Some(r) => r.to_owned(),
        None => tenant::load(&s.svc, &p.scope.tenant).await?.default_role_id,
    };
    Ok(page.html(
        status,
        &NewUserPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            error,
            name: form.text("name"),
            email: form.text("email"),
            login_id: form.text("login_id"),
            roles: givable(p, &roles),
            role,
            generated: form.get("delivery") == Some("generated"),
        },
    ))
}

/// `POST /admin/users`: registers the user as `POST /v1/users` does. A generated password is shown on the
/// answer to this POST only (never stored in clear, never shown again); a mailed link leads to the user's
/// page.
pub async fn user_create(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let parsed = (|| -> Result<NewUser, AppError> {
        let opt = |k: &str| Some(form.text(k)).filter(|v| !v.is_empty());
        Ok(NewUser {
            name: Name::parse("name", &form.text("name"))?,
            email: opt("email").as_deref().map(Email::parse).transpose()?,
            login_id: opt("login_id").as_deref().map(LoginId::parse).transpose()?,
            delivery: if form.get("delivery") == Some("generated") {
                Delivery::Generated
            } else {
                Delivery::InviteLink
            },
            role_id: opt("role"),
            org_admin: false,
            group_ids: vec![],
        })
    })();
    let created = match parsed {
        Ok(new) => users::create(&s.svc, &p.scope, &p.authority(), new, ktime::now()).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(c) => match c.initial_password {
            Some(pw) => page.html(
                StatusCode::CREATED,
                &CreatedPage {
                    c: page.console(&p),
                    reissued: false,
                    id: c.user.id.to_string(),
                    name: c.user.name.clone(),
                    login: contact(&c.user),
                    password: pw.expose_secret().to_owned(),
                    js: COPY_JS,
                },
            ),
            None => page.redirect(&format!("/admin/users/{}?done=invited", c.user.id)),
        },
        Err(e) => match explain(&page, &e) {
            Some(msg) => new_user_form(&s, &p, &page, &form, status_of(&e), Some(msg))
                .await
                .unwrap_or_else(|e| page.failure(e)),
            None => page.failure(e),
        },
    }
}

// ---- one user: details, role (12), organisation admin (15), first password or link (16) -----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    id: String,
    name: String,
    email: String,
    login_id: String,
    role: String,
    role_id: String,
    org_admin: bool,
    state: String,
    groups: String,
    created: String,
    /// The role form, when the caller may change this user's role: the roles they may give.
    role_options: Option<Vec<(String, String)>>,
    /// The caller may make this user an organisation admin or take it away (org admins only).
    may_org_admin: bool,
    /// Where the invitation stands, in words.
    invitation: String,
    /// The caller may re-issue the first password or link.
    may_reissue: bool,
    has_email: bool,
    may_delete: bool,
    /// The user is disabled (issue 18): the status form enables instead of disabling.
    disabled: bool,
    /// The caller may disable or enable this user (not themselves).
    may_set_status: bool,
    /// The user has an active second factor.
    mfa: bool,
    /// The caller may reset it (issue 22; not their own).
    may_reset_mfa: bool,
}

/// `GET /admin/users/{id}`.
pub async fn user_show(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
) -> Reply {
    let ok = match page.q("done") {
        Some("invited") => Some(page.say(
            "ユーザーを登録し、パスワード設定用のリンクをメールで送りました。",
            "The user is registered and has been mailed a link to set a password.",
        )),
        Some("role") => Some(page.say("ロールを変更しました。", "The role is changed.")),
        Some("reissued_link") => Some(page.say(
            "新しいリンクをメールで送りました。以前のリンクは使えなくなりました。",
            "A new link has been mailed. Earlier links no longer work.",
        )),
        Some("org_admin_on") => Some(page.say(
            "組織管理者にしました。",
            "The user is now an organisation admin.",
        )),
        Some("org_admin_off") => Some(page.say(
            "組織管理者から外しました。",
            "The user is no longer an organisation admin.",
        )),
        Some("disabled") => Some(page.say(
            "ユーザーを無効にしました。ログインできなくなり、シートが 1 つ空きました。",
            "The user is disabled: they can no longer sign in, and a seat is free.",
        )),
        Some("enabled") => Some(page.say(
            "ユーザーを有効にしました（シートを 1 つ使います）。",
            "The user is enabled again (using a seat).",
        )),
        Some("mfa_reset") => Some(page.say(
            "二段階認証をリセットしました。ユーザーには通知メールを送りました。次回はパスワードだけでログインできます。",
            "Two-step verification is reset and the user has been mailed. They can now sign in with their password alone.",
        )),
        _ => None,
    };
    match user_page(&s, &p, &page, &id, StatusCode::OK, ok, None).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

fn not_found(page: &Page) -> Reply {
    page.message(
        StatusCode::NOT_FOUND,
        page.say("ユーザーが見つかりません", "No such user"),
        vec![page.say(
            "このユーザーは存在しないか、削除されています。",
            "This user does not exist or has been deleted.",
        )],
        vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
    )
}

/// The answer to a refused action on one user's page: 404 for a user that is not there, the page again with
/// the reason when the refusal has one a person can act on, otherwise the failure page.
async fn action_refused(s: &AppState, p: &Principal, page: &Page, id: &str, e: AppError) -> Reply {
    if let AppError::NotFound(_) = e {
        return not_found(page);
    }
    match explain(page, &e) {
        Some(msg) => user_page(s, p, page, id, status_of(&e), None, Some(msg))
            .await
            .unwrap_or_else(|e| page.failure(e)),
        None => page.failure(e),
    }
}

async fn user_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    id: &str,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let Some(uid) = UserId::parse(id) else {
        return Ok(not_found(page));
    };
    let u = match user::load(&s.svc, &p.scope, &uid).await {
        Ok(u) => u,
        Err(AppError::NotFound(_)) => return Ok(not_found(page)),
        Err(e) => return Err(e),
    };
    let roles = roles::list(&s.svc, &p.scope).await?;
    let mut names = Vec::new();
    for g in &u.group_ids {
        match groups::load(&s.svc, &p.scope, &GroupId::from_stored(g.clone())).await {
            Ok(v) => names.push(v.name),
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let actionable = may_act(p, &roles, &u);
    let invitation = match auth::invitation(&s.svc, &p.scope, &u, ktime::now()).await? {
        auth::Invitation::Used => {
            page.say("使用済み（パスワード設定済み）", "used (a password is set)")
        }
        auth::Invitation::Pending { expires } => {
            if page.en {
                format!("waiting to be used, valid until {}", jst_minutes(expires))
            } else {
                format!("未使用（有効期限 {}）", jst_minutes(expires))
            }
        }
        auth::Invitation::Expired { expired } => {
            if page.en {
                format!("expired unused at {}", jst_minutes(expired))
            } else {
                format!("期限切れ（{} に失効）", jst_minutes(expired))
            }
        }
        auth::Invitation::None => page.say("有効なリンクはありません", "no link in force"),
    };
    let none = page.say("なし", "none");
    Ok(page.html(
        status,
        &UserPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok,
            error,
            id: u.id.to_string(),
            name: u.name.clone(),
            email: u.email.clone().unwrap_or_else(|| none.clone()),
            login_id: u.login_id.clone().unwrap_or_else(|| none.clone()),
            role: role_name(&roles, &u.role_id),
            role_id: u.role_id.clone(),
            org_admin: u.org_admin,
            state: state_label(page, &u),
            groups: if names.is_empty() {
                none
            } else {
                names.join(", ")
            },
            created: jst_minutes(
                time::OffsetDateTime::from_unix_timestamp(u.created)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            ),
            role_options: (actionable && may("page-admin-user-role-post", p))
                .then(|| givable(p, &roles)),
            // A disabled user gets neither credentials nor the flag (409 user_disabled): enable them first.
            may_org_admin: u.status != user::Status::Disabled
                && may("page-admin-user-org-admin-post", p),
            invitation,
            may_reissue: actionable
                && u.status != user::Status::Disabled
                && may("page-admin-user-credentials-post", p),
            has_email: u.email.is_some(),
            may_delete: actionable && u.id != p.user.id && may("page-admin-users-delete-post", p),
            disabled: u.status == user::Status::Disabled,
            may_set_status: actionable
                && u.id != p.user.id
                && may("page-admin-user-status-post", p),
            mfa: u.mfa,
            may_reset_mfa: actionable
                && u.mfa
                && u.id != p.user.id
                && may("page-admin-user-mfa-reset-post", p),
        },
    ))
}

/// `POST /admin/users/{id}/role`: as `PUT /v1/users/{id}/role`.
pub async fn user_role(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(uid) = UserId::parse(&id) else {
        return not_found(&page);
    };
    let role_id = form.text("role_id");
    match roles::assign(
        &s.svc,
        &p.scope,
        &p.authority(),
        &uid,
        &role_id,
        ktime::now(),
    )
    .await
    {
        Ok(_) => page.redirect(&format!("/admin/users/{id}?done=role")),
        Err(e) => action_refused(&s, &p, &page, &id, e).await,
    }
}

/// `POST /admin/users/{id}/org-admin` (operation 15): `on=1` as `PUT /v1/users/{id}/org-admin`, `on=0` as
/// `DELETE` (never the last one).
pub async fn user_org_admin(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(uid) = UserId::parse(&id) else {
        return not_found(&page);
    };
    let on = form.get("on") == Some("1");
    match roles::set_org_admin(&s.svc, &p.scope, &p.authority(), &uid, on, ktime::now()).await {
        Ok(_) => page.redirect(&format!(
            "/admin/users/{id}?done={}",
            if on { "org_admin_on" } else { "org_admin_off" }
        )),
        Err(e) => action_refused(&s, &p, &page, &id, e).await,
    }
}

/// `POST /admin/users/{id}/status`: `disable=1` as `POST /v1/users/{id}/disable`, `disable=0` as
/// `POST /v1/users/{id}/enable` (a seat must be free).
pub async fn user_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(uid) = UserId::parse(&id) else {
        return not_found(&page);
    };
    let disable = form.get("disable") == Some("1");
    match users::set_disabled(
        &s.svc,
        &p.scope,
        &p.authority(),
        &uid,
        disable,
        ktime::now(),
    )
    .await
    {
        Ok(_) => page.redirect(&format!(
            "/admin/users/{id}?done={}",
            if disable { "disabled" } else { "enabled" }
        )),
        Err(e) => action_refused(&s, &p, &page, &id, e).await,
    }
}

/// `POST /admin/users/{id}/mfa/reset` (issue 22): as `DELETE /v1/users/{id}/mfa`, once the form's
/// checkbox confirms it (a 400 page again without it, nothing changed).
pub async fn user_mfa_reset(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(uid) = UserId::parse(&id) else {
        return not_found(&page);
    };
    if form.get("confirm") != Some("1") {
        let e = page.say(
            "リセットするには、確認のチェックボックスをオンにしてください。",
            "Tick the confirmation box to reset.",
        );
        return user_page(&s, &p, &page, &id, StatusCode::BAD_REQUEST, None, Some(e))
            .await
            .unwrap_or_else(|e| page.failure(e));
    }
    match crate::app::mfa::reset(&s.svc, &p.scope, &p.authority(), &uid, ktime::now()).await {
        Ok(()) => page.redirect(&format!("/admin/users/{id}?done=mfa_reset")),
        Err(e) => action_refused(&s, &p, &page, &id, e).await,
    }
}

/// `POST /admin/users/{id}/credentials` (operation 16): as `POST /v1/users/{id}/credentials`. A new link
/// is mailed (earlier ones stop working); a new generated password is shown on this answer only.
pub async fn user_credentials(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(uid) = UserId::parse(&id) else {
        return not_found(&page);
    };
    let delivery = if form.get("delivery") == Some("generated") {
        Delivery::Generated
    } else {
        Delivery::InviteLink
    };
    let now = ktime::now();
    match users::reissue(&s.svc, &p.scope, &p.authority(), &uid, delivery, now).await {
        Ok(users::Reissued::Mailed) => {
            page.redirect(&format!("/admin/users/{id}?done=reissued_link"))
        }
        Ok(users::Reissued::Generated(pw)) => match user::load(&s.svc, &p.scope, &uid).await {
            Ok(u) => page.html(
                StatusCode::OK,
                &CreatedPage {
                    c: page.console(&p),
                    reissued: true,
                    id: u.id.to_string(),
                    name: u.name.clone(),
                    login: contact(&u),
                    password: pw.expose_secret().to_owned(),
                    js: COPY_JS,
                },
            ),
            Err(e) => page.failure(e),
        },
        Err(e) => action_refused(&s, &p, &page, &id, e).await,
    }
}

// ---- deleting users (operation 11) --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_users_delete.html")]
struct DeletePage {
    c: Chrome,
    csrf: String,
    ids: Vec<String>,
    users: Vec<(String, String)>,
}

/// `GET /admin/users/delete?id=…&id=…`: what is about to be deleted, and that it cannot be undone.
pub async fn users_delete_confirm(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
) -> Reply {
    let mut ids = page.q_all("id");
    ids.dedup();
    if ids.is_empty() || ids.len() > DELETE_LIMIT {
        return page.message(
            StatusCode::BAD_REQUEST,
            page.say("ユーザーを選んでください", "Choose the users first"),
            vec![if ids.is_empty() {
                page.say(
                    "削除するユーザーが選ばれていません。一覧でチェックを付けてから、もう一度お試しください。",
                    "No user is selected. Tick them in the list, then try again.",
                )
            } else {
                page.say(
                    "一度に削除できるのは 1000 人までです。",
                    "At most 1000 users can be deleted at once.",
                )
            }],
            vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
        );
    }
    let mut found = Vec::new();
    let mut shown = Vec::new();
    // The users in one batched read, shown in the order asked.
    let uids: Vec<UserId> = ids.iter().filter_map(|raw| UserId::parse(raw)).collect();
    let users = match crate::app::records::membership::existing_users(&s.svc, &p.scope, &uids).await
    {
        Ok(users) => users,
        Err(e) => return page.failure(e),
    };
    for raw in ids {
        if let Some(u) = users.get(&raw) {
            shown.push((u.name.clone(), contact(u)));
            found.push(raw);
        }
    }
    if found.is_empty() {
        return not_found(&page);
    }
    page.html(
        StatusCode::OK,
        &DeletePage {
            c: page.console(&p),
            csrf: page.session_form_token(),
            ids: found,
            users: shown,
        },
    )
}

/// `POST /admin/users/delete`: as `POST /v1/users/bulk-delete` (one id is a single deletion). All gone:
/// back to the list; otherwise a page saying which were not deleted and why.
pub async fn users_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let ids = form.all("id");
    if ids.is_empty() || ids.len() > DELETE_LIMIT {
        return page.redirect("/admin/users");
    }
    let (deleted, failed) =
        users::delete_many(&s.svc, &p.scope, &p.authority(), ids, ktime::now()).await;
    if failed.is_empty() {
        return page.redirect(&format!("/admin/users?done=deleted&n={}", deleted.len()));
    }
    // Names for the report: those not deleted are still there (one batched read; an id otherwise).
    let not_deleted: Vec<UserId> = failed
        .iter()
        .filter_map(|(raw, _)| UserId::parse(raw))
        .collect();
    let names: std::collections::HashMap<String, String> =
        crate::app::records::membership::existing_users(&s.svc, &p.scope, &not_deleted)
            .await
            .map(|users| users.into_iter().map(|(id, u)| (id, u.name)).collect())
            .unwrap_or_default();
    let mut lines = vec![if page.en {
        format!(
            "Deleted {} user(s). {} could not be deleted:",
            deleted.len(),
            failed.len()
        )
    } else {
        format!(
            "{} 人を削除しました。次の {} 人は削除できませんでした。",
            deleted.len(),
            failed.len()
        )
    }];
    // A failure no sentence explains (the store down) is a failure of the page.
    let mut failed = failed;
    if let Some(at) = failed.iter().position(|(_, e)| explain(&page, e).is_none()) {
        return page.failure(failed.swap_remove(at).1);
    }
    for (id, e) in &failed {
        let why = explain(&page, e).unwrap_or_default();
        let who = names.get(id).cloned().unwrap_or_else(|| id.clone());
        lines.push(format!("{who}: {why}"));
    }
    let status = status_of(&failed[0].1);
    page.message(
        status,
        page.say(
            "削除できなかったユーザーがあります",
            "Some users were not deleted",
        ),
        lines,
        vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
    )
}
