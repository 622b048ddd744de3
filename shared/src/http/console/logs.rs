//! The console's log pages: the operation log and the mail-send log, newest first, in JST, filtered by a
//! range of days (JST days, both ends included), a page at a time. They read the same use cases as
//! `GET /v1/audit-log` and `GET /v1/mail-log`, with the same access (feature `audit_log`, view).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, macros::format_description};

use crate::app::AppError;
use crate::app::logs::{self, Window};
use crate::app::paging::{self, PageRequest};
use crate::app::principal::Principal;
use crate::domain::time as ktime;
use crate::http::AppState;
use crate::http::extract::Caller;
use crate::http::pages::{Chrome, Page, Reply, jst_minutes};

/// Entries per page.
const PAGE_SIZE: usize = 50;

/// The day range of a log page as the form gave it (`YYYY-MM-DD`, empty for open).
struct Days {
    from: String,
    to: String,
}

impl Days {
    fn of(page: &Page) -> Days {
        Days {
            from: page.q("from").unwrap_or("").trim().to_owned(),
            to: page.q("to").unwrap_or("").trim().to_owned(),
        }
    }

    /// The window: from the first day's 00:00 JST to the day after the last day's 00:00 JST.
    fn window(&self, page: &Page) -> Result<Window, String> {
        let day = |s: &str| -> Result<Option<OffsetDateTime>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            Date::parse(s, format_description!("[year]-[month]-[day]"))
                .map(|d| Some(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(ktime::JST)))
                .map_err(|_| {
                    if page.en {
                        format!("{s:?} is not a date like 2026-12-01.")
                    } else {
                        format!("「{s}」は日付（例: 2026-12-01）ではありません。")
                    }
                })
        };
        let from = day(&self.from)?;
        let to = day(&self.to)?.map(|t| t + Duration::days(1));
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(page.say(
                "開始日は終了日より前の日付にしてください。",
                "The first day must not be after the last day.",
            ));
        }
        Ok(Window { from, to })
    }

    fn href(&self, base: &str, cursor: Option<&str>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.from.is_empty() {
            s.append_pair("from", &self.from);
        }
        if !self.to.is_empty() {
            s.append_pair("to", &self.to);
        }
        if let Some(c) = cursor {
            s.append_pair("cursor", c);
        }
        let qs = s.finish();
        if qs.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{qs}")
        }
    }
}

/// An RFC 3339 time of the log as the pages show times: `2026-12-02 21:13 (JST)`.
fn shown(at: &str) -> String {
    ktime::parse_rfc3339(at)
        .map(jst_minutes)
        .unwrap_or_else(|| at.to_owned())
}

/// The operation log's action codes in words; a code without words is shown as it is.
fn action_label(page: &Page, action: &str) -> String {
    let (ja, en) = match action {
        "user.create" => ("ユーザー登録", "user registered"),
        "user.import" => ("ユーザー登録（CSV）", "user registered (CSV)"),
        "user.update" => ("ユーザー情報の変更", "user changed"),
        "user.delete" => ("ユーザー削除", "user deleted"),
        "user.role" => ("ロールの変更", "role changed"),
        "user.org_admin.grant" => ("組織管理者に追加", "made org admin"),
        "user.org_admin.revoke" => ("組織管理者から削除", "org admin taken away"),
        "user.reissue_invitation" => ("招待リンクの再発行", "invitation link re-issued"),
        "user.reissue_password" => ("初回パスワードの再発行", "first password re-issued"),
        "user.accept_invitation" => ("招待からのパスワード設定", "invitation accepted"),
        "user.reset_password" => ("パスワード再設定", "password reset"),
        "user.change_password" => ("パスワード変更", "password changed"),
        "group.create" => ("グループ作成", "group created"),
        "group.rename" => ("グループ名の変更", "group renamed"),
        "group.delete" => ("グループ削除", "group deleted"),
        "group.add_members" => ("グループにメンバー追加", "members added to a group"),
        "group.remove_members" => ("グループからメンバー削除", "members removed from a group"),
        "role.create" => ("ロール作成", "role created"),
        "role.update" => ("ロールの変更", "role changed"),
        "role.delete" => ("ロール削除", "role deleted"),
        "tenant.default_role" => ("既定のロールの変更", "default role changed"),
        "tenant.sign_in_policy" => ("サインインポリシーの変更", "sign-in policy changed"),
        "tenant.create" => ("契約の開始", "tenant created"),
        "tenant.update" => ("契約の変更", "contract changed"),
        "tenant.terminate" => ("契約の終了", "contract ended"),
        "tenant.purge" => (
            "データの削除（契約終了後）",
            "data purged (after the contract)",
        ),
        "import.create" => ("CSV 取り込みの開始", "import started"),
        "import.cancel" => ("CSV 取り込みの中止", "import cancelled"),
        "upload.create" => ("ファイルのアップロード", "file uploaded"),
        "upload.delete" => ("ファイルの削除", "file deleted"),
        "questionnaire.create" => ("アンケート作成", "questionnaire created"),
        "questionnaire.respond" => ("アンケート回答", "questionnaire answered"),
        "subscriptions.update" => ("お知らせメールの設定", "notice mail settings"),
        _ => return action.to_owned(),
    };
    page.say(ja, en)
}

fn target_label(page: &Page, kind: &str) -> String {
    let (ja, en) = match kind {
        "user" => ("ユーザー", "user"),
        "group" => ("グループ", "group"),
        "role" => ("ロール", "role"),
        "tenant" => ("契約", "tenant"),
        "import" => ("取り込み", "import"),
        "upload" => ("ファイル", "file"),
        "questionnaire" => ("アンケート", "questionnaire"),
        _ => return kind.to_owned(),
    };
    page.say(ja, en)
}

fn result_label(page: &Page, result: &str) -> String {
    match result {
        "success" => page.say("成功", "success"),
        "failure" => page.say("失敗", "failure"),
        r => r.to_owned(),
    }
}

fn mail_kind_label(page: &Page, kind: &str) -> String {
    let (ja, en) = match kind {
        "invitation" => ("招待", "invitation"),
        "password_reset" => ("パスワード再設定", "password reset"),
        "notice" => ("お知らせ", "notice"),
        _ => return kind.to_owned(),
    };
    page.say(ja, en)
}

fn mail_status_label(page: &Page, status: &str) -> String {
    let (ja, en) = match status {
        "sent" => ("送信済み", "sent"),
        "failed" => ("送信失敗", "failed"),
        _ => return status.to_owned(),
    };
    page.say(ja, en)
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target_kind: String,
    target: String,
    result: String,
}

struct MailRow {
    at: String,
    to: String,
    kind: String,
    status: String,
}

#[derive(Template)]
#[template(path = "admin_log.html")]
struct LogPageView<'a> {
    c: Chrome,
    /// Which log: `audit` or `mail`.
    which: &'a str,
    action: &'a str,
    from: String,
    to: String,
    error: Option<String>,
    audit: Vec<AuditRow>,
    mail: Vec<MailRow>,
    first_href: Option<String>,
    next_href: Option<String>,
}

/// `GET /admin/audit-log`: the operation log.
pub async fn audit_log(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    log_page(&s, &p, &page, "audit")
        .await
        .unwrap_or_else(|e| page.failure(e))
}

/// `GET /admin/mail-log`: the mails sent for the tenant.
pub async fn mail_log(State(s): State<AppState>, Caller(p): Caller, page: Page) -> Reply {
    log_page(&s, &p, &page, "mail")
        .await
        .unwrap_or_else(|e| page.failure(e))
}

async fn log_page(
    s: &AppState,
    p: &Principal,
    page: &Page,
    which: &'static str,
) -> Result<Reply, AppError> {
    let action = if which == "audit" {
        "/admin/audit-log"
    } else {
        "/admin/mail-log"
    };
    let days = Days::of(page);
    let cursor = page.q("cursor").filter(|c| !c.is_empty());
    let mut view = LogPageView {
        c: page.console(p),
        which,
        action,
        from: days.from.clone(),
        to: days.to.clone(),
        error: None,
        audit: vec![],
        mail: vec![],
        first_href: cursor.map(|_| days.href(action, None)),
        next_href: None,
    };
    let window = match days.window(page) {
        Ok(w) => w,
        Err(msg) => {
            view.error = Some(msg);
            return Ok(page.html(StatusCode::BAD_REQUEST, &view));
        }
    };
    // A cursor this list did not give out starts it over.
    let req = PageRequest::first(PAGE_SIZE).after(cursor);
    let tenant = &p.scope.tenant;
    let next = if which == "audit" {
        let got = paging::or_first_page(req, |r| logs::audit(&s.svc, tenant, &window, r)).await?;
        view.audit = got
            .items
            .into_iter()
            .map(|e| AuditRow {
                at: shown(&e.at),
                actor: if e.actor.id == "operator" {
                    page.say("サービス運営者", "the service operator")
                } else {
                    e.actor.name.unwrap_or(e.actor.id)
                },
                action: action_label(page, &e.action),
                target_kind: target_label(page, &e.target.kind),
                target: e.target.id,
                result: result_label(page, &e.result),
            })
            .collect();
        got.next
    } else {
        let got = paging::or_first_page(req, |r| logs::mail(&s.svc, tenant, &window, r)).await?;
        view.mail = got
            .items
            .into_iter()
            .map(|e| MailRow {
                at: shown(&e.at),
                to: e.to,
                kind: mail_kind_label(page, &e.kind),
                status: mail_status_label(page, &e.status),
            })
            .collect();
        got.next
    };
    view.next_href = next.map(|n| days.href(action, Some(n.as_str())));
    Ok(page.html(StatusCode::OK, &view))
}
