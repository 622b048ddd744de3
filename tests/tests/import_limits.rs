//! Bad rows and big inputs in CSV imports get a clear answer, never a 5xx or an import stuck `running`; on
//! both backends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kanri::app::import_jobs;
use kanri::ports::{
    BatchWrite, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Write,
};
use kanri_tests::{App, HeldQueue, StatusCode, Tenant, both_backends, r_str, unique};
use serde_json::{Value, json};

/// A user file whose second row names `groups` new groups.
fn file_with_a_row_of_many_groups(prefix: &str, groups: usize) -> String {
    let many: Vec<String> = (0..groups).map(|i| format!("{prefix}-g{i:02}")).collect();
    format!(
        "name,email,login_id,role,groups\n\
         前 の人,{prefix}-a@example.jp,,,{prefix}-ok\n\
         多 すぎ,{prefix}-b@example.jp,,,{}\n\
         後 の人,{prefix}-c@example.jp,,,\n",
        many.join(";")
    )
}

async fn group_names(app: &App, t: &Tenant) -> Vec<String> {
    app.get("/v1/groups?limit=200", &t.admin_token).await.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|g| r_str(&g["name"]))
        .collect()
}

both_backends!(
    a_row_naming_too_many_groups_fails_alone_and_creates_none_of_them,
    |app: App| async move {
        let t = app.onboard(10).await;
        let prefix = unique("mg");
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                file_with_a_row_of_many_groups(&prefix, 60).into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["created"], 2, "{r:?}");
        assert_eq!(r.body["failed"][0]["line"], 3);
        assert_eq!(r.body["failed"][0]["code"], "invalid_request");
        assert!(
            r_str(&r.body["failed"][0]["message"]).contains("at most 20 groups"),
            "{r:?}"
        );
        // Both good rows show their generated password; the refused row made no group.
        assert!(
            r.body["users"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["initial_password"].is_string())
        );
        assert_eq!(group_names(&app, &t).await, [format!("{prefix}-ok")]);

        // A row refused for another reason (its address is taken) creates none of its groups either.
        let again =
            format!("name,email,login_id,role,groups\n重複,{prefix}-a@example.jp,,,{prefix}-new\n");
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                again.into_bytes(),
            )
            .await;
        assert_eq!(r.body["failed"][0]["code"], "email_taken", "{r:?}");
        assert_eq!(group_names(&app, &t).await, [format!("{prefix}-ok")]);

        // Twenty groups fit one row's transaction.
        let twenty = file_with_a_row_of_many_groups(&unique("tw"), 20);
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=invite_link",
                &t.admin_token,
                "text/csv",
                twenty.into_bytes(),
            )
            .await;
        assert_eq!(
            (r.status, r.body["created"].as_i64()),
            (StatusCode::OK, Some(3)),
            "{r:?}"
        );
    }
);

/// Issues an upload and PUTs the bytes as a client would; returns the upload id.
async fn upload(app: &App, t: &Tenant, bytes: &[u8]) -> String {
    let r = app
        .post(
            "/v1/uploads",
            Some(&t.admin_token),
            json!({"purpose": "user_import", "filename": "users.csv", "content_type": "text/csv", "size": bytes.len()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let mut req = app.http.put(app.reachable(&r_str(&r.body["upload_url"])));
    for (k, v) in r.body["upload_headers"].as_object().expect("headers") {
        req = req.header(k, v.as_str().expect("header value"));
    }
    let put = req.body(bytes.to_vec()).send().await.expect("PUT");
    assert!(put.status().is_success(), "PUT answered {}", put.status());
    r_str(&r.body["id"])
}

async fn wait_import(app: &App, t: &Tenant, id: &str) -> Value {
    for _ in 0..600 {
        let r = app.get(&format!("/v1/imports/{id}"), &t.admin_token).await;
        if r.body["status"] == "done" || r.body["status"] == "failed" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("import {id} did not end");
}

both_backends!(
    a_background_import_reports_a_row_of_too_many_groups_and_ends,
    |app: App| async move {
        let t = app.onboard(10).await;
        let prefix = unique("bg");
        let up = upload(
            &app,
            &t,
            file_with_a_row_of_many_groups(&prefix, 60).as_bytes(),
        )
        .await;
        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": up, "kind": "users"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let done = wait_import(&app, &t, &r_str(&r.body["id"])).await;
        assert_eq!(
            (
                done["status"].as_str(),
                done["created"].as_i64(),
                done["failed"].as_i64()
            ),
            (Some("done"), Some(2), Some(1)),
            "{done}"
        );
        assert_eq!(done["failed_rows"][0]["line"], 3, "{done}");
        let gone = app.get(&format!("/v1/uploads/{up}"), &t.admin_token).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "the file is deleted");
    }
);

/// A store whose user-creating transactions fail with the given error.
struct Failing {
    inner: Arc<dyn ItemStore>,
    error: fn() -> StoreError,
}

#[async_trait]
impl ItemStore for Failing {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        self.inner.get(table, pk, sk).await
    }
    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
        self.inner.batch_get(table, keys).await
    }
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        if writes.iter().any(|w| w.target().2.starts_with("USER#")) {
            return Err((self.error)());
        }
        self.inner.transact(writes).await
    }
    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
        self.inner.batch_write(table, writes).await
    }
}

both_backends!(
    an_import_that_cannot_go_on_ends_failed_with_a_reason_and_its_file_deleted,
    |app: App| async move {
        let t = app.onboard(10).await;
        let now = time::OffsetDateTime::now_utc();
        for (error, runs) in [
            // A request the store refuses will be refused again: the first run ends the import.
            (
                (|| StoreError::Invalid("a transaction holds at most 100 writes (test)".into()))
                    as fn() -> StoreError,
                1,
            ),
            // A store that keeps failing: retried, and the last attempt ends the import.
            (
                || StoreError::Backend {
                    message: "unavailable (test)".into(),
                    source: None,
                },
                import_jobs::MAX_ATTEMPTS,
            ),
        ] {
            let prefix = unique("st");
            let file =
                format!("name,email,login_id,role,groups\n一 人目,{prefix}-1@example.jp,,,\n");
            let up = upload(&app, &t, file.as_bytes()).await;
            let held = Arc::new(HeldQueue::default());
            let failing = Arc::new(Failing {
                inner: app.svc.store.clone(),
                error,
            });
            let svc = app.services_with(Some(failing), None, Some(held.clone()));
            let principal = kanri::app::auth::authenticate(&svc, &t.admin_token, now)
                .await
                .unwrap();
            let id = import_jobs::start(&svc, &principal, &up, import_jobs::Kind::Users, None, now)
                .await
                .unwrap();
            for run in 1..=runs {
                let r = import_jobs::run(&svc, &t.id, &id, import_jobs::ROWS_PER_TASK, now).await;
                let status = app
                    .get(&format!("/v1/imports/{id}"), &t.admin_token)
                    .await
                    .body;
                if run < runs {
                    assert!(r.is_err(), "run {run}: retried: {r:?}");
                    assert_eq!(status["status"], "running", "run {run}: {status}");
                } else {
                    assert!(r.is_ok(), "run {run}: {r:?}");
                    assert_eq!(status["status"], "failed", "{status}");
                    assert!(
                        r_str(&status["message"]).contains("error on our side"),
                        "{status}"
                    );
                }
            }
            let gone = app.get(&format!("/v1/uploads/{up}"), &t.admin_token).await;
            assert_eq!(gone.status, StatusCode::NOT_FOUND, "the file is deleted");
        }
    }
);
