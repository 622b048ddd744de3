//! The console's user registration from a CSV file (issue 17, operation 10): choose a file, see what the
//! import would do (the dry run `app::imports::preview_users`: rows to create, rows that would fail and
//! why, seats left; nothing written), then confirm. A file of up to [`SYNC_ROWS`] rows is imported in the
//! request as `POST /v1/users/import` does (generated passwords shown once, in the page and in a CSV
//! carried by the page itself); a larger one becomes an upload and a background import as
//! `POST /v1/uploads` + `POST /v1/imports` do, with a progress page that refreshes itself and the
//! per-row report as a CSV download.
//!
//! The file travels with the preview page (base64 in the confirm form), so nothing is stored between
//! preview and confirmation, and the confirmation imports the very bytes that were previewed; the import
//! checks every row again (the preview is what the import would do now, not a promise).

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::ExposeSecret;

use super::{explain, role_name, status_of};
use crate::app::csv_file::{ExcelEncoding, write_for_excel};
use crate::app::imports::job::{self as import_jobs, Kind, Status};
use crate::app::principal::Principal;
use crate::app::records::user::Delivery;
use crate::app::uploads::{self, Purpose};
use crate::app::{AppError, csv_file, imports, roles};
use crate::domain::ids::ImportId;
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::{BODY_LIMIT, Caller, PathId};
use crate::http::pages::{COPY_JS, Chrome, Form, Page, Reply};

/// The most rows the console imports within the request; a larger file runs as a background import. The
/// background import commits [`import_jobs::CHUNK`] rows per step and reports its progress per step: a
/// file of one step or less has no progress to watch and is done within the request (the synchronous import
/// of 10,000 rows took 1.5 s on the local server, BENCHMARKS.md; generated passwords, which cost far more, have
/// their own bound, [`GENERATED_ROWS`]).
pub const SYNC_ROWS: usize = import_jobs::CHUNK;
// A file imported in the request is one the synchronous import takes; passwords only in the request.
const _: () = assert!(SYNC_ROWS <= imports::MAX_ROWS && GENERATED_ROWS <= SYNC_ROWS);
/// The largest file the console takes: the API's body limit (`POST /v1/users/import` takes no more);
/// larger files (up to 20 MiB) go through `POST /v1/uploads` and `POST /v1/imports`.
pub const FILE_LIMIT: usize = BODY_LIMIT;
/// The confirm form's body: the file in base64 (4/3 of it) and a few fields.
pub const CONFIRM_LIMIT: usize = BODY_LIMIT * 3 / 2;
/// The most rows whose passwords the console generates in one import: the API's bound.
pub const GENERATED_ROWS: usize = imports::MAX_GENERATED_ROWS;
/// Rows to create listed on the preview (all are counted).
const PREVIEW_SHOWN: usize = 200;
/// Failed rows listed on a background import's page (all are in its report).
const STATUS_SHOWN: usize = 20;
/// How often the progress page reloads itself while the import runs (seconds).
const REFRESH_SECONDS: u32 = 2;

/// The sentence for a row the import refused or would refuse, from the error's code, field and message
/// (a background import keeps code and message; the field only when the row was refused in the request).
fn row_reason(page: &Page, code: &str, field: Option<&str>, message: &str) -> String {
    let earlier = message.contains("earlier in the file");
    let (ja, en): (String, String) = match (code, field) {
        ("invalid_request", Some("name")) => (
            "氏名は 1 文字以上 100 文字以内で、制御文字を含めずに書いてください。".into(),
            format!("The name is not valid ({message})."),
        ),
        ("invalid_request", Some("email")) => (
            "メールアドレスの形式が正しくありません。".into(),
            format!("The e-mail address is not valid ({message})."),
        ),
        ("invalid_request", Some("login_id")) => (
            "ログイン ID は 64 文字以内の半角英数字と「.」「_」「-」で書いてください。".into(),
            format!("The login ID is not valid ({message})."),
        ),
        ("invalid_request", Some("role")) => (
            format!("role 列のロールがありません（{message}）。ロール名か ID を書いてください。"),
            format!("No such role ({message})."),
        ),
        ("invalid_request", Some("groups")) => (
            format!("groups 列を確認してください（{message}）。"),
            format!("Check the groups column ({message})."),
        ),
        ("invalid_request", None) if message.starts_with("a user needs") => (
            "メールアドレスとログイン ID の少なくとも一方が必要です。".into(),
            "A user needs an e-mail address or a login ID (or both).".into(),
        ),
        ("invalid_request", _) => (
            format!("入力内容を確認してください（{message}）。"),
            format!("Check this row ({message})."),
        ),
        ("delivery_requires_email", _) => (
            "招待リンクはメールで送るため、メールアドレスが必要です。".into(),
            "An invitation link is mailed: the row needs an e-mail address.".into(),
        ),
        ("email_taken", _) if earlier => (
            "このメールアドレスは、ファイルの前の行にもあります。".into(),
            "This e-mail address appears earlier in the file.".into(),
        ),
        ("email_taken", _) => (
            "このメールアドレスは、すでにほかのユーザーが使っています。".into(),
            "This e-mail address is already used by another user.".into(),
        ),
        ("login_id_taken", _) if earlier => (
            "このログイン ID は、ファイルの前の行にもあります。".into(),
            "This login ID appears earlier in the file.".into(),
        ),
        ("login_id_taken", _) => (
            "このログイン ID は、すでにほかのユーザーが使っています。".into(),
            "This login ID is already used by another user.".into(),
        ),
        ("seat_limit_reached", _) => (
            "契約のシートが足りません。".into(),
            "No seat of the contract is left for this row.".into(),
        ),
        ("role_outranks_caller", _) => (
            "このロールはあなたより広い権限を持っているため、付与できません。".into(),
            "This role has permissions beyond yours; only an organisation admin may give it."
                .into(),
        ),
        _ => (message.to_owned(), message.to_owned()),
    };
    if page.en { en } else { ja }
}

fn error_reason(page: &Page, e: &AppError) -> String {
    row_reason(page, e.code(), e.field(), &e.public_message())
}

/// The sentence for a file refused whole (unreadable, wrong header, too many rows).
fn file_refused(page: &Page, e: &AppError) -> Option<String> {
    match e {
        AppError::Invalid {
            field: Some("file"),
            message,
        } => Some(if page.en {
            format!(
                "The CSV file could not be read ({message}). Its first row must be the header name,email,login_id,role,groups (only name is required), saved as UTF-8 or Shift_JIS (CP932)."
            )
        } else {
            format!(
                "CSV ファイルを読めませんでした（{message}）。1 行目を見出し name,email,login_id,role,groups（name 以外は省略可）とし、UTF-8 か Shift_JIS（CP932）で保存してください。"
            )
        }),
        _ => explain(page, e),
    }
}

// ---- the form ----------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_users_import.html")]
struct ImportFormPage {
    c: Chrome,
    csrf: String,
    error: Option<String>,
    generated: bool,
    sync_rows: usize,
    generated_rows: usize,
}

fn import_form(page: &Page, p: &Principal, status: StatusCode, error: Option<String>) -> Reply {
    page.html(
        status,
        &ImportFormPage {
            c: page.console(p),
            csrf: page.session_form_token(),
            error,
            generated: false,
            sync_rows: SYNC_ROWS,
            generated_rows: GENERATED_ROWS,
        },
    )
}

/// `GET /admin/users/import`: the file form, the file's format and how it is imported.
pub async fn users_import(Caller(p): Caller, page: Page) -> Reply {
    import_form(&page, &p, StatusCode::OK, None)
}

/// A multipart form's text fields and its file (name and bytes); a body that cannot be read answers its
/// status (413 past the route's body limit).
async fn multipart(mut m: Multipart) -> Result<(Form, String, Vec<u8>), StatusCode> {
    let (mut fields, mut name, mut file) = (Vec::new(), String::new(), Vec::new());
    while let Some(field) = m.next_field().await.map_err(|e| e.status())? {
        match field.name() {
            Some("file") => {
                name = field.file_name().unwrap_or_default().to_owned();
                file = field.bytes().await.map_err(|e| e.status())?.to_vec();
            }
            Some(n) => {
                let n = n.to_owned();
                fields.push((n, field.text().await.map_err(|e| e.status())?));
            }
            None => {}
        }
    }
    Ok((Form::from_pairs(fields), name, file))
}

fn unreadable_body(page: &Page, p: &Principal, status: StatusCode) -> Reply {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return import_form(
            page,
            p,
            status,
            Some(page.say(
                "ファイルが大きすぎます。画面から登録できるのは 1 MB までです。ファイルを分けるか、API（POST /v1/uploads と POST /v1/imports、20 MB まで）をお使いください。",
                "The file is too large: the console takes at most 1 MB. Split it, or use the API (POST /v1/uploads and POST /v1/imports, up to 20 MB).",
            )),
        );
    }
    import_form(
        page,
        p,
        StatusCode::BAD_REQUEST,
        Some(page.say(
            "ファイルを受け取れませんでした。ファイルを選び直して、もう一度お試しください。",
            "The file was not received. Choose it again and send it once more.",
        )),
    )
}

/// The delivery the form chose, if the file allows it: passwords are generated for at most
/// [`GENERATED_ROWS`] rows (so never in a background import, which mails links).
fn delivery_for(form: &Form, rows: usize) -> Option<Delivery> {
    if form.get("delivery") == Some("generated") {
        (rows <= GENERATED_ROWS).then_some(Delivery::Generated)
    } else {
        Some(Delivery::InviteLink)
    }
}

fn too_many_to_generate(page: &Page, p: &Principal, rows: usize) -> Reply {
    import_form(
        page,
        p,
        StatusCode::BAD_REQUEST,
        Some(if page.en {
            format!(
                "Passwords are generated for at most {GENERATED_ROWS} rows at a time; this file has {rows}. Choose to mail links, or split the file."
            )
        } else {
            format!(
                "パスワードを発行できるのは 1 回 {GENERATED_ROWS} 行までです（このファイルは {rows} 行）。「設定用リンクをメールで送る」を選ぶか、ファイルを分けてください。"
            )
        }),
    )
}

/// Rows of the file, or the error the import would refuse it whole with.
fn row_count(bytes: &[u8]) -> Result<usize, AppError> {
    let text = csv_file::decode(bytes)?;
    Ok(imports::user_rows(&text)?.len())
}

// ---- the preview ----------------------------------------------------------------------------------------------

struct ToCreate {
    line: u64,
    name: String,
    login: String,
    role: String,
    groups: String,
}

#[derive(Template)]
#[template(path = "admin_users_import_preview.html")]
struct PreviewPage {
    c: Chrome,
    csrf: String,
    filename: String,
    /// The file, base64, for the confirm form.
    data: String,
    generated: bool,
    background: bool,
    sync_rows: usize,
    rows: usize,
    to_create: usize,
    shown: Vec<ToCreate>,
    failed: Vec<(u64, String)>,
    seats_used: i64,
    seat_limit: i64,
    seats_left_after: i64,
    new_groups: String,
}

/// `POST /admin/users/import/preview`: what importing the chosen file would do, from the import's own
/// checks run without writing (`imports::preview_users`); the confirm form carries the file on.
pub async fn users_import_preview(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    body: Result<Multipart, MultipartRejection>,
) -> Reply {
    let parsed = match body {
        Ok(m) => multipart(m).await,
        Err(e) => Err(e.status()),
    };
    let (form, filename, file) = match parsed {
        Ok(r) => r,
        Err(status) => return unreadable_body(&page, &p, status),
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
        );
    }
    let refused = |e: AppError| match file_refused(&page, &e) {
        Some(msg) => import_form(&page, &p, status_of(&e), Some(msg)),
        None => page.failure(e),
    };
    let rows = match row_count(&file) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let background = rows > SYNC_ROWS;
    let Some(delivery) = delivery_for(&form, rows) else {
        return too_many_to_generate(&page, &p, rows);
    };
    let preview =
        match imports::preview_users(&s.svc, &p.scope, &p.authority(), &file, delivery).await {
            Ok(v) => v,
            Err(e) => return refused(e),
        };
    let all_roles = match roles::list(&s.svc, &p.scope).await {
        Ok(r) => r,
        Err(e) => return page.failure(e),
    };
    let seats_left_after = preview.seats_left_after();
    let shown = preview
        .to_create
        .iter()
        .take(PREVIEW_SHOWN)
        .map(|r| ToCreate {
            line: r.line,
            name: r.name.clone(),
            login: r.login.clone(),
            role: role_name(&all_roles, &r.role_id),
            groups: r.groups.join("; "),
        })
        .collect();
    let failed = preview
        .failed
        .iter()
        .take(import_jobs::FAILURES_SHOWN)
        .map(|f| (f.line, error_reason(&page, &f.error)))
        .collect();
    page.html(
        StatusCode::OK,
        &PreviewPage {
            c: page.console(&p),
            csrf: page.session_form_token(),
            filename: if filename.trim().is_empty() {
                "users.csv".into()
            } else {
                filename
            },
            data: STANDARD.encode(&file),
            generated: delivery == Delivery::Generated,
            background,
            sync_rows: SYNC_ROWS,
            rows: preview.rows,
            to_create: preview.to_create.len(),
            shown,
            failed,
            seats_used: preview.seats_used,
            seat_limit: preview.seat_limit,
            seats_left_after,
            new_groups: preview.new_groups.join("、"),
        },
    )
}

// ---- the import ----------------------------------------------------------------------------------------------

struct CreatedLine {
    line: u64,
    name: String,
    login: String,
    password: String,
}

#[derive(Template)]
#[template(path = "admin_users_import_result.html")]
struct ResultPage {
    c: Chrome,
    created: usize,
    generated: bool,
    users: Vec<CreatedLine>,
    failed: Vec<(u64, String)>,
    /// The per-row report (and the passwords) as a CSV in a `data:` URL: downloadable from this page
    /// only, nothing kept on the server to serve it again.
    report_href: String,
    js: &'static str,
}

/// `POST /admin/users/import`: imports the file the preview showed. Up to [`SYNC_ROWS`] rows in the
/// request (`imports::import_users`, as `POST /v1/users/import`): the report, and generated passwords
/// shown on this answer only; a larger file is stored as an upload and imported in the background
/// (`uploads` + `import_jobs::start`, as `POST /v1/uploads` and `POST /v1/imports`), then its progress page.
pub async fn users_import_post(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    body: Result<Multipart, MultipartRejection>,
) -> Reply {
    let parsed = match body {
        Ok(m) => multipart(m).await,
        Err(e) => Err(e.status()),
    };
    let (form, _, _) = match parsed {
        Ok(r) => r,
        Err(status) => return unreadable_body(&page, &p, status),
    };
    if !page.session_form_ok(&form) {
        return page.csrf_refused();
    }
    let file = match STANDARD.decode(form.text("data").trim()) {
        Ok(f) if !f.is_empty() && f.len() <= FILE_LIMIT => f,
        Ok(f) if f.len() > FILE_LIMIT => {
            return unreadable_body(&page, &p, StatusCode::PAYLOAD_TOO_LARGE);
        }
        _ => return unreadable_body(&page, &p, StatusCode::BAD_REQUEST),
    };
    let refused = |e: AppError| match file_refused(&page, &e) {
        Some(msg) => import_form(&page, &p, status_of(&e), Some(msg)),
        None => page.failure(e),
    };
    let rows = match row_count(&file) {
        Ok(n) => n,
        Err(e) => return refused(e),
    };
    let background = rows > SYNC_ROWS;
    let Some(delivery) = delivery_for(&form, rows) else {
        return too_many_to_generate(&page, &p, rows);
    };
    let now = ktime::now();
    if background {
        let name = form.text("filename");
        let name = if name.trim().is_empty() {
            "users.csv".to_owned()
        } else {
            name
        };
        let started = async {
            let upload = uploads::store(
                &s.svc,
                &p,
                Purpose::UserImport,
                &name,
                "text/csv",
                file,
                now,
            )
            .await?;
            import_jobs::start(&s.svc, &p, &upload.id, Kind::Users, Some(delivery), now).await
        }
        .await;
        return match started {
            Ok(id) => page.redirect(&format!("/admin/users/imports/{id}")),
            Err(e) => refused(e),
        };
    }
    let report =
        match imports::import_users(&s.svc, &p.scope, &p.authority(), &file, delivery, now).await {
            Ok(r) => r,
            Err(e) => return refused(e),
        };
    let names = match imports::user_rows(&csv_file::decode(&file).unwrap_or_default()) {
        Ok(rows) => rows
            .into_iter()
            .map(|r| (r.line, r.get("name").to_owned()))
            .collect::<std::collections::HashMap<_, _>>(),
        Err(_) => Default::default(),
    };
    let users: Vec<CreatedLine> = report
        .users
        .iter()
        .map(|u| CreatedLine {
            line: u.line,
            name: names.get(&u.line).cloned().unwrap_or_default(),
            login: u.login.clone(),
            password: u
                .initial_password
                .as_ref()
                .map(|pw| pw.expose_secret().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    let failed: Vec<(u64, String, &AppError)> = report
        .failed
        .iter()
        .map(|f| (f.line, error_reason(&page, &f.error), &f.error))
        .collect();
    let generated = delivery == Delivery::Generated;
    // line, result, name, login, password (generated only), code, reason: one row per line of the file.
    let mut lines: Vec<(u64, Vec<String>)> = users
        .iter()
        .map(|u| {
            (
                u.line,
                vec![
                    u.line.to_string(),
                    "created".into(),
                    u.name.clone(),
                    u.login.clone(),
                    u.password.clone(),
                    String::new(),
                    String::new(),
                ],
            )
        })
        .collect();
    lines.extend(failed.iter().map(|(line, why, e)| {
        (
            *line,
            vec![
                line.to_string(),
                "failed".into(),
                names.get(line).cloned().unwrap_or_default(),
                String::new(),
                String::new(),
                e.code().to_owned(),
                why.clone(),
            ],
        )
    }));
    lines.sort_by_key(|(l, _)| *l);
    let csv = write_for_excel(
        &[
            "line",
            "result",
            "name",
            "login",
            "initial_password",
            "code",
            "reason",
        ],
        &lines.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        ExcelEncoding::Utf8Bom,
    );
    let report_href = match csv {
        Ok(bytes) => format!("data:text/csv;base64,{}", STANDARD.encode(bytes)),
        Err(e) => return page.failure(e),
    };
    page.html(
        StatusCode::OK,
        &ResultPage {
            c: page.console(&p),
            created: report.created,
            generated,
            users,
            failed: failed.into_iter().map(|(l, why, _)| (l, why)).collect(),
            report_href,
            js: COPY_JS,
        },
    )
}

// ---- a background import: progress, then its report -----------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_users_import_status.html")]
struct StatusPage {
    c: Chrome,
    id: String,
    running: bool,
    refresh: u32,
    state: String,
    total: Option<i64>,
    processed: i64,
    created: i64,
    failed_count: i64,
    /// Percent done, once the file's rows are counted.
    percent: Option<i64>,
    failed: Vec<(u64, String)>,
    /// Failed rows not listed on the page.
    more_failed: i64,
    message: Option<String>,
    started: String,
}

fn import_not_found(page: &Page) -> Reply {
    page.message(
        StatusCode::NOT_FOUND,
        page.say("取り込みが見つかりません", "No such import"),
        vec![page.say(
            "この取り込みは存在しないか、別の組織のものです。",
            "This import does not exist.",
        )],
        vec![("/admin/users", page.say("ユーザー一覧へ", "The users"))],
    )
}

/// `GET /admin/users/imports/{id}`: a background user import as `GET /v1/imports/{id}` reads it. While it
/// runs the page reloads itself every few seconds (no JavaScript needed); once it has ended, its counts
/// and failed rows, and the report to download.
pub async fn users_import_status(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    PathId(id): PathId,
) -> Reply {
    let Some(id) = ImportId::parse(&id) else {
        return import_not_found(&page);
    };
    let v = match import_jobs::view(&s.svc, &p.scope, &id).await {
        Ok(v) if v.kind == Kind::Users => v,
        Ok(_) | Err(AppError::NotFound(_)) => return import_not_found(&page),
        Err(e) => return page.failure(e),
    };
    let running = matches!(v.status, Status::Queued | Status::Running);
    let state = match v.status {
        Status::Queued => page.say("順番待ち", "queued"),
        Status::Running => page.say("登録中", "running"),
        Status::Done => page.say("完了", "done"),
        Status::Failed => page.say("中断（エラー）", "stopped (failed)"),
        Status::Cancelled => page.say("取り消し", "cancelled"),
    };
    let percent = v
        .total
        .filter(|t| *t > 0)
        .map(|t| (v.processed * 100 / t).clamp(0, 100));
    let failed: Vec<(u64, String)> = v
        .failed_rows
        .iter()
        .take(STATUS_SHOWN)
        .map(|f| (f.line, row_reason(&page, &f.code, None, &f.message)))
        .collect();
    let more_failed = (v.failed - failed.len() as i64).max(0);
    page.html(
        StatusCode::OK,
        &StatusPage {
            c: page.console(&p),
            id: v.id.clone(),
            running,
            refresh: REFRESH_SECONDS,
            state,
            total: v.total,
            processed: v.processed,
            created: v.created,
            failed_count: v.failed,
            percent,
            failed,
            more_failed,
            message: v.message.clone(),
            started: ktime::parse_rfc3339(&v.created_at)
                .map(crate::http::pages::jst_minutes)
                .unwrap_or(v.created_at),
        },
    )
}

/// `GET /admin/users/imports/{id}/report`: every failed row of the import (line, code, reason, the app's
/// message) and its counts, as a CSV for Excel (UTF-8 with a BOM, formula-looking cells escaped).
pub async fn users_import_report(
    State(s): State<AppState>,
    Caller(p): Caller,
    page: Page,
    PathId(id): PathId,
) -> Reply {
    let Some(id) = ImportId::parse(&id) else {
        return import_not_found(&page);
    };
    let v = match import_jobs::view(&s.svc, &p.scope, &id).await {
        Ok(v) if v.kind == Kind::Users => v,
        Ok(_) | Err(AppError::NotFound(_)) => return import_not_found(&page),
        Err(e) => return page.failure(e),
    };
    let failures = match import_jobs::failures(&s.svc, &p.scope, &id).await {
        Ok(f) => f,
        Err(AppError::NotFound(_)) => return import_not_found(&page),
        Err(e) => return page.failure(e),
    };
    let rows: Vec<Vec<String>> = failures
        .iter()
        .map(|f| {
            vec![
                f.line.to_string(),
                "failed".into(),
                f.code.clone(),
                row_reason(&page, &f.code, None, &f.message),
                f.message.clone(),
            ]
        })
        .collect();
    match write_for_excel(
        &["line", "result", "code", "reason", "message"],
        &rows,
        ExcelEncoding::Utf8Bom,
    ) {
        Ok(bytes) => page.download(&format!("import-{}-report.csv", v.id), bytes),
        Err(e) => page.failure(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_generated_for_at_most_generated_rows() {
        let form = Form::from_pairs(vec![("delivery".into(), "generated".into())]);
        assert_eq!(
            delivery_for(&form, GENERATED_ROWS),
            Some(Delivery::Generated)
        );
        assert_eq!(delivery_for(&form, GENERATED_ROWS + 1), None);
        // Links for any file, in the request or in the background.
        assert_eq!(delivery_for(&Form::empty(), 1), Some(Delivery::InviteLink));
        assert_eq!(
            delivery_for(&Form::empty(), SYNC_ROWS + 1),
            Some(Delivery::InviteLink)
        );
    }

    #[test]
    fn a_file_is_counted_by_its_rows_and_a_bad_header_is_the_import_s_refusal() {
        let cp932 = encoding_rs::SHIFT_JIS
            .encode("name,email\r\n山田 太郎,taro@example.com\r\n\r\n鈴木 花子,\r\n")
            .0;
        assert_eq!(row_count(&cp932).unwrap(), 2);
        let e = row_count(b"nom,email\n").unwrap_err();
        assert_eq!(e.field(), Some("file"));
    }
}
