//! Logs, contract end, questionnaires, backups and the 90-day purge, on both backends.

use std::collections::BTreeMap;

use kanri::config::Backend;
use kanri::ports::{BackupService, ItemStore, Query, Table};
use kanri_tests::{App, StatusCode, both_backends, r_str, unique};
use serde_json::{Value, json};

both_backends!(
    the_operation_log_shows_every_change_newest_first_in_jst,
    |app: App| async move {
        let t = app.onboard(5).await;
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "Log", "email": "log@example.jp", "delivery": "invite_link"}),
            )
            .await;
        let id = r_str(&u.body["user"]["id"]);
        app.patch(
            &format!("/v1/users/{id}"),
            &t.admin_token,
            json!({"name": "Log2"}),
        )
        .await;
        app.delete(&format!("/v1/users/{id}"), &t.admin_token).await;
        let log = app.get("/v1/audit-log", &t.admin_token).await;
        assert_eq!(log.status, StatusCode::OK, "{log:?}");
        let items = log.body["items"].as_array().expect("items").clone();
        let actions: Vec<String> = items.iter().map(|i| r_str(&i["action"])).collect();
        assert_eq!(
            actions,
            [
                "user.delete",
                "user.update",
                "user.create",
                "user.accept_invitation",
                "tenant.create"
            ]
        );
        assert!(items.iter().all(|i| r_str(&i["at"]).ends_with("+09:00")));
        assert_eq!(
            (
                items[0]["actor"]["name"].as_str(),
                items[0]["target"]["id"].as_str()
            ),
            (Some("管理 太郎"), Some(id.as_str()))
        );
        assert_eq!(items[4]["actor"]["id"], "operator");
        // Paging and a time window.
        let first = app.get("/v1/audit-log?limit=2", &t.admin_token).await;
        let next = app
            .get(
                &format!(
                    "/v1/audit-log?limit=2&cursor={}",
                    r_str(&first.body["next_cursor"])
                ),
                &t.admin_token,
            )
            .await;
        assert_eq!(r_str(&next.body["items"][0]["action"]), "user.create");
        let later = app
            .get(
                "/v1/audit-log?from=2099-01-01T00:00:00%2B09:00",
                &t.admin_token,
            )
            .await;
        assert_eq!(later.body["items"].as_array().map(Vec::len), Some(0));
        let earlier = app
            .get("/v1/audit-log?to=2000-01-01T00:00:00Z", &t.admin_token)
            .await;
        assert_eq!(earlier.body["items"].as_array().map(Vec::len), Some(0));
        assert_eq!(
            app.get("/v1/audit-log?from=yesterday", &t.admin_token)
                .await
                .code(),
            "invalid_request"
        );
        let mails = app.get("/v1/mail-log", &t.admin_token).await;
        let m = &mails.body["items"][0];
        assert_eq!(
            (m["to"].as_str(), m["kind"].as_str(), m["status"].as_str()),
            (Some("log@example.jp"), Some("invitation"), Some("sent"))
        );
        // A learner has no audit_log feature.
        let l = app.post("/v1/users", Some(&t.admin_token), json!({"name": "L", "login_id": "l1", "delivery": "generated", "role_id": "learner"})).await;
        let pw = r_str(&l.body["initial_password"]);
        let s = app.login(&t.slug, "l1", &pw).await;
        app.post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": "learner passphrase"}),
        )
        .await;
        assert_eq!(
            app.get("/v1/audit-log", &s).await.status,
            StatusCode::FORBIDDEN
        );
    }
);

both_backends!(
    after_the_contract_end_logins_stop_and_sessions_end,
    |app: App| async move {
        let t = app.onboard(5).await;
        let future = app
            .post(
                &format!("/v1/ops/tenants/{}/terminate", t.id),
                Some(&app.operator_token),
                json!({"contract_end": "2099-12-31"}),
            )
            .await;
        assert_eq!(future.body["contract_end"], "2099-12-31");
        app.login(&t.slug, &t.admin_email, "Kanri-test-passw0rd!")
            .await;
        let bad = app
            .post(
                &format!("/v1/ops/tenants/{}/terminate", t.id),
                Some(&app.operator_token),
                json!({"contract_end": "tomorrow"}),
            )
            .await;
        assert_eq!(bad.code(), "invalid_request");
        let past = app
            .post(
                &format!("/v1/ops/tenants/{}/terminate", t.id),
                Some(&app.operator_token),
                json!({"contract_end": "2020-03-31"}),
            )
            .await;
        assert_eq!(past.status, StatusCode::OK);
        let login = app.post("/v1/auth/login", None, json!({"tenant": t.slug, "login": t.admin_email, "password": "Kanri-test-passw0rd!"})).await;
        assert_eq!(
            (login.status, login.code()),
            (StatusCode::FORBIDDEN, "contract_ended")
        );
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.status,
            StatusCode::UNAUTHORIZED,
            "sessions ended"
        );
    }
);

both_backends!(
    questionnaires_keep_questions_and_answers,
    |app: App| async move {
        let t = app.onboard(5).await;
        let q = app.post("/v1/questionnaires", Some(&t.admin_token), json!({"title": "委託先チェック", "questions": [{"text": "ISMS 認証は？"}, {"text": "暗号化は？"}]})).await;
        assert_eq!(q.status, StatusCode::CREATED, "{q:?}");
        let qid = r_str(&q.body["id"]);
        let wrong = app.post(&format!("/v1/questionnaires/{qid}/responses"), Some(&t.admin_token), json!({"respondent": {"name": "x", "email": "x@supplier.jp", "company": "S"}, "answers": ["one"]})).await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        let r = app.post(&format!("/v1/questionnaires/{qid}/responses"), Some(&t.admin_token), json!({"respondent": {"name": "取引 先子", "email": "saki@supplier.jp", "company": "サプライヤー株式会社"}, "answers": ["取得済み", "AES-256"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let got = app
            .get(&format!("/v1/questionnaires/{qid}"), &t.admin_token)
            .await;
        assert_eq!(
            got.body["responses"][0]["answers"],
            json!(["取得済み", "AES-256"])
        );
        assert_eq!(
            got.body["responses"][0]["respondent"]["company"],
            "サプライヤー株式会社"
        );
        let ops = app
            .get(
                &format!("/v1/ops/tenants/{}/questionnaires", t.id),
                &app.operator_token,
            )
            .await;
        assert_eq!(ops.body["items"][0]["title"], "委託先チェック");
    }
);

async fn backups_of(app: &App) -> Box<dyn BackupService> {
    match app.backend {
        Backend::Embedded => {
            // Restoring copies files; a scratch store satisfies the constructor without opening the live one.
            let scratch = app.data_dir.join(format!("{}.redb", unique("scratch")));
            let store =
                kanri::adapters::embedded::EmbeddedStore::open(&scratch).expect("scratch store");
            Box::new(kanri::adapters::embedded::EmbeddedBackups::new(
                store,
                app.data_dir.join("backups"),
            ))
        }
        Backend::Aws => {
            let a = kanri_tests::aws();
            let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
            Box::new(kanri::adapters::aws::DynamoBackups::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                vec![a.table.clone(), a.log_table.clone()],
            ))
        }
    }
}

/// The items of one tenant partition in a restored copy of the data table.
async fn restored_partition(app: &App, target: &str, pk: &str) -> BTreeMap<String, String> {
    let store: Box<dyn ItemStore> = match app.backend {
        Backend::Embedded => Box::new(
            kanri::adapters::embedded::EmbeddedStore::open(&std::path::PathBuf::from(target))
                .expect("restored file"),
        ),
        Backend::Aws => {
            let a = kanri_tests::aws();
            let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
            let c = aws_sdk_dynamodb::Client::new(&sdk);
            Box::new(kanri::adapters::aws::DynamoStore::new(
                c,
                format!("{}-{target}", a.table),
                format!("{}-{target}", a.log_table),
                a.keys_table.clone(),
            ))
        }
    };
    partition(store.as_ref(), pk).await
}

async fn partition(store: &dyn ItemStore, pk: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store
            .query(&Query::prefix(Table::Data, pk, "").after(after).limit(500))
            .await
            .expect("query");
        for i in page.items {
            out.insert(i.sk.clone(), format!("{:?}", i.attrs));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn restore_target(app: &App, name: &str) -> String {
    match app.backend {
        Backend::Embedded => app
            .data_dir
            .join(format!("{name}.redb"))
            .display()
            .to_string(),
        Backend::Aws => name.to_owned(),
    }
}

both_backends!(
    backups_keep_seven_generations_restore_whole_and_the_purge_shreds_every_copy,
    |app: App| async move {
        let t = app.onboard(50).await;
        let pk = format!("T#{}", t.id);
        let q = app
            .post(
                "/v1/questionnaires",
                Some(&t.admin_token),
                json!({"title": "Q", "questions": [{"text": "?"}]}),
            )
            .await;
        let qid = r_str(&q.body["id"]);
        app.post(&format!("/v1/questionnaires/{qid}/responses"), Some(&t.admin_token), json!({"respondent": {"name": "回答 者", "email": "r@supplier.jp", "company": "S社"}, "answers": ["はい"]})).await;
        // Thousands of items (a group and its name guard each) on the embedded store; moto copies its whole state
        // on every transaction, so the DynamoDB run uses fewer items and smaller purge runs (same code path).
        let (per_batch, budget) = if app.backend == Backend::Embedded {
            (600, 800)
        } else {
            (150, 200)
        };
        for batch in 0..2 {
            let names: Vec<String> = (0..per_batch)
                .map(|i| format!("部署{batch}-{i:04}"))
                .collect();
            let r = app
                .post(
                    "/v1/groups/bulk",
                    Some(&t.admin_token),
                    json!({"names": names}),
                )
                .await;
            assert_eq!(r.body["created"].as_array().map(Vec::len), Some(per_batch));
        }
        // Daily runs: exactly the seven newest generations remain. moto keeps a deep copy of everything it holds
        // per backup, so on DynamoDB two generations are taken (pruning itself is the same code either way).
        let days: u32 = if app.backend == Backend::Embedded {
            9
        } else {
            2
        };
        let mut last = Value::Null;
        for day in 1..=days {
            let as_of = format!("2030-01-{:02}T03:00:00+09:00", day + 9 - days);
            last = app
                .post(
                    "/v1/ops/jobs/backup",
                    Some(&app.operator_token),
                    json!({"as_of": as_of}),
                )
                .await
                .body;
        }
        let kept = days.min(7) as usize;
        assert_eq!(
            last["kept"].as_array().map(Vec::len),
            Some(kept),
            "{last:?}"
        );
        assert_eq!(last["backup"]["id"], "20300108T180000Z");
        let listed = app.get("/v1/ops/backups", &app.operator_token).await.body;
        let ids: Vec<String> = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|b| r_str(&b["id"]))
            .collect();
        assert_eq!(ids.len(), kept);
        assert_eq!(ids[0].as_str(), "20300108T180000Z");
        assert_eq!(
            ids[kept - 1].as_str(),
            if kept == 7 {
                "20300102T180000Z"
            } else {
                "20300107T180000Z"
            }
        );
        assert_eq!(
            listed["items"][0]["created_at"],
            "2030-01-09T03:00:00+09:00"
        );
        // Round trip: the state at the backup comes back whole after a change.
        let backups = backups_of(&app).await;
        let before = restored_partition_live(&app, &pk).await;
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "after", "login_id": "after1", "delivery": "generated"}),
        )
        .await;
        let target = restore_target(&app, &unique("restore"));
        backups
            .restore("20300108T180000Z", &target)
            .await
            .expect("restore");
        assert_eq!(
            restored_partition(&app, &target, &pk).await,
            before,
            "every item of the tenant as it was"
        );
        assert_ne!(restored_partition_live(&app, &pk).await, before);

        // The contract ended long ago: the purge erases the tenant over several runs.
        app.post(
            &format!("/v1/ops/tenants/{}/terminate", t.id),
            Some(&app.operator_token),
            json!({"contract_end": "2030-01-01"}),
        )
        .await;
        let early = app
            .post(
                "/v1/ops/jobs/purge",
                Some(&app.operator_token),
                json!({"as_of": "2030-03-31T12:00:00+09:00"}),
            )
            .await;
        assert!(
            !early.body["purged"]
                .as_array()
                .expect("purged")
                .iter()
                .any(|p| p == t.id.as_str()),
            "89 days is too early"
        );
        let mut runs = 0;
        loop {
            runs += 1;
            let r = app
                .post(
                    "/v1/ops/jobs/purge",
                    Some(&app.operator_token),
                    json!({"as_of": "2030-04-01T12:00:00+09:00", "max_items": budget}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
            if r.body["purged"]
                .as_array()
                .expect("purged")
                .iter()
                .any(|p| p == t.id.as_str())
            {
                break;
            }
            assert!(
                r.body["in_progress"]
                    .as_array()
                    .expect("in_progress")
                    .iter()
                    .any(|p| p == t.id.as_str()),
                "{:?}",
                r.body
            );
            assert!(runs < 10);
        }
        assert!(
            runs >= 3,
            "a tenant of {} items took {runs} runs of {budget}",
            4 * per_batch
        );
        let again = app
            .post(
                "/v1/ops/jobs/purge",
                Some(&app.operator_token),
                json!({"as_of": "2030-04-02T12:00:00+09:00", "max_items": budget}),
            )
            .await;
        assert!(
            !again.body["purged"]
                .as_array()
                .expect("purged")
                .iter()
                .chain(again.body["in_progress"].as_array().expect("p"))
                .any(|p| p == t.id.as_str()),
            "nothing left to do"
        );
        assert!(
            restored_partition_live(&app, &pk).await.is_empty(),
            "every item is gone"
        );
        assert_eq!(
            app.get(&format!("/v1/ops/tenants/{}", t.id), &app.operator_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let login = app.post("/v1/auth/login", None, json!({"tenant": t.slug, "login": t.admin_email, "password": "Kanri-test-passw0rd!"})).await;
        assert_eq!(login.code(), "invalid_credentials");
        // Logs stay readable to the operator; questionnaires stay without respondents.
        let log = app
            .get(
                &format!("/v1/ops/tenants/{}/audit-log?limit=200", t.id),
                &app.operator_token,
            )
            .await;
        let actions: Vec<String> = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| r_str(&i["action"]))
            .collect();
        assert_eq!(actions.first().map(String::as_str), Some("tenant.purge"));
        assert!(
            log.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|i| i["actor"]["name"] == "管理 太郎")
        );
        let qs = app
            .get(
                &format!("/v1/ops/tenants/{}/questionnaires", t.id),
                &app.operator_token,
            )
            .await;
        assert_eq!(
            qs.body["items"][0]["responses"][0]["answers"],
            json!(["はい"])
        );
        assert_eq!(
            qs.body["items"][0]["responses"][0]["respondent"],
            Value::Null
        );
        let dump = kanri_tests::dump_store(&app).await;
        assert!(!dump.contains("回答 者") && !dump.contains("r@supplier.jp"));
        // Every backup still holds the tenant's items, but no generation holds its data key: unreadable.
        let target = restore_target(&app, &unique("shredded"));
        backups
            .restore("20300108T180000Z", &target)
            .await
            .expect("restore");
        assert!(restored_partition(&app, &target, &pk).await.len() > 4 * per_batch);
        assert!(
            !kanri_tests::key_exists(&app, &t.id).await,
            "the data key is gone, and backups never held it"
        );
    }
);

async fn restored_partition_live(app: &App, pk: &str) -> BTreeMap<String, String> {
    match app.backend {
        Backend::Embedded => {
            let copy = app.data_dir.join(format!("{}.redb", unique("live")));
            std::fs::copy(app.data_dir.join("kanri.redb"), &copy).expect("copy");
            let store = kanri::adapters::embedded::EmbeddedStore::open(&copy).expect("open");
            partition(&store, pk).await
        }
        Backend::Aws => {
            let a = kanri_tests::aws();
            let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
            let store = kanri::adapters::aws::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                a.table.clone(),
                a.log_table.clone(),
                a.keys_table.clone(),
            );
            partition(&store, pk).await
        }
    }
}
