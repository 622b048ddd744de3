//! Uploads (presigned transfers, encryption at rest, limits, tenant isolation, clean-up) and background
//! imports (progress, failed rows, an import interrupted and resumed), on both backends (S3 and DynamoDB
//! through moto).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use kanri::app::imports::job as import_jobs;
use kanri::config::Backend;
use kanri::ports::{
    BatchWrite, Item, ItemStore, Page, Query, StoreError, StoreResult, Table, Task, Write,
};
use kanri_tests::{App, HeldQueue, StatusCode, Tenant, both_backends, r_str, unique};

/// Issues an upload and PUTs the bytes as a client would; returns the upload id.
async fn upload(app: &App, t: &Tenant, purpose: &str, ctype: &str, bytes: &[u8]) -> String {
    let r = app
        .post(
            "/v1/uploads",
            Some(&t.admin_token),
            json!({"purpose": purpose, "filename": "研修資料 2026.csv", "content_type": ctype, "size": bytes.len()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["upload_method"], "PUT");
    assert!(r_str(&r.body["expires_at"]).ends_with("+09:00"));
    let mut req = app.http.put(app.reachable(&r_str(&r.body["upload_url"])));
    for (k, v) in r.body["upload_headers"].as_object().expect("headers") {
        req = req.header(k, v.as_str().expect("header value"));
    }
    let put = req.body(bytes.to_vec()).send().await.expect("PUT");
    assert!(put.status().is_success(), "PUT answered {}", put.status());
    r_str(&r.body["id"])
}

both_backends!(
    an_upload_round_trips_and_is_stored_encrypted,
    |app: App| async move {
        let t = app.onboard(5).await;
        let marker = format!("社外秘-{}", unique("m"));
        let bytes: Vec<u8> = format!("name,email\n{marker},x@example.jp\n")
            .repeat(200)
            .into_bytes();
        let r = app
            .post(
                "/v1/uploads",
                Some(&t.admin_token),
                json!({"purpose": "material", "filename": "資料.pdf", "content_type": "application/pdf", "size": bytes.len()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r_str(&r.body["id"]);
        let headers = r.body["upload_headers"].as_object().unwrap().clone();
        if app.backend == Backend::Aws {
            // The presigned PUT signs SSE-KMS: a client cannot store the file unencrypted.
            assert_eq!(
                headers["x-amz-server-side-encryption"], "aws:kms",
                "{headers:?}"
            );
            assert!(r_str(&r.body["upload_url"]).contains("X-Amz-Signature="));
        }
        // Pending until the bytes arrive.
        let g = app.get(&format!("/v1/uploads/{id}"), &t.admin_token).await;
        assert_eq!(
            (g.body["status"].clone(), g.body["download_url"].clone()),
            (json!("pending"), Value::Null),
            "{g:?}"
        );
        let mut req = app.http.put(app.reachable(&r_str(&r.body["upload_url"])));
        for (k, v) in &headers {
            req = req.header(k, v.as_str().unwrap());
        }
        let put = req.body(bytes.clone()).send().await.unwrap();
        assert!(put.status().is_success(), "{}", put.status());

        let g = app.get(&format!("/v1/uploads/{id}"), &t.admin_token).await;
        assert_eq!(g.status, StatusCode::OK, "{g:?}");
        assert_eq!(g.body["status"], "stored");
        assert_eq!(g.body["filename"], "資料.pdf");
        assert_eq!(g.body["size"], bytes.len());
        let got = app
            .http
            .get(app.reachable(&r_str(&g.body["download_url"])))
            .send()
            .await
            .unwrap();
        assert!(got.status().is_success(), "{}", got.status());
        assert_eq!(
            got.bytes().await.unwrap().to_vec(),
            bytes,
            "the bytes come back unchanged"
        );

        // At rest: sealed under the tenant key on the local store; SSE-KMS on S3.
        let key = format!("materials/{}/{id}", t.id);
        match app.backend {
            Backend::Embedded => {
                let stored = std::fs::read(app.data_dir.join("files").join(&key)).unwrap();
                assert_ne!(stored, bytes);
                assert!(!String::from_utf8_lossy(&stored).contains(&marker));
                assert!(stored.len() >= bytes.len() + 12 + 16);
            }
            Backend::Aws => {
                let head = app
                    .http
                    .head(format!("{}/{}/{key}", kanri_tests::aws().endpoint, kanri_tests::aws().bucket))
                    .header("authorization", "AWS4-HMAC-SHA256 Credential=testing/20261126/ap-northeast-1/s3/aws4_request, SignedHeaders=host, Signature=0")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    head.headers()
                        .get("x-amz-server-side-encryption")
                        .and_then(|v| v.to_str().ok()),
                    Some("aws:kms"),
                    "{:?}",
                    head.headers()
                );
            }
        }
        // The file name is personal data too: not in the store in plain text.
        assert!(!kanri_tests::dump_store(&app).await.contains("資料.pdf"));

        // Another tenant sees nothing of it.
        let other = app.onboard(2).await;
        let r = app
            .get(&format!("/v1/uploads/{id}"), &other.admin_token)
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
        let r = app
            .delete(&format!("/v1/uploads/{id}"), &other.admin_token)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // DELETE removes object and record.
        let r = app
            .delete(&format!("/v1/uploads/{id}"), &t.admin_token)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        let r = app.get(&format!("/v1/uploads/{id}"), &t.admin_token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(app.svc.files.size(&key).await.unwrap(), None);
        let log = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
        let actions: Vec<String> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| r_str(&e["action"]))
            .collect();
        assert!(
            actions.contains(&"upload.create".to_owned())
                && actions.contains(&"upload.delete".to_owned())
        );
    }
);

both_backends!(
    sizes_and_types_a_purpose_does_not_take_are_refused_before_any_url,
    |app: App| async move {
        let t = app.onboard(5).await;
        let mib: u64 = 1024 * 1024;
        for (body, status, code) in [
            (
                json!({"purpose": "material", "filename": "a.mp4", "content_type": "video/mp4", "size": 100 * mib + 1}),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                json!({"purpose": "user_import", "filename": "a.csv", "content_type": "text/csv", "size": 20 * mib + 1}),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                json!({"purpose": "group_import", "filename": "a.png", "content_type": "image/png", "size": 10}),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                json!({"purpose": "material", "filename": "a.exe", "content_type": "application/x-msdownload", "size": 10}),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                json!({"purpose": "material", "filename": "a.pdf", "content_type": "application/pdf", "size": 0}),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                json!({"purpose": "avatar", "filename": "a.pdf", "content_type": "application/pdf", "size": 1}),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                json!({"purpose": "material", "filename": "", "content_type": "application/pdf", "size": 1}),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                json!({"purpose": "material", "filename": "a.pdf", "content_type": "application/pdf", "size": -1}),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
        ] {
            let r = app
                .post("/v1/uploads", Some(&t.admin_token), body.clone())
                .await;
            assert_eq!((r.status, r.code()), (status, code), "{body}: {r:?}");
        }
        // The limits themselves are allowed.
        let r = app
            .post("/v1/uploads", Some(&t.admin_token), json!({"purpose": "material", "filename": "a.mp4", "content_type": "video/mp4", "size": 100 * mib}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        // Nothing was recorded for the refused ones: the tenant holds exactly the one upload.
        let uploads = app
            .svc
            .store
            .query(&Query::prefix(
                Table::Data,
                format!("T#{}", t.id),
                "UPLOAD#",
            ))
            .await
            .unwrap();
        assert_eq!(uploads.items.len(), 1);
        if app.backend == Backend::Embedded {
            // The local URL holds to the declared size and type, and to its signature.
            let url = app.reachable(&r_str(&r.body["upload_url"]));
            let wrong_size = app
                .http
                .put(&url)
                .header("content-type", "video/mp4")
                .body(vec![0u8; 10])
                .send()
                .await
                .unwrap();
            assert_eq!(wrong_size.status(), StatusCode::BAD_REQUEST);
            let wrong_type = app
                .http
                .put(&url)
                .header("content-type", "text/plain")
                .body(vec![0u8; 10])
                .send()
                .await
                .unwrap();
            assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
            let forged = url.replace("size=104857600", "size=10");
            let forged = app
                .http
                .put(&forged)
                .header("content-type", "video/mp4")
                .body(vec![0u8; 10])
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        }
    }
);

/// Runs the clean-up on its own data table: on the shared DynamoDB tables it would also clean up the
/// uploads of tests running alongside.
async fn isolated_app(backend: Backend) -> App {
    match backend {
        Backend::Embedded => kanri_tests::spawn_app(backend).await,
        Backend::Aws => {
            let table = unique("kanri-data-cleanup-");
            let sdk = kanri::adapters::aws::sdk_config(Some(&kanri_tests::aws().endpoint)).await;
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            use aws_sdk_dynamodb::types::{
                AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            };
            ddb.create_table()
                .table_name(&table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("pk")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("sk")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("pk")
                        .key_type(KeyType::Hash)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("sk")
                        .key_type(KeyType::Range)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .expect("table");
            kanri_tests::spawn_app_with(backend, |c| c.table = table).await
        }
    }
}

async fn cleanup(app: &App, as_of: time::OffsetDateTime) -> Value {
    let r = app
        .post(
            "/v1/ops/jobs/cleanup-uploads",
            Some(&app.operator_token),
            json!({"as_of": as_of.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cleanup_deletes_uploads_never_completed_after_24_hours_embedded() {
    cleanup_case(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cleanup_deletes_uploads_never_completed_after_24_hours_dynamodb() {
    cleanup_case(Backend::Aws).await;
}

async fn cleanup_case(backend: Backend) {
    let app = isolated_app(backend).await;
    let t = app.onboard(5).await;
    let now = time::OffsetDateTime::now_utc();
    let stored = upload(&app, &t, "material", "text/plain", b"kept").await;
    let import_file = upload(&app, &t, "user_import", "text/csv", b"name,email\n").await;
    let r = app
        .post("/v1/uploads", Some(&t.admin_token), json!({"purpose": "material", "filename": "never.pdf", "content_type": "application/pdf", "size": 5}))
        .await;
    let pending = r_str(&r.body["id"]);
    // Before 24 hours nothing goes.
    assert_eq!(
        cleanup(&app, now + time::Duration::hours(23)).await["deleted"],
        0
    );
    for id in [&stored, &import_file, &pending] {
        assert_eq!(
            app.get(&format!("/v1/uploads/{id}"), &t.admin_token)
                .await
                .status,
            StatusCode::OK
        );
    }
    // After: the pending upload and the import file nobody imported go; the stored material stays.
    assert_eq!(
        cleanup(&app, now + time::Duration::hours(25)).await["deleted"],
        2
    );
    assert_eq!(
        app.get(&format!("/v1/uploads/{pending}"), &t.admin_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/uploads/{import_file}"), &t.admin_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.svc
            .files
            .size(&format!("imports/{}/{import_file}", t.id))
            .await
            .unwrap(),
        None
    );
    let g = app
        .get(&format!("/v1/uploads/{stored}"), &t.admin_token)
        .await;
    assert_eq!(g.body["status"], "stored");
    // A second run finds nothing more.
    assert_eq!(
        cleanup(&app, now + time::Duration::hours(26)).await["deleted"],
        0
    );
    // A bad as_of is a 400.
    let r = app
        .post(
            "/v1/ops/jobs/cleanup-uploads",
            Some(&app.operator_token),
            json!({"as_of": "tomorrow"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

fn users_csv(prefix: &str, n: usize, bad_lines: &[usize]) -> Vec<u8> {
    let mut s = String::from("name,email,login_id,role,groups\n");
    for i in 0..n {
        if bad_lines.contains(&i) {
            s.push_str(&format!("Bad {i},not-an-address,,,\n"));
        } else {
            s.push_str(&format!("利用者 {i},{prefix}-{i}@example.jp,,,\n"));
        }
    }
    s.into_bytes()
}

async fn wait_import(app: &App, t: &Tenant, id: &str) -> Value {
    for _ in 0..600 {
        let r = app.get(&format!("/v1/imports/{id}"), &t.admin_token).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        if r.body["status"] == "done" || r.body["status"] == "failed" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("import {id} did not end");
}

both_backends!(
    a_background_import_reports_progress_and_failed_rows_and_removes_its_file,
    |app: App| async move {
        let t = app.onboard(100).await;
        let prefix = unique("bg");
        let file = users_csv(&prefix, 60, &[3, 41]);
        let up = upload(&app, &t, "user_import", "text/csv", &file).await;
        // Wrong kind for the file, generated passwords, unknown upload: 400; nothing queued.
        for (body, field) in [
            (json!({"upload_id": up, "kind": "groups"}), "upload_id"),
            (
                json!({"upload_id": up, "kind": "users", "delivery": "generated"}),
                "delivery",
            ),
            (json!({"upload_id": "nope", "kind": "users"}), "upload_id"),
            (json!({"upload_id": "\u{0}", "kind": "users"}), "upload_id"),
            (json!({"upload_id": up, "kind": "roles"}), "kind"),
        ] {
            let r = app
                .post("/v1/imports", Some(&t.admin_token), body.clone())
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{body}: {r:?}"
            );
            assert_eq!(r.body["error"]["field"], field, "{r:?}");
        }
        // A file not PUT yet cannot be imported.
        let r = app
            .post("/v1/uploads", Some(&t.admin_token), json!({"purpose": "user_import", "filename": "x.csv", "content_type": "text/csv", "size": 10}))
            .await;
        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": r.body["id"], "kind": "users"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "upload_pending"),
            "{r:?}"
        );

        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": up, "kind": "users", "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let id = r_str(&r.body["id"]);
        // The same file twice: refused.
        let again = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": up, "kind": "users"}),
            )
            .await;
        assert!(
            matches!(again.status, StatusCode::CONFLICT | StatusCode::BAD_REQUEST),
            "{again:?}"
        );

        let done = wait_import(&app, &t, &id).await;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(
            (
                done["total"].clone(),
                done["processed"].clone(),
                done["created"].clone(),
                done["failed"].clone()
            ),
            (json!(60), json!(60), json!(58), json!(2)),
            "{done}"
        );
        let lines: Vec<i64> = done["failed_rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![5, 43], "{done}");
        assert!(
            done["failed_rows"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["code"] == "invalid_request")
        );
        // The users exist and were invited.
        let users = app.get("/v1/users?limit=200", &t.admin_token).await;
        assert_eq!(users.body["items"].as_array().unwrap().len(), 59);
        assert!(
            app.mails_to(&format!("{prefix}-0@example.jp"))
                .await
                .iter()
                .any(|m| m.contains("/set-password?token="))
        );
        // The import file is gone once the import ended.
        assert_eq!(
            app.get(&format!("/v1/uploads/{up}"), &t.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // Ids that cannot be ours are unknown (404), never a server error.
        for path in ["/v1/imports/%00", "/v1/uploads/%00", "/v1/imports/x"] {
            let r = app.get(path, &t.admin_token).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
        }
        // Another tenant cannot see the import.
        let other = app.onboard(2).await;
        assert_eq!(
            app.get(&format!("/v1/imports/{id}"), &other.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        // A group file too.
        let groups = format!(
            "group_name,members\n営業部,{prefix}-1@example.jp;{prefix}-2@example.jp\n開発部,{prefix}-9@example.jp;nobody@example.jp\n"
        );
        let gup = upload(&app, &t, "group_import", "text/csv", groups.as_bytes()).await;
        let r = app
            .post(
                "/v1/imports",
                Some(&t.admin_token),
                json!({"upload_id": gup, "kind": "groups"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        let done = wait_import(&app, &t, &r_str(&r.body["id"])).await;
        assert_eq!(done["status"], "done", "{done}");
        let g = app.get("/v1/groups?q=営業", &t.admin_token).await;
        assert_eq!(g.body["items"][0]["member_count"], 2, "{g:?}");
    }
);

/// A store that fails every transaction after the first `ok` ones: the worker "dies" half-way.
struct Dying {
    inner: Arc<dyn ItemStore>,
    ok: usize,
    seen: AtomicUsize,
}

#[async_trait]
impl ItemStore for Dying {
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
        if self.seen.fetch_add(1, Ordering::SeqCst) >= self.ok {
            return Err(StoreError::Backend {
                message: "the worker died (test)".into(),
                source: None,
            });
        }
        self.inner.transact(writes).await
    }
    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
        self.inner.batch_write(table, writes).await
    }
}

both_backends!(
    an_import_interrupted_half_way_resumes_without_creating_anyone_twice,
    |app: App| async move {
        let rows = 1500;
        let t = app.onboard(rows as i64 + 10).await;
        let prefix = unique("rs");
        let file = users_csv(&prefix, rows, &[10, 1450]);
        let up = upload(&app, &t, "user_import", "text/csv", &file).await;
        // The import is queued where the test holds it, so the test plays the worker.
        let held = Arc::new(HeldQueue::default());
        let svc = app.services_with(None, None, Some(held.clone()));
        let now = time::OffsetDateTime::now_utc();
        let principal = kanri::app::principal::authenticate(&svc, &t.admin_token, now)
            .await
            .unwrap();
        let id = import_jobs::start(&svc, &principal, &up, import_jobs::Kind::Users, None, now)
            .await
            .unwrap();
        let task = held.0.lock().unwrap().pop().expect("queued");
        assert_eq!(
            task,
            Task::Import {
                tenant: t.id.clone(),
                import: id.clone()
            }
        );

        // First worker: dies after 58 transactions, in the middle of the second chunk (the first chunk of
        // 1000 rows takes about 46: its status, 44 of about 23 rows each, its progress).
        let dying = Arc::new(Dying {
            inner: app.svc.store.clone(),
            ok: 58,
            seen: AtomicUsize::new(0),
        });
        let first = app.services_with(Some(dying), None, Some(held.clone()));
        let err = import_jobs::run(&first, &t.id, &id, import_jobs::ROWS_PER_TASK, now).await;
        assert!(err.is_err(), "{err:?}");
        let mid = app
            .get(&format!("/v1/imports/{id}"), &t.admin_token)
            .await
            .body;
        assert_eq!(mid["status"], "running", "{mid}");
        let (processed, created) = (
            mid["processed"].as_i64().unwrap(),
            mid["created"].as_i64().unwrap(),
        );
        assert!(processed > 1000 && processed < rows as i64, "{mid}");
        assert_eq!(created, processed - 1, "one bad row so far: {mid}");

        // The task comes back (SQS redelivers it): the import resumes after the last committed row. It
        // comes back later than the dead worker's hold on its unmailed invitations (30 s).
        let later = now + import_jobs::INVITES_LEASE + time::Duration::seconds(1);
        let r = import_jobs::run(&svc, &t.id, &id, import_jobs::ROWS_PER_TASK, later)
            .await
            .unwrap();
        assert!(r.finished, "{r:?}");
        assert_eq!(r.processed as i64, rows as i64 - processed);
        // And a late duplicate delivery does nothing.
        let r = import_jobs::run(&svc, &t.id, &id, import_jobs::ROWS_PER_TASK, now)
            .await
            .unwrap();
        assert_eq!(
            r,
            import_jobs::RunReport {
                processed: 0,
                finished: true
            }
        );

        let done = app
            .get(&format!("/v1/imports/{id}"), &t.admin_token)
            .await
            .body;
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(
            (
                done["processed"].as_i64(),
                done["created"].as_i64(),
                done["failed"].as_i64()
            ),
            (Some(rows as i64), Some(rows as i64 - 2), Some(2)),
            "{done}"
        );
        let lines: Vec<i64> = done["failed_rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["line"].as_i64().unwrap())
            .collect();
        assert_eq!(
            lines,
            vec![12, 1452],
            "only the bad rows failed, none as taken: {done}"
        );
        // Exactly one user per good row, and the seat count agrees.
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/users?limit=200&cursor={c}"),
                None => "/v1/users?limit=200".into(),
            };
            let page = app.get(&path, &t.admin_token).await.body;
            n += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(n, rows - 2 + 1, "the admin and every good row once");
        let tenant = app.get("/v1/tenant", &t.admin_token).await.body;
        assert_eq!(tenant["seats_used"], n);

        // Every good row's user got exactly one invitation: also those the dead worker created and did
        // not mail (their links were issued again by the resumed run).
        let mails = app.mails().await;
        let mut per_address = std::collections::HashMap::new();
        for (to, body) in &mails {
            if to.starts_with(&prefix) && body.contains("/set-password?token=") {
                *per_address.entry(to.clone()).or_insert(0) += 1;
            }
        }
        for i in (0..rows).filter(|i| ![10, 1450].contains(i)) {
            let to = format!("{prefix}-{i}@example.jp");
            assert_eq!(per_address.get(&to), Some(&1), "{to}");
        }
        assert_eq!(per_address.len(), rows - 2);
        // The newest invitation (one issued again, if any was) works.
        let (last, _) = mails
            .iter()
            .rev()
            .find(|(to, _)| to.starts_with(&prefix))
            .unwrap();
        app.accept_invitation(&t.slug, last).await;
    }
);

/// Counts the tenant's users page by page.
async fn user_count(app: &App, t: &Tenant) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?limit=200&cursor={c}"),
            None => "/v1/users?limit=200".into(),
        };
        let page = app.get(&path, &t.admin_token).await.body;
        n += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return n,
        }
    }
}

both_backends!(
    an_admin_cancels_an_import_its_file_goes_at_once_and_its_run_stops,
    |app: App| async move {
        let rows = 1200;
        let t = app.onboard(rows as i64 + 10).await;
        let prefix = unique("cx");
        let up = upload(
            &app,
            &t,
            "user_import",
            "text/csv",
            &users_csv(&prefix, rows, &[]),
        )
        .await;
        let held = Arc::new(HeldQueue::default());
        let svc = app.services_with(None, None, Some(held.clone()));
        let now = time::OffsetDateTime::now_utc();
        let principal = kanri::app::principal::authenticate(&svc, &t.admin_token, now)
            .await
            .unwrap();
        let id = import_jobs::start(&svc, &principal, &up, import_jobs::Kind::Users, None, now)
            .await
            .unwrap();
        held.0.lock().unwrap().clear();
        // The worker gets through the first 1000 rows, then the admin cancels.
        let r = import_jobs::run(&svc, &t.id, &id, 1000, now).await.unwrap();
        assert_eq!((r.processed, r.finished), (1000, false), "{r:?}");
        let next = held.0.lock().unwrap().pop().expect("continuation queued");

        let path = format!("/v1/imports/{id}/cancel");
        let other = app.onboard(2).await;
        let r = app.post(&path, Some(&other.admin_token), json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "another tenant: {r:?}");
        let r = app
            .post("/v1/imports/nope/cancel", Some(&t.admin_token), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        let r = app.post(&path, Some(&t.admin_token), json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["status"], "cancelled", "{r:?}");
        assert_eq!(r.body["processed"], 1000, "{r:?}");
        // The file (names and addresses) is gone at once, record and object.
        assert_eq!(
            app.get(&format!("/v1/uploads/{up}"), &t.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.svc
                .files
                .size(&format!("imports/{}/{up}", t.id))
                .await
                .unwrap(),
            None
        );
        // Once ended, it cannot be cancelled again.
        let r = app.post(&path, Some(&t.admin_token), json!({})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "import_ended"),
            "{r:?}"
        );
        // The continuation runs and stops: nobody more is created, and the import stays cancelled.
        kanri::worker::run_task(&svc, &next).await.unwrap();
        let after = app.get(&format!("/v1/imports/{id}"), &t.admin_token).await;
        assert_eq!(after.body["status"], "cancelled", "{after:?}");
        assert_eq!(after.body["created"], 1000, "{after:?}");
        assert_eq!(user_count(&app, &t).await, 1001);
        // The users created before the cancellation got their invitations.
        let mails = app.mails().await;
        assert_eq!(
            mails
                .iter()
                .filter(|(to, _)| to.starts_with(&prefix))
                .count(),
            1000
        );
        // Cancelling needs what starting needs.
        let doc = app.get("/v1/openapi.json", &t.admin_token).await.body;
        assert_eq!(
            doc["paths"]["/v1/imports/{id}/cancel"]["post"]["x-kanri-permission"],
            doc["paths"]["/v1/imports"]["post"]["x-kanri-permission"]
        );
    }
);

async fn stalled_import_case(backend: Backend) {
    let app = isolated_app(backend).await;
    let t = app.onboard(20).await;
    let prefix = unique("st");
    let up = upload(
        &app,
        &t,
        "user_import",
        "text/csv",
        &users_csv(&prefix, 12, &[]),
    )
    .await;
    // Queued where nobody takes it: the import's worker is lost before it starts.
    let held = Arc::new(HeldQueue::default());
    let svc = app.services_with(None, None, Some(held.clone()));
    let now = time::OffsetDateTime::now_utc();
    let principal = kanri::app::principal::authenticate(&svc, &t.admin_token, now)
        .await
        .unwrap();
    let id = import_jobs::start(&svc, &principal, &up, import_jobs::Kind::Users, None, now)
        .await
        .unwrap();
    let r = app.get(&format!("/v1/imports/{id}"), &t.admin_token).await;
    assert_eq!(r.body["status"], "queued");
    // The hourly clean-up finds it silent for longer than 10 minutes and queues it again; the server's
    // worker imports it.
    cleanup(&app, now + time::Duration::hours(25)).await;
    let done = wait_import(&app, &t, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["created"], 12, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_import_is_queued_again_by_the_cleanup_embedded() {
    stalled_import_case(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_import_is_queued_again_by_the_cleanup_dynamodb() {
    stalled_import_case(Backend::Aws).await;
}
