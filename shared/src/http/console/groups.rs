//! The console's group pages (issue 17, operations 1-7): the list, creating one group, several by typed
//! names, or from a CSV file; one group's page (rename, add and remove members); deleting one or several.
//! Each calls the use case of the API route it stands beside (`app::groups`, `app::imports::import_groups`).

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;

use super::{explain, status_of};
use crate::app::groups::{self, GroupView, MemberFailure};
use crate::app::paging::{self, PageRequest};
use crate::app::principal::Principal;
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::users;
use crate::app::{AppError, imports};
use crate::domain::ids::GroupId;
use crate::domain::time as ktime;
use crate::domain::values::BULK_LIMIT;
use crate::domain::values::Name;
use crate::http::AppState;
use crate::http::extract::{Caller, PathId};
use crate::http::pages::{Chrome, Form, Page, Reply, jst_minutes};
use crate::http::routes::may;

/// Groups per page of the list.
const PAGE_SIZE: usize = 50;
/// Members, and users offered to add, per page of a group's page.
const MEMBERS_PAGE: usize = 20;

/// The sentence for a refusal of a group operation: the group's own cases, then the console's.
fn explain_group(page: &Page, e: &AppError) -> Option<String> {
    let (ja, en) = match e {
        AppError::Invalid {
            field: Some("name" | "names" | "group_name"),
            ..
        } => (
            "グループ名は 1 文字以上 100 文字以内で、制御文字を含めずに入力してください。"
                .to_owned(),
            "A group name must be 1 to 100 characters, without control characters.".to_owned(),
        ),
        AppError::Invalid {
            field: Some("file"),
            message,
        } => (
            format!(
                "CSV ファイルを読めませんでした（{message}）。1 行目を見出し group_name,members とし、UTF-8 か Shift_JIS（CP932）で保存してください。"
            ),
            format!(
                "The CSV file could not be read ({message}). Its first row must be the header group_name,members, saved as UTF-8 or Shift_JIS (CP932)."
            ),
        ),
        AppError::Invalid {
            field: Some("members"),
            message,
        } => (
            format!(
                "グループは登録しましたが、メンバーの一部を追加できませんでした（{message}）。"
            ),
            format!("The group is there, but some members were not added ({message})."),
        ),
        AppError::Conflict {
            code: "group_name_taken",
            ..
        } => (
            "この名前のグループはすでにあります。".to_owned(),
            "A group with this name already exists.".to_owned(),
        ),
        AppError::Conflict {
            code: "not_a_member",
            ..
        } => (
            "このユーザーはグループのメンバーではありません。".to_owned(),
            "This user is not a member of the group.".to_owned(),
        ),
        AppError::NotFound("group") => (
            "このグループはもう存在しません。".to_owned(),
            "This group no longer exists.".to_owned(),
        ),
        _ => return explain(page, e),
    };
    Some(if page.en { en } else { ja })
}

fn contact(u: &UserRecord) -> String {
    u.email
        .clone()
        .or_else(|| u.login_id.clone())
        .unwrap_or_default()
}

/// A group's time as the console shows times: JST, to the minute.
fn when(rfc3339: &str) -> String {
    ktime::parse_rfc3339(rfc3339)
        .map(jst_minutes)
        .unwrap_or_else(|| rfc3339.to_owned())
}

fn count(page: &Page) -> usize {
    page.q("n").and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn back_to_list(page: &Page) -> Vec<(&'static str, String)> {
    vec![("/admin/groups", page.say("グループ一覧へ", "The groups"))]
}

fn group_not_found(page: &Page) -> Reply {
    page.message(
        StatusCode::NOT_FOUND,
        page.say("グループが見つかりません", "No such group"),
        vec![page.say(
            "このグループは存在しないか、削除されています。",
            "This group does not exist or has been deleted.",
        )],
        back_to_list(page),
    )
}

// ---- the group list ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    c: Chrome,
    ok: Option<String>,
    q: String,
    rows: Vec<GroupView>,
    may_create: bool,
    may_delete: bool,
    first_href: Option<String>,
    next_href: Option<String>,
}

fn list_href(q: &str, cursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    if let Some(c) = cursor {
        s.append_pair("cursor", c);
    }
    let qs = s.finish();
    if qs.is_empty() {
        "/admin/groups".into()
    } else {
        format!("/admin/groups?{qs}")
    }
}

/// `GET /admin/groups`: the groups a page at a time, by name prefix (`q`), with their member counts.
pub async fn groups_list(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    let q = page.q("q").unwrap_or("").trim().to_owned();
    let cursor = page.q("cursor").filter(|c| !c.is_empty());
    // A cursor this list did not give out starts it over.
    let req = PageRequest::first(PAGE_SIZE).after(cursor);
    let listed = match paging::or_first_page(req, |r| {
        groups::list(&s.svc, &p.scope, r, (!q.is_empty()).then_some(q.as_str()))
    })
    .await
    {
        Ok(l) => l,
        Err(e) => return page.failure(e),
    };
    let n = count(&page);
    let ok = match page.q("done") {
        Some("created") => Some(if page.en {
            format!("Created {n} group(s).")
        } else {
            format!("{n} 件のグループを作成しました。")
        }),
        Some("deleted") => Some(if page.en {
            format!("Deleted {n} group(s).")
        } else {
            format!("{n} 件のグループを削除しました。")
        }),
        _ => None,
    };
    page.html(
        StatusCode::OK,
        &GroupsPage {
            c: page.console(&p),
            ok,
            first_href: cursor.map(|_| list_href(&q, None)),
            next_href: listed.next.map(|n| list_href(&q, Some(n.as_str()))),
            q,
            rows: listed
                .items
                .into_iter()
                .map(|g| GroupView {
                    updated_at: when(&g.updated_at),
                    ..g
                })
                .collect(),
            may_create: may("page-admin-groups-create", &p),
            may_delete: may("page-admin-groups-delete-post", &p),
        },
    )
}

// ---- creating one group (operation 1) -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_group_new.html")]
struct NewGroupPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    name: String,
}

fn new_group_form(
    page: &Page,
    p: &Principal,
    status: StatusCode,
    name: String,
    error: Option<String>,
) -> Reply {
    page.html(
        status,
        &NewGroupPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            error,
            name,
        },
    )
}

/// `GET /admin/groups/new`.
pub async fn group_new(Caller(p): Caller, page: Page) -> Reply {
    new_group_form(&page, &p, StatusCode::OK, String::new(), None)
}

/// `POST /admin/groups`: as `POST /v1/groups`; then the group's page, to add members.
pub async fn group_create(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let raw = form.text("name");
    let created = match Name::parse("name", &raw) {
        Ok(name) => groups::create(&s.svc, &p.scope, &p.actor(), name, ktime::now()).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(g) => page.redirect(&format!("/admin/groups/{}?done=created", g.id)),
        Err(e) => match explain_group(&page, &e) {
            Some(msg) => new_group_form(&page, &p, status_of(&e), raw, Some(msg)),
            None => page.failure(e),
        },
    }
}

// ---- creating several by typed names (operation 2) ----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_groups_bulk.html")]
struct BulkPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    /// `line: name — why` of each name not created.
    failed: Vec<String>,
    names: String,
    limit: usize,
}

struct BulkAnswer {
    ok: Option<String>,
    error: Option<String>,
    failed: Vec<String>,
    names: String,
}

fn bulk_form(page: &Page, p: &Principal, status: StatusCode, a: BulkAnswer) -> Reply {
    page.html(
        status,
        &BulkPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok: a.ok,
            error: a.error,
            failed: a.failed,
            names: a.names,
            limit: BULK_LIMIT,
        },
    )
}

/// `GET /admin/groups/bulk`: a box for names, one a line.
pub async fn groups_bulk(Caller(p): Caller, page: Page) -> Reply {
    bulk_form(
        &page,
        &p,
        StatusCode::OK,
        BulkAnswer {
            ok: None,
            error: None,
            failed: vec![],
            names: String::new(),
        },
    )
}

/// (line number, name) of each non-blank line of the box, trimmed.
fn typed_names(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// `POST /admin/groups/bulk`: as `POST /v1/groups/bulk`, one name a line (blank lines skipped). All
/// created: back to the list; otherwise the form again with what was created, each line not created and
/// why, and those lines left in the box to fix.
pub async fn groups_bulk_create(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let text = form.get("names").unwrap_or("").to_owned();
    let lines = typed_names(&text);
    let refuse = |ja: &str, en: &str| {
        bulk_form(
            &page,
            &p,
            StatusCode::BAD_REQUEST,
            BulkAnswer {
                ok: None,
                error: Some(page.say(ja, en)),
                failed: vec![],
                names: text.clone(),
            },
        )
    };
    if lines.is_empty() {
        return refuse(
            "グループ名を 1 行に 1 つずつ入力してください。",
            "Type the group names, one a line.",
        );
    }
    if lines.len() > BULK_LIMIT {
        return refuse(
            "一度に作成できるのは 1000 件までです。",
            "At most 1000 groups can be created at once.",
        );
    }
    let names = lines.iter().map(|(_, n)| n.clone()).collect();
    let (created, failed) =
        match groups::create_many(&s.svc, &p.scope, &p.actor(), names, ktime::now()).await {
            Ok(r) => r,
            Err(e) => return page.failure(e),
        };
    if failed.is_empty() {
        return page.redirect(&format!("/admin/groups?done=created&n={}", created.len()));
    }
    // A failure no sentence explains (the store down) is a failure of the page.
    let mut failed = failed;
    if let Some(at) = failed
        .iter()
        .position(|f| explain_group(&page, &f.error).is_none())
    {
        return page.failure(failed.swap_remove(at).error);
    }
    let mut why = Vec::new();
    for f in &failed {
        let reason = explain_group(&page, &f.error).unwrap_or_default();
        let line = lines.get(f.index).map(|(l, _)| *l).unwrap_or(f.index + 1);
        why.push(if page.en {
            format!("Line {line} \u{201c}{}\u{201d}: {reason}", f.name)
        } else {
            format!("{line} 行目「{}」: {reason}", f.name)
        });
    }
    let status = if created.is_empty() {
        status_of(&failed[0].error)
    } else {
        StatusCode::OK
    };
    let left: Vec<&str> = failed
        .iter()
        .filter_map(|f| lines.get(f.index).map(|(_, n)| n.as_str()))
        .collect();
    bulk_form(
        &page,
        &p,
        status,
        BulkAnswer {
            ok: (!created.is_empty()).then(|| {
                if page.en {
                    format!("Created {} group(s).", created.len())
                } else {
                    format!("{} 件のグループを作成しました。", created.len())
                }
            }),
            error: Some(if page.en {
                format!(
                    "{} line(s) were not created. They are left in the box below: fix them and send again.",
                    failed.len()
                )
            } else {
                format!(
                    "次の {} 行は作成できませんでした。下の欄に残しましたので、直してからもう一度送信してください。",
                    failed.len()
                )
            }),
            failed: why,
            names: left.join("\n"),
        },
    )
}

// ---- creating groups from a CSV file (operation 3) ----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_groups_import.html")]
struct ImportPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    /// The report of an import that ran: groups created, groups that existed, and each row's problem.
    report: Option<ImportReport>,
}

struct ImportReport {
    created: usize,
    updated: usize,
    failed: Vec<(u64, String)>,
}

fn import_form(
    page: &Page,
    p: &Principal,
    status: StatusCode,
    error: Option<String>,
    report: Option<ImportReport>,
) -> Reply {
    page.html(
        status,
        &ImportPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            error,
            report,
        },
    )
}

/// `GET /admin/groups/import`: the file form and the file's format.
pub async fn groups_import(Caller(p): Caller, page: Page) -> Reply {
    import_form(&page, &p, StatusCode::OK, None, None)
}

/// The form's fields: the CSRF token and the file's bytes (a multipart body, as a browser sends a file).
/// A body that cannot be read answers its status (413 past the body limit).
async fn upload(mut m: Multipart) -> Result<(Form, Vec<u8>), StatusCode> {
    let (mut fields, mut file) = (Vec::new(), Vec::new());
    while let Some(field) = m.next_field().await.map_err(|e| e.status())? {
        match field.name() {
            Some("file") => file = field.bytes().await.map_err(|e| e.status())?.to_vec(),
            Some(name) => {
                let name = name.to_owned();
                fields.push((name, field.text().await.map_err(|e| e.status())?));
            }
            None => {}
        }
    }
    Ok((Form::from_pairs(fields), file))
}

/// `POST /admin/groups/import`: as `POST /v1/groups/import`. A file that cannot be read is refused
/// whole (nothing written); otherwise the report: groups created, groups that existed (members added),
/// and each row that had a problem, by line.
pub async fn groups_import_post(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    body: Result<Multipart, MultipartRejection>,
) -> Reply {
    let parsed = match body {
        Ok(m) => upload(m).await,
        Err(e) => Err(e.status()),
    };
    // Nothing is written before the form's token is checked; a body that could not be read is only
    // answered with the form again.
    let (form, file) = match parsed {
        Ok(r) => r,
        Err(status) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            return import_form(
                &page,
                &p,
                status,
                Some(page.say(
                    "ファイルが大きすぎます。1 回に登録できるのは 1 MB までです。ファイルを分けてください。",
                    "The file is too large: at most 1 MB at a time. Split it into several files.",
                )),
                None,
            );
        }
        Err(_) => {
            return import_form(
                &page,
                &p,
                StatusCode::BAD_REQUEST,
                Some(page.say(
                    "ファイルを受け取れませんでした。ファイルを選び直して、もう一度お試しください。",
                    "The file was not received. Choose it again and send it once more.",
                )),
                None,
            );
        }
    };
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    if file.is_empty() {
        return import_form(
            &page,
            &p,
            StatusCode::BAD_REQUEST,
            Some(page.say(
                "CSV ファイルを選んでください（空のファイルは登録できません）。",
                "Choose a CSV file (an empty file cannot be imported).",
            )),
            None,
        );
    }
    match imports::import_groups(&s.svc, &p.scope, &p.actor(), &file, ktime::now()).await {
        Ok(r) => {
            let mut failed = Vec::new();
            for f in r.failed {
                match explain_group(&page, &f.error) {
                    Some(why) => failed.push((f.line, why)),
                    None => return page.failure(f.error),
                }
            }
            import_form(
                &page,
                &p,
                StatusCode::OK,
                None,
                Some(ImportReport {
                    created: r.created,
                    updated: r.updated,
                    failed,
                }),
            )
        }
        Err(e) => match explain_group(&page, &e) {
            Some(msg) => import_form(&page, &p, status_of(&e), Some(msg), None),
            None => page.failure(e),
        },
    }
}

// ---- one group: rename, members (operations 4 and 7) ---------------------------------------------------------

struct Person {
    id: String,
    name: String,
    contact: String,
    /// Already a member (offered to add: shown, not ticked).
    member: bool,
}

fn person(u: &UserRecord, gid: &GroupId) -> Person {
    Person {
        id: u.id.to_string(),
        name: u.name.clone(),
        contact: contact(u),
        member: u.group_ids.iter().any(|g| g == gid.as_str()),
    }
}

#[derive(Template)]
#[template(path = "admin_group.html")]
struct GroupPage {
    c: Chrome,
    csrf: String,
    ok: Option<String>,
    error: Option<String>,
    id: String,
    name: String,
    member_count: i64,
    created: String,
    updated: String,
    members: Vec<Person>,
    members_first: Option<String>,
    members_next: Option<String>,
    uq: String,
    candidates: Vec<Person>,
    candidates_first: Option<String>,
    candidates_next: Option<String>,
    may_delete: bool,
}

/// The group page's address with its two pagers' cursors and the search of users to add.
fn group_href(id: &str, mcursor: Option<&str>, uq: &str, ucursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if let Some(c) = mcursor {
        s.append_pair("mcursor", c);
    }
    if !uq.is_empty() {
        s.append_pair("uq", uq);
    }
    if let Some(c) = ucursor {
        s.append_pair("ucursor", c);
    }
    let qs = s.finish();
    if qs.is_empty() {
        format!("/admin/groups/{id}")
    } else {
        format!("/admin/groups/{id}?{qs}")
    }
}

/// `GET /admin/groups/{id}`: the group, its members a page at a time (`mcursor`), and users to add,
/// searched by name, e-mail or login id (`uq`, `ucursor`).
pub async fn group_show(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
) -> Reply {
    let n = count(&page);
    let ok = match page.q("done") {
        Some("created") => Some(page.say(
            "グループを作成しました。続けてメンバーを追加できます。",
            "The group is created. You can add members now.",
        )),
        Some("renamed") => Some(page.say("名前を変更しました。", "The name is changed.")),
        Some("added") => Some(if page.en {
            format!("Added {n} user(s) to the group.")
        } else {
            format!("{n} 人をグループに追加しました。")
        }),
        Some("removed") => Some(if page.en {
            format!("Removed {n} user(s) from the group.")
        } else {
            format!("{n} 人をグループから外しました。")
        }),
        _ => None,
    };
    match group_page(&s, &p, &page, &id, StatusCode::OK, ok, None).await {
        Ok(r) => r,
        Err(e) => page.failure(e),
    }
}

async fn group_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    id: &str,
    status: StatusCode,
    ok: Option<String>,
    error: Option<String>,
) -> Result<Reply, AppError> {
    let Some(gid) = GroupId::parse(id) else {
        return Ok(group_not_found(page));
    };
    let g = match groups::load(&s.svc, &p.scope, &gid).await {
        Ok(g) => g,
        Err(AppError::NotFound(_)) => return Ok(group_not_found(page)),
        Err(e) => return Err(e),
    };
    let mcursor = page.q("mcursor").filter(|c| !c.is_empty());
    let ucursor = page.q("ucursor").filter(|c| !c.is_empty());
    let uq = page.q("uq").unwrap_or("").trim().to_owned();
    // A cursor this page did not give out starts its list over.
    let req = PageRequest::first(MEMBERS_PAGE);
    let members = paging::or_first_page(req.clone().after(mcursor), |r| {
        groups::members(&s.svc, &p.scope, &gid, r)
    })
    .await?;
    let q = (!uq.is_empty()).then_some(uq.as_str());
    let candidates =
        paging::or_first_page(req.after(ucursor), |r| users::list(&s.svc, &p.scope, r, q)).await?;
    let gs = g.id.to_string();
    Ok(page.html(
        status,
        &GroupPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            ok,
            error,
            members: members.items.iter().map(|u| person(u, &gid)).collect(),
            members_first: mcursor.map(|_| group_href(&gs, None, &uq, ucursor)),
            members_next: members
                .next
                .map(|c| group_href(&gs, Some(c.as_str()), &uq, ucursor)),
            candidates: candidates.items.iter().map(|u| person(u, &gid)).collect(),
            candidates_first: ucursor.map(|_| group_href(&gs, mcursor, &uq, None)),
            candidates_next: candidates
                .next
                .map(|c| group_href(&gs, mcursor, &uq, Some(c.as_str()))),
            uq,
            name: g.name,
            member_count: g.member_count,
            created: when(&g.created_at),
            updated: when(&g.updated_at),
            may_delete: may("page-admin-groups-delete-post", p),
            id: gs,
        },
    ))
}

/// The answer to a refused action on a group's page: 404 for a group that is not there, the page again
/// with the reason when it has one a person can act on, otherwise the failure page.
async fn group_refused(s: &AppState, p: &Principal, page: &Page, id: &str, e: AppError) -> Reply {
    if let AppError::NotFound("group") = e {
        return group_not_found(page);
    }
    match explain_group(page, &e) {
        Some(msg) => group_page(s, p, page, id, status_of(&e), None, Some(msg))
            .await
            .unwrap_or_else(|e| page.failure(e)),
        None => page.failure(e),
    }
}

/// `POST /admin/groups/{id}/name`: as `PATCH /v1/groups/{id}`.
pub async fn group_rename(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let Some(gid) = GroupId::parse(&id) else {
        return group_not_found(&page);
    };
    let renamed = match Name::parse("name", &form.text("name")) {
        Ok(name) => groups::rename(&s.svc, &p.scope, &p.actor(), &gid, name, ktime::now()).await,
        Err(e) => Err(e.into()),
    };
    match renamed {
        Ok(_) => page.redirect(&format!("/admin/groups/{id}?done=renamed")),
        Err(e) => group_refused(&s, &p, &page, &id, e).await,
    }
}

/// What a members form did: back to the page when every ticked user was handled, else the page with
/// each refusal.
async fn members_answer(
    s: &AppState,
    p: &Principal,
    page: &Page,
    id: &str,
    done: &str,
    result: Result<(Vec<String>, Vec<MemberFailure>), AppError>,
) -> Reply {
    let (ok, failed) = match result {
        Ok(r) => r,
        Err(e) => return group_refused(s, p, page, id, e).await,
    };
    if failed.is_empty() {
        return page.redirect(&format!("/admin/groups/{id}?done={done}&n={}", ok.len()));
    }
    let mut failed = failed;
    if let Some(at) = failed
        .iter()
        .position(|f| explain_group(page, &f.error).is_none())
    {
        return page.failure(failed.swap_remove(at).error);
    }
    let mut lines = Vec::new();
    for f in &failed {
        let why = explain_group(page, &f.error).unwrap_or_default();
        let who = match crate::domain::ids::UserId::parse(&f.id) {
            Some(uid) => user::load(&s.svc, &p.scope, &uid)
                .await
                .map(|u| u.name)
                .unwrap_or_else(|_| f.id.clone()),
            None => f.id.clone(),
        };
        lines.push(format!("{who}: {why}"));
    }
    let msg = if page.en {
        format!(
            "{} user(s) done; {} not: {}",
            ok.len(),
            failed.len(),
            lines.join(" / ")
        )
    } else {
        format!(
            "{} 人は完了しました。次の {} 人はできませんでした。{}",
            ok.len(),
            failed.len(),
            lines.join(" ／ ")
        )
    };
    let status = if ok.is_empty() {
        status_of(&failed[0].error)
    } else {
        StatusCode::OK
    };
    group_page(s, p, page, id, status, None, Some(msg))
        .await
        .unwrap_or_else(|e| page.failure(e))
}

fn no_user_ticked(page: &Page) -> String {
    page.say(
        "ユーザーが選ばれていません。チェックを付けてから、もう一度お試しください。",
        "No user is selected. Tick them, then try again.",
    )
}

/// `POST /admin/groups/{id}/members`: as `POST /v1/groups/{id}/members`, the ticked users.
pub async fn group_members_add(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    members_change(&s, &p, &page, &id, &form, true).await
}

/// `POST /admin/groups/{id}/members/remove`: as `POST /v1/groups/{id}/members/remove`, the ticked members.
pub async fn group_members_remove(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId,
    page: Page,
    form: Form,
) -> Reply {
    members_change(&s, &p, &page, &id, &form, false).await
}

async fn members_change(
    s: &AppState,
    p: &Principal,
    page: &Page,
    id: &str,
    form: &Form,
    add: bool,
) -> Reply {
    if !page.session_form_ok(form) {
        return page.csrf_refused();
    }
    let Some(gid) = GroupId::parse(id) else {
        return group_not_found(page);
    };
    let ids = form.all("user_id");
    if ids.is_empty() || ids.len() > BULK_LIMIT {
        let msg = if ids.is_empty() {
            no_user_ticked(page)
        } else {
            page.say(
                "一度に選べるのは 1000 人までです。",
                "At most 1000 users at once.",
            )
        };
        return group_page(s, p, page, id, StatusCode::BAD_REQUEST, None, Some(msg))
            .await
            .unwrap_or_else(|e| page.failure(e));
    }
    let now = ktime::now();
    let result = if add {
        groups::add_members(&s.svc, &p.scope, &p.actor(), &gid, ids, now).await
    } else {
        groups::remove_members(&s.svc, &p.scope, &p.actor(), &gid, ids, now).await
    };
    members_answer(
        s,
        p,
        page,
        id,
        if add { "added" } else { "removed" },
        result,
    )
    .await
}

// ---- deleting groups (operations 5 and 6) --------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_groups_delete.html")]
struct DeletePage {
    c: Chrome,
    csrf: String,
    groups: Vec<GroupView>,
}

/// `GET /admin/groups/delete?id=…&id=…`: what is about to be deleted, and that it cannot be undone.
pub async fn groups_delete_confirm(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
) -> Reply {
    let mut ids = page.q_all("id");
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > BULK_LIMIT {
        return page.message(
            StatusCode::BAD_REQUEST,
            page.say("グループを選んでください", "Choose the groups first"),
            vec![if ids.is_empty() {
                page.say(
                    "削除するグループが選ばれていません。一覧でチェックを付けてから、もう一度お試しください。",
                    "No group is selected. Tick them in the list, then try again.",
                )
            } else {
                page.say(
                    "一度に削除できるのは 1000 件までです。",
                    "At most 1000 groups can be deleted at once.",
                )
            }],
            back_to_list(&page),
        );
    }
    let mut found = Vec::new();
    for raw in ids {
        let Some(gid) = GroupId::parse(&raw) else {
            continue;
        };
        match groups::load(&s.svc, &p.scope, &gid).await {
            Ok(g) => found.push(g),
            Err(AppError::NotFound(_)) => {}
            Err(e) => return page.failure(e),
        }
    }
    if found.is_empty() {
        return group_not_found(&page);
    }
    page.html(
        StatusCode::OK,
        &DeletePage {
            c: page.console(&p),
            csrf: page.session_form_token(),
            groups: found,
        },
    )
}

/// `POST /admin/groups/delete`: as `DELETE /v1/groups/{id}` for each (`POST /v1/groups/bulk-delete`).
/// All gone: back to the list; otherwise a page saying which were not deleted and why.
pub async fn groups_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    form: Form,
) -> Reply {
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let ids = form.all("id");
    if ids.is_empty() || ids.len() > BULK_LIMIT {
        return page.redirect("/admin/groups");
    }
    let (deleted, failed) =
        groups::delete_many(&s.svc, &p.scope, &p.actor(), ids, ktime::now()).await;
    if failed.is_empty() {
        return page.redirect(&format!("/admin/groups?done=deleted&n={}", deleted.len()));
    }
    let mut lines = vec![if page.en {
        format!(
            "Deleted {} group(s). {} could not be deleted:",
            deleted.len(),
            failed.len()
        )
    } else {
        format!(
            "{} 件を削除しました。次の {} 件は削除できませんでした。",
            deleted.len(),
            failed.len()
        )
    }];
    let mut failed = failed;
    if let Some(at) = failed
        .iter()
        .position(|(_, e)| explain_group(&page, e).is_none())
    {
        return page.failure(failed.swap_remove(at).1);
    }
    for (id, e) in &failed {
        lines.push(format!(
            "{id}: {}",
            explain_group(&page, e).unwrap_or_default()
        ));
    }
    page.message(
        status_of(&failed[0].1),
        page.say(
            "削除できなかったグループがあります",
            "Some groups were not deleted",
        ),
        lines,
        back_to_list(&page),
    )
}

#[cfg(test)]
mod tests {
    use super::{typed_names, when};

    #[test]
    fn typed_names_keep_their_line_numbers_and_skip_blank_lines() {
        let got = typed_names("総務部\r\n\n  人事部 \n\t\n経理部");
        assert_eq!(
            got,
            vec![
                (1, "総務部".to_owned()),
                (3, "人事部".to_owned()),
                (5, "経理部".to_owned())
            ]
        );
        assert!(typed_names(" \n \n").is_empty());
    }

    #[test]
    fn times_are_shown_in_jst_to_the_minute() {
        assert_eq!(when("2026-12-02T21:05:59Z"), "2026-12-03 06:05 (JST)");
        assert_eq!(when("2026-12-03T06:05:00+09:00"), "2026-12-03 06:05 (JST)");
        assert_eq!(when("not a time"), "not a time");
    }
}
