//! Bad input gets a clear 4xx and changes nothing: invisible characters, Unicode look-alikes, IDN
//! addresses, keys given twice, oversized questionnaires and answers, on both backends.

use kanri::http::routes::{Access, table};
use kanri_tests::{App, StatusCode, both_backends, r_str};
use serde_json::{Value, json};

both_backends!(
    invisible_and_bidirectional_characters_are_refused_naming_the_field,
    |app: App| async move {
        let t = app.onboard(10).await;
        for (i, c) in [
            '\u{200B}', '\u{200D}', '\u{00AD}', '\u{202E}', '\u{2066}', '\u{FEFF}',
        ]
        .into_iter()
        .enumerate()
        {
            let cases = [
                (
                    "/v1/users",
                    json!({"name": format!("山田{c}太郎"), "login_id": format!("yamada{i}"), "delivery": "generated"}),
                    "name",
                ),
                (
                    "/v1/users",
                    json!({"name": "山田 太郎", "email": format!("ya{c}mada{i}@example.jp"), "delivery": "generated"}),
                    "email",
                ),
                (
                    "/v1/users",
                    json!({"name": "山田 太郎", "login_id": format!("yama{c}da{i}"), "delivery": "generated"}),
                    "login_id",
                ),
                ("/v1/groups", json!({"name": format!("営業{c}部")}), "name"),
                (
                    "/v1/roles",
                    json!({"name": format!("閲覧{c}者"), "grants": {"elearning": "view"}}),
                    "name",
                ),
            ];
            for (path, body, field) in cases {
                let r = app.post(path, Some(&t.admin_token), body.clone()).await;
                assert_eq!(
                    (r.status, r.code(), r.body["error"]["field"].as_str()),
                    (StatusCode::BAD_REQUEST, "invalid_request", Some(field)),
                    "{path} {body}: {r:?}"
                );
            }
        }
        let users = app.get("/v1/users", &t.admin_token).await;
        assert_eq!(users.body["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            app.get("/v1/groups", &t.admin_token).await.body["items"],
            json!([])
        );
        // A CSV row is refused the same way, and reported by line.
        let csv = "name,email,login_id,role,groups\n\
                   見えない\u{200B}文字,,invisible1,,\n\
                   普通 の人,,visible1,,\n";
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                csv.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(r.body["created"], 1, "{r:?}");
        assert_eq!(r.body["failed"][0]["line"], 2);
        assert_eq!(r.body["failed"][0]["code"], "invalid_request");
        assert!(
            r_str(&r.body["failed"][0]["message"]).contains("U+200B"),
            "{r:?}"
        );
    }
);

both_backends!(
    names_are_kept_as_typed_and_compared_in_their_folded_form,
    |app: App| async move {
        let t = app.onboard(10).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "①㈱ ﾔﾏﾀﾞ", "login_id": "yamada", "delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(r.body["user"]["name"], "①㈱ ﾔﾏﾀﾞ");
        let id = r_str(&r.body["user"]["id"]);
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .body["name"],
            "①㈱ ﾔﾏﾀﾞ",
            "stored as typed"
        );
        // Search folds both sides.
        for q in ["1(株)", "1%28%E6%A0%AA%29%20%E3%83%A4%E3%83%9E"] {
            let found = app.get(&format!("/v1/users?q={q}"), &t.admin_token).await;
            let ids: Vec<String> = found.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|u| r_str(&u["id"]))
                .collect();
            assert_eq!(ids, std::slice::from_ref(&id), "q={q}: {found:?}");
        }
        // Group and role names are unique in their folded form, and kept as typed.
        let g = app
            .post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": "①㈱ 営業"}),
            )
            .await;
        assert_eq!(
            (g.status, g.body["name"].as_str()),
            (StatusCode::CREATED, Some("①㈱ 営業"))
        );
        let dup = app
            .post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": "1(株) 営業"}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "group_name_taken")
        );
        let found = app.get("/v1/groups?q=1(株)", &t.admin_token).await;
        assert_eq!(found.body["items"][0]["name"], "①㈱ 営業", "{found:?}");
        let role = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "ｶｽﾀﾑ閲覧", "grants": {"elearning": "view"}}),
            )
            .await;
        assert_eq!(
            (role.status, role.body["name"].as_str()),
            (StatusCode::CREATED, Some("ｶｽﾀﾑ閲覧")),
            "{role:?}"
        );
        let dup = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "カスタム閲覧", "grants": {"elearning": "view"}}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "role_name_taken")
        );
    }
);

both_backends!(
    an_idn_address_is_one_address_in_unicode_and_in_punycode,
    |app: App| async move {
        let t = app.onboard(10).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "例 太郎", "email": "Taro@例え.jp", "delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(r.body["user"]["email"], "Taro@例え.jp", "kept as typed");
        let password = r_str(&r.body["initial_password"]);
        let dup = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "別人", "email": "taro@xn--r8jz45g.jp", "delivery": "generated"}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "email_taken"),
            "{dup:?}"
        );
        for login in ["taro@XN--R8JZ45G.jp", "TARO@例え.JP"] {
            let r = app
                .post(
                    "/v1/auth/login",
                    None,
                    json!({"tenant": t.slug, "login": login, "password": password}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{login}: {r:?}");
        }
        let bad = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "不正", "email": "taro@exa_mple.jp", "delivery": "generated"}),
            )
            .await;
        assert_eq!(bad.body["error"]["field"], "email", "{bad:?}");
    }
);

/// A path of the route table with its ids filled in (any id: the body is refused before it is looked up).
fn concrete(path: &str) -> String {
    path.replace("{id}", "01jzzzzzzzzzzzzzzzzzzzzzzz")
        .replace("{user_id}", "01jzzzzzzzzzzzzzzzzzzzzzzz")
}

both_backends!(
    a_body_that_names_a_key_twice_is_refused_on_every_json_route,
    |app: App| async move {
        let t = app.onboard(3).await;
        let scim = app
            .post(
                "/v1/scim-tokens",
                Some(&t.admin_token),
                json!({"name": "SCIM"}),
            )
            .await;
        let scim_token = r_str(&scim.body["token"]);
        let mut checked = 0;
        for r in table() {
            let Some(req) = r.doc.request else { continue };
            if req == "CsvFile" {
                continue;
            }
            let token = match r.access {
                Access::Public => None,
                Access::Operator => Some(app.operator_token.as_str()),
                Access::Scim => Some(scim_token.as_str()),
                _ => Some(t.admin_token.as_str()),
            };
            // The same key twice, as a client or proxy might send it: serde would keep the last.
            let body = r#"{"name": "a", "name": "b"}"#;
            let mut call = app
                .http
                .request(
                    reqwest::Method::from_bytes(r.method.as_str().as_bytes()).unwrap(),
                    format!("{}{}", app.base, concrete(r.path)),
                )
                .header("content-type", "application/json")
                .header("x-forwarded-for", "198.51.100.7")
                .body(body);
            if let Some(tok) = token {
                call = call.bearer_auth(tok);
            }
            let resp = call.send().await.unwrap();
            let status = resp.status();
            let got: Value = resp.json().await.unwrap_or(Value::Null);
            if r.is_scim() {
                // SCIM's error body (RFC 7644 §3.12).
                assert_eq!(
                    (status, got["scimType"].as_str(), got["status"].as_str()),
                    (StatusCode::BAD_REQUEST, Some("invalidSyntax"), Some("400")),
                    "{} {}: {got}",
                    r.method,
                    r.path
                );
                assert!(
                    r_str(&got["detail"]).contains("duplicate key \"name\""),
                    "{} {}: {got}",
                    r.method,
                    r.path
                );
                checked += 1;
                continue;
            }
            assert_eq!(
                (status, got["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_request")),
                "{} {}: {got}",
                r.method,
                r.path
            );
            assert!(
                r_str(&got["error"]["message"]).contains("duplicate key \"name\""),
                "{} {}: {got}",
                r.method,
                r.path
            );
            checked += 1;
        }
        assert!(checked >= 25, "only {checked} JSON routes");
        // Nothing was created by any of them.
        assert_eq!(
            app.get("/v1/groups", &t.admin_token).await.body["items"],
            json!([])
        );
    }
);

both_backends!(
    no_stored_item_exceeds_400_kb_from_the_largest_questionnaire_to_its_archive,
    |app: App| async move {
        use kanri::app::questionnaires::{MAX_STORED_BYTES, MAX_TEXT};
        let t = app.onboard(3).await;
        // Title and questions filling the limit to the byte: 4000 kanji each, then ASCII pieces.
        let question = "問".repeat(MAX_TEXT);
        let mut texts: Vec<String> = Vec::new();
        let size = |texts: &[String]| {
            serde_json::to_string(&"題").unwrap().len()
                + serde_json::to_string(
                    &texts.iter().map(|t| json!({"text": t})).collect::<Vec<_>>(),
                )
                .unwrap()
                .len()
        };
        while size(&texts) + 12_013 <= MAX_STORED_BYTES {
            texts.push(question.clone());
        }
        while size(&texts) + 13 <= MAX_STORED_BYTES {
            let room = MAX_STORED_BYTES - size(&texts) - 12;
            texts.push("a".repeat(room.min(MAX_TEXT)));
        }
        assert_eq!(size(&texts), MAX_STORED_BYTES);
        let questions: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
        let m = questions.len();
        let mut too_big = questions.clone();
        too_big[m - 1] = json!({"text": format!("{}b", texts[m - 1])});
        let r = app
            .post(
                "/v1/questionnaires",
                Some(&t.admin_token),
                json!({"title": "題", "questions": too_big}),
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.body["error"]["field"].as_str()),
            (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some("questions")
            ),
            "{:?}",
            r.body["error"]
        );
        let r = app
            .post(
                "/v1/questionnaires",
                Some(&t.admin_token),
                json!({"title": "題", "questions": questions}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "the largest accepted: {:?}",
            r.body["error"]
        );
        let qid = r_str(&r.body["id"]);
        // Answers as long as the questions are accepted (just under the limit); one kanji answer in place of
        // an ASCII one goes over it and is refused.
        let respondent = json!({"name": "回答 者", "email": "r@supplier.jp", "company": "S社"});
        let answers: Vec<String> = texts.iter().map(|t| t.replace('問', "答")).collect();
        let mut over = answers.clone();
        over[m - 1] = "答".repeat(over[m - 1].chars().count());
        let path = format!("/v1/questionnaires/{qid}/responses");
        let refused = app
            .post(
                &path,
                Some(&t.admin_token),
                json!({"respondent": respondent, "answers": over}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("answers")),
            "{:?}",
            refused.body["error"]
        );
        for _ in 0..2 {
            let ok = app
                .post(
                    &path,
                    Some(&t.admin_token),
                    json!({"respondent": respondent, "answers": answers}),
                )
                .await;
            assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body["error"]);
        }
        // The purge keeps them split across archive items, and they read back whole.
        app.post(
            &format!("/v1/ops/tenants/{}/terminate", t.id),
            Some(&app.operator_token),
            json!({"contract_end": "2030-01-01"}),
        )
        .await;
        let r = app
            .post(
                "/v1/ops/jobs/purge",
                Some(&app.operator_token),
                json!({"as_of": "2030-06-01T00:00:00+09:00"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let kept = app
            .get(
                &format!("/v1/ops/tenants/{}/questionnaires", t.id),
                &app.operator_token,
            )
            .await;
        assert_eq!(kept.status, StatusCode::OK);
        let q = &kept.body["items"][0];
        assert_eq!(q["questions"].as_array().map(Vec::len), Some(m));
        let responses = q["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), 2);
        assert!(
            responses
                .iter()
                .all(|r| r["respondent"].is_null()
                    && r["answers"].as_array().map(Vec::len) == Some(m))
        );
        // Every archive item, measured as DynamoDB counts it (attribute names and values), is under 400 KB.
        let store = app.svc.store.clone();
        let page = store
            .query(
                &kanri::ports::Query::prefix(
                    kanri::ports::Table::Log,
                    format!("QARCHIVE#{}", t.id),
                    "",
                )
                .limit(100),
            )
            .await
            .unwrap();
        assert!(page.items.len() >= 3, "split: {}", page.items.len());
        for item in &page.items {
            let size = item.pk.len()
                + 2
                + item.sk.len()
                + 2
                + item
                    .attrs
                    .iter()
                    .map(|(k, v)| {
                        k.len()
                            + match v {
                                kanri::ports::Value::B(b) => b.len(),
                                kanri::ports::Value::S(s) => s.len(),
                                _ => 21,
                            }
                    })
                    .sum::<usize>();
            assert!(size < 400 * 1024, "{} is {size} bytes", item.sk);
        }
    }
);
