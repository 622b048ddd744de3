//! The dry run of a user import (`imports::preview_users`, the console's preview before anything is
//! written) writes nothing and agrees with the import it stands for: the synchronous one and the
//! background one, on a Shift_JIS (CP932) file with good and bad rows, on both backends.

use serde_json::Value;

use crate::import_limits::{upload, wait_import};
use kanri::app::imports::{UserImportPreview, preview_users};
use kanri::app::principal;
use kanri::app::records::user::Delivery;
use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str};

/// Three good rows, then one for which no seat is left (the tenant has 4, the admin holds one), and
/// rows that fail for their own reasons: no name, an address earlier in the file, the admin's address,
/// no address for an invitation, an unknown role. Excel's CP932, CRLF.
fn file(t: &Tenant) -> Vec<u8> {
    let text = format!(
        "name,email,login_id,role,groups\r\n\
         山田 花子,hanako@{d},,,新設部\r\n\
         ,nobody@{d},,,\r\n\
         鈴木 一郎,ichiro@{d},,,\r\n\
         重複,HANAKO@{d},,,\r\n\
         既存,{},,,\r\n\
         ログインのみ,,loginonly,,\r\n\
         役割不明,role@{d},,社長,\r\n\
         高橋 三郎,saburo@{d},,,新設部\r\n\
         渡辺 四郎,shiro@{d},,,\r\n",
        t.admin_email,
        d = domain(t)
    );
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file is not UTF-8"
    );
    bytes.into_owned()
}

/// Addresses of this tenant only: other tests mail `@example.jp` on the same mail record (moto's SES).
fn domain(t: &Tenant) -> String {
    format!("{}.example.jp", t.slug)
}

const EXPECTED_FAILED: [(u64, &str); 6] = [
    (3, "invalid_request"),
    (5, "email_taken"),
    (6, "email_taken"),
    (7, "delivery_requires_email"),
    (8, "invalid_request"),
    (10, "seat_limit_reached"),
];

async fn preview(app: &App, t: &Tenant, bytes: &[u8]) -> UserImportPreview {
    let p = principal::authenticate(&app.svc, &t.admin_token, kanri::domain::time::now())
        .await
        .expect("session");
    preview_users(
        &app.svc,
        &p.scope,
        &p.authority(),
        bytes,
        Delivery::InviteLink,
    )
    .await
    .expect("preview")
}

fn failed_of(v: &UserImportPreview) -> Vec<(u64, String)> {
    v.failed
        .iter()
        .map(|f| (f.line, f.error.code().to_owned()))
        .collect()
}

fn lines(r: &Value, key: &str) -> Vec<(u64, String)> {
    r[key]
        .as_array()
        .expect(key)
        .iter()
        .map(|f| (f["line"].as_u64().unwrap_or(0), r_str(&f["code"])))
        .collect()
}

/// Users, groups and seats of the tenant, through the API.
async fn state(app: &App, t: &Tenant) -> (usize, Vec<String>, i64) {
    let users = app.get("/v1/users?limit=100", &t.admin_token).await.body;
    let groups = app.get("/v1/groups", &t.admin_token).await.body;
    let tenant = app.get("/v1/tenant", &t.admin_token).await.body;
    (
        users["items"].as_array().expect("items").len(),
        groups["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|g| r_str(&g["name"]))
            .collect(),
        tenant["seats_used"].as_i64().expect("seats_used"),
    )
}

fn check_preview(v: &UserImportPreview, t: &Tenant) {
    assert_eq!(v.rows, 9);
    assert_eq!(
        v.to_create.iter().map(|r| r.line).collect::<Vec<_>>(),
        [2, 4, 9]
    );
    assert_eq!(v.to_create[0].name, "山田 花子");
    assert_eq!(v.to_create[0].login, format!("hanako@{}", domain(t)));
    assert_eq!(v.to_create[0].groups, ["新設部"]);
    let expected: Vec<(u64, String)> = EXPECTED_FAILED
        .iter()
        .map(|(l, c)| (*l, (*c).to_owned()))
        .collect();
    assert_eq!(failed_of(v), expected);
    assert_eq!(
        (v.seats_used, v.seat_limit, v.seats_left_after()),
        (1, 4, 0)
    );
    assert_eq!(v.new_groups, ["新設部"]);
}

both_backends!(
    import_preview_writes_nothing_and_agrees_with_the_synchronous_import,
    |app: App| async move {
        let t = app.onboard(4).await;
        let bytes = file(&t);
        let before = state(&app, &t).await;
        let v = preview(&app, &t, &bytes).await;
        check_preview(&v, &t);
        // Nothing written: no user, no group, no seat.
        assert_eq!(state(&app, &t).await, before);
        assert_eq!(before, (1, vec![], 1));

        let r = app
            .post_bytes(
                "/v1/users/import?delivery=invite_link",
                &t.admin_token,
                "text/csv",
                bytes.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let created: Vec<u64> = r.body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["line"].as_u64().unwrap_or(0))
            .collect();
        assert_eq!(
            created,
            v.to_create.iter().map(|r| r.line).collect::<Vec<_>>()
        );
        assert_eq!(lines(&r.body, "failed"), failed_of(&v));
        let (users, groups, seats) = state(&app, &t).await;
        assert_eq!(users, 1 + v.to_create.len());
        assert_eq!(groups, v.new_groups);
        assert_eq!(4 - seats, v.seats_left_after());

        // The same file again: the preview now says what the import would now do.
        let again = preview(&app, &t, &bytes).await;
        assert!(again.to_create.is_empty());
        assert!(again.new_groups.is_empty());
        assert!(
            again
                .failed
                .iter()
                .any(|f| f.line == 2 && f.error.code() == "email_taken")
        );
    }
);

both_backends!(
    import_preview_agrees_with_the_background_import,
    |app: App| async move {
        let t = app.onboard(4).await;
        let bytes = file(&t);
        let v = preview(&app, &t, &bytes).await;
        check_preview(&v, &t);
        let upload_id = upload(&app, &t, &bytes).await;
        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                serde_json::json!({"upload_id": upload_id, "kind": "users"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let done = wait_import(&app, &t, &r_str(&r.body["id"])).await;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(done["created"].as_u64(), Some(v.to_create.len() as u64));
        assert_eq!(lines(&done, "failed_rows"), failed_of(&v));
        let (users, groups, seats) = state(&app, &t).await;
        assert_eq!(users, 1 + v.to_create.len());
        assert_eq!(groups, v.new_groups);
        assert_eq!(4 - seats, v.seats_left_after());
    }
);
