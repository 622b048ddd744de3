//! Bad rows and big inputs in CSV imports get a clear answer, never a 5xx or an import stuck `running`; on
//! both backends.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use kanri::app::imports::job as import_jobs;
use kanri::ports::{
    BatchWrite, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Write,
};
use kanri_tests::{App, HeldQueue, StatusCode, Tenant, both_backends, r_str, unique};

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

both_backends!(
    generated_passwords_for_more_rows_than_one_request_can_hash_are_refused_whole,
    |app: App| async move {
        let t = app.onboard(100).await;
        let prefix = unique("gen");
        let rows = kanri::app::imports::MAX_GENERATED_ROWS + 1;
        let mut file = String::from("name,email,login_id,role,groups\n");
        for i in 0..rows {
            file.push_str(&format!("人 {i},,{prefix}.{i},,\n"));
        }
        let seats = app.get("/v1/tenant", &t.admin_token).await.body["seats_used"].clone();
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                file.into_bytes(),
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request", Some("delivery")),
            "{r:?}"
        );
        assert!(
            r_str(&r.body["error"]["message"]).contains("at most 30 rows"),
            "{r:?}"
        );
        // Nothing was written: no seat taken, no user of the file.
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            seats
        );
        let found = app
            .get(&format!("/v1/users?q={prefix}"), &t.admin_token)
            .await;
        assert_eq!(
            found.body["items"].as_array().map(Vec::len),
            Some(0),
            "{found:?}"
        );
    }
);

/// Issues an upload and PUTs the bytes as a client would; returns the upload id.
pub(crate) async fn upload(app: &App, t: &Tenant, bytes: &[u8]) -> String {
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

pub(crate) async fn wait_import(app: &App, t: &Tenant, id: &str) -> Value {
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
            let principal = kanri::app::principal::authenticate(&svc, &t.admin_token, now)
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

both_backends!(
    an_upload_url_never_replaces_a_stored_file_nor_an_imported_one,
    |app: App| async move {
        let t = app.onboard(10).await;
        let file = format!(
            "name,email,login_id,role,groups\n一 人目,{}@example.jp,,,\n",
            unique("ow")
        );
        let r = app
            .post(
                "/v1/uploads",
                Some(&t.admin_token),
                json!({"purpose": "user_import", "filename": "users.csv", "content_type": "text/csv", "size": file.len()}),
            )
            .await;
        let url = app.reachable(&r_str(&r.body["upload_url"]));
        let headers = r.body["upload_headers"].as_object().unwrap().clone();
        let up = r_str(&r.body["id"]);
        let put = |bytes: Vec<u8>| {
            let mut req = app.http.put(&url);
            for (k, v) in &headers {
                req = req.header(k, v.as_str().unwrap());
            }
            req.body(bytes).send()
        };
        assert!(
            put(file.clone().into_bytes())
                .await
                .unwrap()
                .status()
                .is_success()
        );
        // Same size, other rows: refused, whatever the store.
        let evil = file.replace("一 人目", "悪 意者").into_bytes();
        assert_eq!(evil.len(), file.len());
        let again = put(evil.clone()).await.unwrap();
        let status = again.status();
        match app.backend {
            kanri::config::Backend::Embedded => {
                let body: Value = again.json().await.unwrap();
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (StatusCode::CONFLICT, Some("upload_stored")),
                    "{body}"
                );
            }
            // S3 answers 412 to the signed If-None-Match: *.
            kanri::config::Backend::Aws => {
                assert_eq!(status, StatusCode::PRECONDITION_FAILED);
                assert!(
                    url.contains("if-none-match"),
                    "the condition is signed: {url}"
                );
            }
        }
        // Once an import has taken the file, the same holds.
        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": up, "kind": "users"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert!(!put(evil).await.unwrap().status().is_success());
        let done = wait_import(&app, &t, &r_str(&r.body["id"])).await;
        assert_eq!(done["created"], 1, "{done}");
        let users = app.get("/v1/users?q=悪", &t.admin_token).await;
        assert_eq!(
            users.body["items"],
            json!([]),
            "the replacement never landed"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_file_urls_answer_every_refusal_in_the_json_error_format() {
    let app = kanri_tests::spawn_app(kanri::config::Backend::Embedded).await;
    let t = app.onboard(2).await;
    let r = app
        .post(
            "/v1/uploads",
            Some(&t.admin_token),
            json!({"purpose": "material", "filename": "a.pdf", "content_type": "application/pdf", "size": 4}),
        )
        .await;
    let url = app.reachable(&r_str(&r.body["upload_url"]));
    let path = url.split('?').next().unwrap().to_owned();
    let cases = [
        (
            app.http.get(&path),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            app.http
                .put(url.replace("sig=", "sig=0"))
                .header("content-type", "application/pdf")
                .body("abcd"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            app.http
                .put(&url)
                .header("content-type", "application/pdf")
                // One byte over the signed size: the server answers before reading a larger body, and a
                // client still sending one would see the connection close instead of the answer.
                .body(vec![b'x'; 5]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            app.http.delete(&url),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.http.get(format!("{}/files/", app.base)),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let resp = req.send().await.unwrap();
        let got = resp.status();
        let text = resp.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}
