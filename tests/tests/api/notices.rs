//! Notices: publishing, subscriptions, fan-out to subscribers only, no mail twice when a task is retried
//! or delivered again, the 72-hour flag; on both backends (SES and SQS through moto).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kanri::app::notices::{self, Kind, NewNotice};
use kanri::ports::{MailError, Mailer, OutgoingMail, Task};
use kanri_tests::{App, HeldQueue, StatusCode, Tenant, both_backends, r_str, unique};
use serde_json::{Value, json};

/// An invited user with an e-mail address who set a password and signed in: (user id, email, session).
async fn member(app: &App, t: &Tenant, name: &str) -> (String, String, String) {
    let email = format!("{}@example.co.jp", unique(name));
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": name, "email": email, "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r_str(&r.body["user"]["id"]);
    let session = app.accept_invitation(&t.slug, &email).await;
    (id, email, session)
}

async fn subscribe(app: &App, session: &str, release: bool, incident: bool) {
    let r = app
        .call(
            "PUT",
            "/v1/me/subscriptions",
            Some(session),
            Some(json!({"release": release, "incident": incident})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body, json!({"release": release, "incident": incident}));
}

async fn publish(app: &App, body: Value) -> Value {
    let r = app
        .post("/v1/ops/notices", Some(&app.operator_token), body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

/// The mails to `to` that mention `needle`, waiting up to 60 s for `want` of them to arrive.
async fn wait_mails(app: &App, to: &str, needle: &str, want: usize) -> Vec<String> {
    for _ in 0..240 {
        let got: Vec<String> = app
            .mails_to(to)
            .await
            .into_iter()
            .filter(|m| m.contains(needle))
            .collect();
        if got.len() >= want {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("fewer than {want} mails to {to} mention {needle}");
}

async fn count_mails(app: &App, to: &str, needle: &str) -> usize {
    app.mails_to(to)
        .await
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

both_backends!(
    a_notice_reaches_the_subscribers_of_its_kind_in_active_tenants_only,
    |app: App| async move {
        let t = app.onboard(10).await;
        let (_, b_email, b) = member(&app, &t, "b").await;
        let (_, c_email, _c) = member(&app, &t, "c").await;
        // Nobody is subscribed at first.
        let r = app.get("/v1/me/subscriptions", &t.admin_token).await;
        assert_eq!(
            r.body,
            json!({"release": false, "incident": false}),
            "{r:?}"
        );
        subscribe(&app, &t.admin_token, true, false).await;
        subscribe(&app, &b, false, true).await;
        let r = app.get("/v1/me/subscriptions", &t.admin_token).await;
        assert_eq!(r.body, json!({"release": true, "incident": false}));

        // A user without an e-mail address cannot subscribe, and nothing is stored.
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "D", "login_id": unique("d"), "delivery": "generated"}),
            )
            .await;
        let d_login = r_str(&r.body["user"]["login_id"]);
        let d_first = r_str(&r.body["initial_password"]);
        let d = app.login(&t.slug, &d_login, &d_first).await;
        let r = app
            .post(
                "/v1/me/password",
                Some(&d),
                json!({"current_password": d_first, "new_password": "Notice-d-passw0rd!"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        let d = app.login(&t.slug, &d_login, "Notice-d-passw0rd!").await;
        let r = app
            .call(
                "PUT",
                "/v1/me/subscriptions",
                Some(&d),
                Some(json!({"release": true, "incident": false})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{r:?}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("e-mail")
        );
        let r = app.get("/v1/me/subscriptions", &d).await;
        assert_eq!(r.body, json!({"release": false, "incident": false}));
        // Unknown fields and wrong types are refused.
        let r = app
            .call(
                "PUT",
                "/v1/me/subscriptions",
                Some(&b),
                Some(json!({"release": true})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");

        // A tenant whose contract has ended gets no mail, even if subscribed.
        let ended = app.onboard(2).await;
        subscribe(&app, &ended.admin_token, true, true).await;
        let r = app
            .post(
                &format!("/v1/ops/tenants/{}/terminate", ended.id),
                Some(&app.operator_token),
                json!({"contract_end": "2025-01-31"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");

        let title = format!("リリース {}", unique("r"));
        let n = publish(
            &app,
            json!({"kind": "release", "title": title, "body": "新しい受講レポートを追加しました。\nNew learning reports."}),
        )
        .await;
        assert_eq!(n["kind"], "release");
        assert!(
            n.get("occurred_at").is_none() && n.get("published_within_72h").is_none(),
            "{n}"
        );
        assert!(r_str(&n["published_at"]).ends_with("+09:00"));

        let mails = wait_mails(&app, &t.admin_email, &title, 1).await;
        let text = &mails[0];
        for part in [
            "管理 太郎 様",
            "リリースのお知らせ",
            "新しい受講レポートを追加しました。",
            "配信停止",
            "To unsubscribe",
            "PUT /v1/me/subscriptions",
        ] {
            assert!(text.contains(part), "{part} missing in {text}");
        }
        // The incident subscriber, the unsubscribed user and the ended tenant get nothing. Their tasks
        // ran with the admin's (one page per tenant), so a short wait is enough.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(count_mails(&app, &b_email, &title).await, 0);
        assert_eq!(count_mails(&app, &c_email, &title).await, 0);
        assert_eq!(count_mails(&app, &ended.admin_email, &title).await, 0);

        // The incident notice reaches b only.
        let occurred = time::OffsetDateTime::now_utc() - time::Duration::hours(10);
        let incident = format!("障害 {}", unique("i"));
        let n = publish(
            &app,
            json!({"kind": "incident", "title": incident, "body": "ログインできない事象が発生しました。",
                   "occurred_at": occurred.format(&time::format_description::well_known::Rfc3339).unwrap()}),
        )
        .await;
        assert_eq!(n["published_within_72h"], true, "{n}");
        let mails = wait_mails(&app, &b_email, &incident, 1).await;
        assert!(mails[0].contains("発生日時 / Occurred at:"), "{}", mails[0]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(count_mails(&app, &t.admin_email, &incident).await, 0);

        // Each mail is in the tenant's mail log as a notice.
        let log = app.get("/v1/mail-log?limit=200", &t.admin_token).await;
        let notices: Vec<&Value> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "notice")
            .collect();
        // On the shared DynamoDB tables, notices that other tests publish reach these subscribers too.
        let isolated = app.backend == kanri::config::Backend::Embedded;
        if isolated {
            assert_eq!(notices.len(), 2, "{log:?}");
        }
        assert!(notices.iter().all(|m| m["status"] == "sent"));
        let to: Vec<String> = notices.iter().map(|m| r_str(&m["to"])).collect();
        assert!(
            to.contains(&t.admin_email) && to.contains(&b_email),
            "{to:?}"
        );

        // The operator sees how the mailing went.
        let id = r_str(&n["id"]);
        let mut sent = 0;
        for _ in 0..40 {
            let list = app
                .get(
                    "/v1/ops/notices?kind=incident&limit=200",
                    &app.operator_token,
                )
                .await;
            assert_eq!(list.status, StatusCode::OK, "{list:?}");
            let mine = list.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == id.as_str())
                .cloned()
                .expect("the incident in the operator's list");
            sent = mine["mails_sent"].as_i64().unwrap();
            if sent == 1 || (!isolated && sent >= 1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(sent == 1 || (!isolated && sent >= 1), "{sent}");

        // Unsubscribing stops the mails: with b now on releases and the admin off, only b gets the next.
        subscribe(&app, &t.admin_token, false, false).await;
        subscribe(&app, &b, true, true).await;
        let third = format!("リリース {}", unique("r"));
        publish(
            &app,
            json!({"kind": "release", "title": third, "body": "Bug fixes."}),
        )
        .await;
        wait_mails(&app, &b_email, &third, 1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(count_mails(&app, &t.admin_email, &third).await, 0);
    }
);

/// A mailer that fails for one address until told otherwise, and sends everything else through `inner`.
struct Flaky {
    inner: Arc<dyn Mailer>,
    fail_for: String,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Mailer for Flaky {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        if mail.to == self.fail_for && self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError {
                message: "throttled (test)".into(),
                source: None,
            });
        }
        self.inner.send(mail).await
    }
}

both_backends!(
    a_task_delivered_again_or_retried_after_a_failure_mails_nobody_twice,
    |app: App| async move {
        let t = app.onboard(10).await;
        let (_, b_email, b) = member(&app, &t, "b").await;
        subscribe(&app, &t.admin_token, true, false).await;
        subscribe(&app, &b, true, false).await;

        // The same services, but b's mails fail and tasks wait in a queue the test drains by hand.
        let held = Arc::new(HeldQueue::default());
        let flaky = Arc::new(Flaky {
            inner: app.svc.mailer.clone(),
            fail_for: b_email.clone(),
            failing: true.into(),
        });
        let svc = app.services_with(None, Some(flaky.clone()), Some(held.clone()));
        let now = time::OffsetDateTime::now_utc();
        let title = format!("再送テスト {}", unique("r"));
        let n = notices::publish(
            &svc,
            NewNotice {
                kind: Kind::Release,
                title: title.clone(),
                body: "本文".into(),
                occurred: None,
            },
            now,
        )
        .await
        .expect("published");
        assert_eq!(
            held.0.lock().unwrap().drain(..).collect::<Vec<_>>(),
            vec![Task::NoticeFanout {
                notice: n.id.clone()
            }]
        );
        // The page of this tenant: the admin is mailed, b fails, and the task fails so the queue retries.
        let err = notices::mail_page(&svc, &n.id, &t.id, None, now).await;
        assert!(err.is_err(), "{err:?}");
        assert_eq!(count_mails(&app, &t.admin_email, &title).await, 1);
        assert_eq!(count_mails(&app, &b_email, &title).await, 0);
        // The retry after the failure mails b only.
        flaky
            .failing
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let r = notices::mail_page(&svc, &n.id, &t.id, None, now)
            .await
            .expect("retry");
        assert_eq!((r.sent, r.failed, r.skipped), (1, 0, 1), "{r:?}");
        // A third delivery of the same task (SQS delivers at least once) mails nobody.
        let r = notices::mail_page(&svc, &n.id, &t.id, None, now)
            .await
            .expect("again");
        assert_eq!((r.sent, r.failed, r.skipped), (0, 0, 2), "{r:?}");
        // Also through the worker's entry point.
        kanri::worker::run_task(
            &svc,
            &Task::NoticeMails {
                notice: n.id.clone(),
                tenant: t.id.clone(),
                after: None,
            },
        )
        .await
        .expect("task");
        assert_eq!(count_mails(&app, &t.admin_email, &title).await, 1);
        assert_eq!(count_mails(&app, &b_email, &title).await, 1);
        let log = app.get("/v1/mail-log?limit=200", &t.admin_token).await;
        let statuses: Vec<String> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "notice")
            .map(|m| r_str(&m["status"]))
            .collect();
        // Two sent, one failed attempt; the log shows each.
        let sent = statuses.iter().filter(|s| *s == "sent").count();
        if app.backend == kanri::config::Backend::Embedded {
            assert_eq!(sent, 2, "{statuses:?}");
        } else {
            // Notices other tests publish on the shared tables reach these subscribers too.
            assert!(sent >= 2, "{statuses:?}");
        }
        assert_eq!(
            statuses.iter().filter(|s| *s == "failed").count(),
            1,
            "{statuses:?}"
        );
    }
);

/// Subscribers beyond one page are mailed by the follow-up tasks, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_beyond_one_page_are_mailed_by_follow_up_tasks() {
    let app = kanri_tests::spawn_app(kanri::config::Backend::Embedded).await;
    let t = app.onboard(notices::PAGE as i64 + 10).await;
    // Subscriptions written straight into the store: making 105 users sign in would take minutes of argon2.
    // Active users (generated passwords), in files of at most the 30 rows one import hashes.
    let all: Vec<usize> = (0..notices::PAGE + 5).collect();
    for chunk in all.chunks(kanri::app::imports::MAX_GENERATED_ROWS) {
        let csv: String = std::iter::once("name,email,login_id,role,groups\n".to_owned())
            .chain(
                chunk
                    .iter()
                    .map(|i| format!("U{i},page-{i}@example.jp,,,\n")),
            )
            .collect();
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                csv.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    let scope = app
        .svc
        .scope(&kanri::domain::ids::TenantId::from_stored(t.id.clone()))
        .await
        .unwrap();
    let users = kanri::app::users::list(
        &app.svc,
        &scope,
        kanri::app::paging::PageRequest::first(200),
        None,
    )
    .await
    .expect("list");
    let mut writes = vec![];
    for u in users.items.iter().filter(|u| u.email.is_some()) {
        writes.push(kanri::ports::BatchWrite::Put(
            kanri::ports::Item::new(
                scope.pk(),
                kanri::app::layout::subscription_sk("release", &u.id),
            )
            .with("user", kanri::ports::Value::S(u.id.to_string())),
        ));
    }
    assert_eq!(writes.len(), notices::PAGE + 6);
    app.svc
        .store
        .batch_write(kanri::ports::Table::Data, writes)
        .await
        .unwrap();
    let title = format!("多数 {}", unique("r"));
    let n = publish(
        &app,
        json!({"kind": "release", "title": title, "body": "Many."}),
    )
    .await;
    let id = r_str(&n["id"]);
    for i in [0, notices::PAGE + 4] {
        wait_mails(&app, &format!("page-{i}@example.jp"), &title, 1).await;
    }
    let mut sent = 0;
    for _ in 0..120 {
        let list = app
            .get("/v1/ops/notices?limit=200", &app.operator_token)
            .await;
        sent = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id.as_str())
            .and_then(|i| i["mails_sent"].as_i64())
            .unwrap_or(0);
        if sent == (notices::PAGE + 6) as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(sent, (notices::PAGE + 6) as i64);
    for i in 0..notices::PAGE + 5 {
        assert_eq!(
            count_mails(&app, &format!("page-{i}@example.jp"), &title).await,
            1
        );
    }
}

both_backends!(
    incident_notices_show_whether_they_kept_the_72_hour_promise,
    |app: App| async move {
        let t = app.onboard(2).await;
        let ago = |h: i64| {
            (time::OffsetDateTime::now_utc() - time::Duration::hours(h))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let tag = unique("p");
        let late = publish(
            &app,
            json!({"kind": "incident", "title": format!("遅延 {tag}"), "body": "b", "occurred_at": ago(80)}),
        )
        .await;
        let kept = publish(
            &app,
            json!({"kind": "incident", "title": format!("期限内 {tag}"), "body": "b", "occurred_at": ago(71)}),
        )
        .await;
        let release = publish(
            &app,
            json!({"kind": "release", "title": format!("リリース {tag}"), "body": "b"}),
        )
        .await;
        assert_eq!(late["published_within_72h"], false);
        assert_eq!(kept["published_within_72h"], true);
        assert!(r_str(&late["occurred_at"]).ends_with("+09:00"));

        // Any signed-in user reads them, newest first, filtered by kind, page by page.
        let ids = |v: &Value| -> Vec<String> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| r_str(&i["id"]))
                .collect()
        };
        let all = app.get("/v1/notices?limit=200", &t.admin_token).await;
        assert_eq!(all.status, StatusCode::OK, "{all:?}");
        let all_ids = ids(&all.body);
        let pos = |id: &Value| {
            all_ids
                .iter()
                .position(|x| x == id.as_str().unwrap())
                .unwrap()
        };
        assert!(pos(&release["id"]) < pos(&kept["id"]) && pos(&kept["id"]) < pos(&late["id"]));
        let mine = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == late["id"])
            .unwrap()
            .clone();
        assert_eq!(mine["published_within_72h"], false);
        assert!(
            mine.get("mails_sent").is_none(),
            "counts are the operator's: {mine}"
        );
        let incidents = ids(&app
            .get("/v1/notices?kind=incident&limit=200", &t.admin_token)
            .await
            .body);
        assert!(incidents.contains(&r_str(&late["id"])) && incidents.contains(&r_str(&kept["id"])));
        assert!(!incidents.contains(&r_str(&release["id"])));
        let releases = ids(&app
            .get("/v1/notices?kind=release&limit=200", &t.admin_token)
            .await
            .body);
        assert!(
            releases.contains(&r_str(&release["id"])) && !releases.contains(&r_str(&late["id"]))
        );
        let first = app.get("/v1/notices?limit=1", &t.admin_token).await;
        assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
        let cursor = r_str(&first.body["next_cursor"]);
        let second = app
            .get(
                &format!("/v1/notices?limit=1&cursor={cursor}"),
                &t.admin_token,
            )
            .await;
        assert_eq!(second.status, StatusCode::OK);
        assert_ne!(ids(&first.body), ids(&second.body));
        // The operator's list shows which incidents missed the promise.
        let ops = app
            .get(
                "/v1/ops/notices?kind=incident&limit=200",
                &app.operator_token,
            )
            .await;
        let missed: Vec<String> = ops.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["published_within_72h"] == false)
            .map(|i| r_str(&i["id"]))
            .collect();
        assert!(missed.contains(&r_str(&late["id"])) && !missed.contains(&r_str(&kept["id"])));

        // Bad input: 4xx with a code, nothing stored.
        let before = ids(&app
            .get("/v1/ops/notices?limit=200", &app.operator_token)
            .await
            .body)
        .len();
        for (body, field) in [
            (
                json!({"kind": "incident", "title": "x", "body": "b"}),
                "occurred_at",
            ),
            (
                json!({"kind": "release", "title": "x", "body": "b", "occurred_at": ago(1)}),
                "occurred_at",
            ),
            (
                json!({"kind": "incident", "title": "x", "body": "b", "occurred_at": ago(-2)}),
                "occurred_at",
            ),
            (
                json!({"kind": "release", "title": "a\r\nBcc: x@example.jp", "body": "b"}),
                "title",
            ),
            (
                json!({"kind": "release", "title": "   ", "body": "b"}),
                "title",
            ),
            (
                json!({"kind": "release", "title": "x".repeat(201), "body": "b"}),
                "title",
            ),
            (json!({"kind": "release", "title": "x", "body": ""}), "body"),
            (
                json!({"kind": "incident", "title": "x", "body": "b", "occurred_at": "yesterday"}),
                "occurred_at",
            ),
        ] {
            let r = app
                .post("/v1/ops/notices", Some(&app.operator_token), body.clone())
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{body}: {r:?}"
            );
            assert_eq!(r.body["error"]["field"], field, "{body}: {r:?}");
        }
        let r = app
            .post(
                "/v1/ops/notices",
                Some(&app.operator_token),
                json!({"kind": "news", "title": "x", "body": "b"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        let r = app.get("/v1/notices?kind=news", &t.admin_token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        // Only the operator publishes; only a signed-in user reads.
        let r = app
            .post(
                "/v1/ops/notices",
                Some(&t.admin_token),
                json!({"kind": "release", "title": "x", "body": "b"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        let r = app.call("GET", "/v1/notices", None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        let after = ids(&app
            .get("/v1/ops/notices?limit=200", &app.operator_token)
            .await
            .body)
        .len();
        if app.backend == kanri::config::Backend::Embedded {
            assert_eq!(before, after);
        }
    }
);

both_backends!(
    deleting_a_user_removes_their_subscriptions,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (id, _, b) = member(&app, &t, "gone").await;
        subscribe(&app, &b, true, true).await;
        let uid = kanri::domain::ids::UserId::from_stored(id.clone());
        let pk = format!("T#{}", t.id);
        let stored = |kind: &'static str| {
            let (app, pk, sk) = (&app, &pk, kanri::app::layout::subscription_sk(kind, &uid));
            async move {
                app.svc
                    .store
                    .get(kanri::ports::Table::Data, pk, &sk)
                    .await
                    .unwrap()
                    .is_some()
            }
        };
        assert!(stored("release").await && stored("incident").await);
        let r = app.delete(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        assert!(!stored("release").await && !stored("incident").await);
    }
);

/// The AWS path end to end: the task queue is SQS (moto), the local server polls it like the worker
/// Lambda's event source, and the Lambda handler reports exactly the messages that failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_aws_notices_fan_out_through_sqs() {
    let endpoint = kanri_tests::aws().endpoint.clone();
    let name = unique("kanri-tasks-");
    let created = reqwest::Client::new()
        .post(&endpoint)
        // moto tells the service from the credential scope of the signature.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261126/ap-northeast-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&[
            ("Action", "CreateQueue"),
            ("QueueName", name.as_str()),
            ("Version", "2012-11-05"),
        ])
        .send()
        .await
        .expect("moto answers")
        .text()
        .await
        .expect("body");
    let url = created
        .split("<QueueUrl>")
        .nth(1)
        .and_then(|r| r.split("</QueueUrl>").next())
        .unwrap_or_else(|| panic!("no queue url in {created}"))
        .to_owned();
    let app =
        kanri_tests::spawn_app_with(kanri::config::Backend::Aws, |c| c.queue_url = Some(url)).await;
    assert!(matches!(app.tasks, kanri::worker::TaskSource::Sqs(_)));
    let t = app.onboard(3).await;
    subscribe(&app, &t.admin_token, true, false).await;
    let title = format!("SQS {}", unique("r"));
    let n = publish(
        &app,
        json!({"kind": "release", "title": title, "body": "via SQS"}),
    )
    .await;
    wait_mails(&app, &t.admin_email, &title, 1).await;

    // The Lambda handler: a good message and an unreadable one; only the second is reported.
    let task = serde_json::to_string(&Task::NoticeMails {
        notice: r_str(&n["id"]),
        tenant: t.id.clone(),
        after: None,
    })
    .unwrap();
    let event = serde_json::from_value(json!({"Records": [
        {"messageId": "m-good", "body": task},
        {"messageId": "m-bad", "body": "{\"task\": \"unknown\"}"},
    ]}))
    .unwrap();
    let kanri::worker::TaskSource::Sqs(queue) = &app.tasks else {
        unreachable!("asserted above")
    };
    let answer = kanri::worker::handle_sqs_event(&app.svc, Some(queue), event).await;
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );
    assert_eq!(count_mails(&app, &t.admin_email, &title).await, 1);
}

/// Notices are not tenant data: the purge erases a tenant's subscriptions and sent-claims and leaves the
/// notices. (Embedded only: on the shared DynamoDB tables a purge would also erase other tests' tenants.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_purge_erases_subscriptions_and_keeps_the_notices() {
    let app = kanri_tests::spawn_app(kanri::config::Backend::Embedded).await;
    let t = app.onboard(3).await;
    subscribe(&app, &t.admin_token, true, true).await;
    let title = format!("残る {}", unique("r"));
    let n = publish(
        &app,
        json!({"kind": "release", "title": title, "body": "kept"}),
    )
    .await;
    wait_mails(&app, &t.admin_email, &title, 1).await;
    let r = app
        .post(
            &format!("/v1/ops/tenants/{}/terminate", t.id),
            Some(&app.operator_token),
            json!({"contract_end": "2026-01-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app
        .post(
            "/v1/ops/jobs/purge",
            Some(&app.operator_token),
            json!({"as_of": "2026-05-01T12:00:00+09:00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["purged"], json!([t.id]), "{r:?}");
    let left = app
        .svc
        .store
        .query(&kanri::ports::Query::prefix(
            kanri::ports::Table::Data,
            format!("T#{}", t.id),
            "",
        ))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
    let list = app.get("/v1/ops/notices", &app.operator_token).await;
    assert_eq!(list.body["items"][0]["id"], n["id"]);
    assert_eq!(list.body["items"][0]["title"], title.as_str());
}

/// A store whose transactions fail after the first `ok`: the worker dies there.
struct DiesAfter {
    inner: Arc<dyn kanri::ports::ItemStore>,
    ok: usize,
    seen: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl kanri::ports::ItemStore for DiesAfter {
    async fn get(
        &self,
        table: kanri::ports::Table,
        pk: &str,
        sk: &str,
    ) -> kanri::ports::StoreResult<Option<kanri::ports::Item>> {
        self.inner.get(table, pk, sk).await
    }
    async fn batch_get(
        &self,
        table: kanri::ports::Table,
        keys: &[(String, String)],
    ) -> kanri::ports::StoreResult<Vec<kanri::ports::Item>> {
        self.inner.batch_get(table, keys).await
    }
    async fn query(
        &self,
        query: &kanri::ports::Query,
    ) -> kanri::ports::StoreResult<kanri::ports::Page> {
        self.inner.query(query).await
    }
    async fn transact(&self, writes: Vec<kanri::ports::Write>) -> kanri::ports::StoreResult<()> {
        if self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= self.ok {
            return Err(kanri::ports::StoreError::Backend {
                message: "the worker died (test)".into(),
                source: None,
            });
        }
        self.inner.transact(writes).await
    }
    async fn batch_write(
        &self,
        table: kanri::ports::Table,
        writes: Vec<kanri::ports::BatchWrite>,
    ) -> kanri::ports::StoreResult<()> {
        self.inner.batch_write(table, writes).await
    }
}

/// `n` users with e-mail addresses `<prefix>-<i>@example.jp`, subscribed to releases (written straight
/// into the store: signing 40 users in would take a minute of argon2).
async fn subscribers(app: &App, t: &Tenant, prefix: &str, n: usize) {
    let csv: String = std::iter::once("name,email,login_id,role,groups\n".to_owned())
        .chain((0..n).map(|i| format!("S{i},{prefix}-{i}@example.jp,,,\n")))
        .collect();
    let r = app
        .post_bytes(
            "/v1/users/import?delivery=invite_link",
            &t.admin_token,
            "text/csv",
            csv.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["created"], n, "{r:?}");
    let pk = format!("T#{}", t.id);
    let writes = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let id = kanri::domain::ids::UserId::from_stored(r_str(&u["id"]));
            kanri::ports::BatchWrite::Put(
                kanri::ports::Item::new(
                    pk.clone(),
                    kanri::app::layout::subscription_sk("release", &id),
                )
                .with("user", kanri::ports::Value::S(id.to_string())),
            )
        })
        .collect();
    app.svc
        .store
        .batch_write(kanri::ports::Table::Data, writes)
        .await
        .unwrap();
}

both_backends!(
    a_mailing_whose_worker_died_resumes_and_mails_exactly_the_rest,
    |app: App| async move {
        let n = 40;
        let t = app.onboard(n as i64 + 5).await;
        let prefix = unique("nd");
        subscribers(&app, &t, &prefix, n).await;
        let held = Arc::new(HeldQueue::default());
        let svc = app.services_with(None, None, Some(held.clone()));
        let now = time::OffsetDateTime::now_utc();
        let title = format!("中断 {}", unique("r"));
        let notice = notices::publish(
            &svc,
            NewNotice {
                kind: Kind::Release,
                title: title.clone(),
                body: "本文".into(),
                occurred: None,
            },
            now,
        )
        .await
        .unwrap();
        held.0.lock().unwrap().clear();
        notices::fan_out(&svc, &notice.id, now).await.unwrap();
        let mine = Task::NoticeMails {
            notice: notice.id.clone(),
            tenant: t.id.clone(),
            after: None,
        };
        assert!(held.0.lock().unwrap().contains(&mine));
        let isolated = app.backend == kanri::config::Backend::Embedded;
        let remaining = || async {
            let list = app
                .get("/v1/ops/notices?limit=200", &app.operator_token)
                .await;
            let item = list.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == notice.id.as_str())
                .cloned()
                .unwrap();
            (
                item["mails_sent"].as_i64().unwrap(),
                item["mails_remaining"].as_i64().unwrap(),
            )
        };
        if isolated {
            assert_eq!(remaining().await, (0, n as i64));
        }

        // The worker dies after its second batch of mails left, before it could mark them sent.
        let dying = Arc::new(DiesAfter {
            inner: app.svc.store.clone(),
            ok: 3,
            seen: 0.into(),
        });
        let first = app.services_with(Some(dying), None, Some(held.clone()));
        assert!(
            notices::mail_page(&first, &notice.id, &t.id, None, now)
                .await
                .is_err()
        );
        let count = |mails: &Vec<(String, String)>| {
            let mut per = std::collections::HashMap::new();
            for (to, body) in mails {
                if to.starts_with(&prefix) && body.contains(&title) {
                    *per.entry(to.clone()).or_insert(0) += 1;
                }
            }
            per
        };
        let before = count(&app.mails().await);
        assert_eq!(before.len(), 2 * notices::BATCH, "{before:?}");
        if isolated {
            // 16 marked sent; the 16 in flight and the 8 never reached are still to go.
            assert_eq!(remaining().await, (16, n as i64 - 16));
        }

        // The task comes back after the dead worker's hold ended: the rest is mailed.
        let later = now + notices::CLAIM_LEASE + time::Duration::seconds(1);
        let r = notices::mail_page(&svc, &notice.id, &t.id, None, later)
            .await
            .unwrap();
        assert_eq!((r.skipped, r.failed), (notices::BATCH, 0), "{r:?}");
        let after = count(&app.mails().await);
        assert_eq!(after.len(), n, "nobody is left out: {after:?}");
        let doubled = after.values().filter(|c| **c > 1).count();
        if isolated {
            // The outbox keeps the mail key: the batch in flight at the crash is not written twice.
            assert_eq!(doubled, 0, "{after:?}");
            assert_eq!(remaining().await, (n as i64, 0));
        } else {
            // SES has no idempotency key: at most the batch in flight went twice.
            assert!(doubled <= notices::BATCH, "{after:?}");
        }
        // A late duplicate delivery mails nobody.
        let r = notices::mail_page(&svc, &notice.id, &t.id, None, later)
            .await
            .unwrap();
        assert_eq!((r.sent, r.skipped), (0, n), "{r:?}");
    }
);
