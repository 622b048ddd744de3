//! Sessions end at the contract end whenever it was set, and a tenant being purged answers like a dead
//! session or link (401 / 400 `invalid_token`), never 404; on both backends.

use serde_json::json;

use kanri::app::AppError;
use kanri::app::principal;
use kanri::config::Backend;
use kanri_tests::{StatusCode, r_str, spawn_app_with};

async fn session_ends_at_a_contract_end_set_after_it_opened_and_dies_cleanly_in_the_purge(
    backend: Backend,
) {
    // Sessions long enough to outlive tonight's contract end.
    let app = spawn_app_with(backend, |c| {
        c.settings.session_ttl = time::Duration::hours(72)
    })
    .await;
    let t = app.onboard(5).await;
    let invited = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "招待 中", "email": "pending@example.jp", "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let link = app.link_token("pending@example.jp").await;

    // The contract ends tonight (JST): still in the future when it is set.
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap())
        .date();
    let r = app
        .post(
            &format!("/v1/ops/tenants/{}/terminate", t.id),
            Some(&app.operator_token),
            json!({"contract_end": today.to_string()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        app.get("/v1/me", &t.admin_token).await.status,
        StatusCode::OK
    );
    let end = today
        .next_day()
        .unwrap()
        .midnight()
        .assume_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap());
    let before =
        principal::authenticate(&app.svc, &t.admin_token, end - time::Duration::minutes(1)).await;
    assert!(before.is_ok(), "valid until the end");
    let after =
        principal::authenticate(&app.svc, &t.admin_token, end + time::Duration::minutes(1)).await;
    assert!(
        matches!(after, Err(AppError::Unauthenticated)),
        "the session opened before terminate ends at the contract end"
    );

    // 91 days later the purge starts on the tenant; this run gets through one item only.
    let as_of = end + time::Duration::days(91);
    let r = app
        .post(
            "/v1/ops/jobs/purge",
            Some(&app.operator_token),
            json!({"as_of": as_of.format(&time::format_description::well_known::Rfc3339).unwrap(), "max_items": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        r.body["in_progress"]
            .as_array()
            .expect("in_progress")
            .iter()
            .any(|p| p == t.id.as_str()),
        "{r:?}"
    );
    // Its session and its invitation are dead, not missing.
    let me = app.get("/v1/me", &t.admin_token).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated"),
        "{me:?}"
    );
    let set = app
        .post(
            "/v1/auth/set-password",
            None,
            json!({"token": link, "password": "Kanri-test-passw0rd!"}),
        )
        .await;
    assert_eq!(
        (set.status, set.code()),
        (StatusCode::BAD_REQUEST, "invalid_token"),
        "{set:?}"
    );
    assert!(r_str(&set.body["error"]["message"]).contains("invalid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded() {
    session_ends_at_a_contract_end_set_after_it_opened_and_dies_cleanly_in_the_purge(
        Backend::Embedded,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb() {
    session_ends_at_a_contract_end_set_after_it_opened_and_dies_cleanly_in_the_purge(Backend::Aws)
        .await;
}
