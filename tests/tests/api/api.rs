//! The HTTP API as a client uses it, on the embedded store and on DynamoDB (moto).

use std::collections::HashSet;

use kanri_tests::{App, StatusCode, both_backends, r_str};
use serde_json::json;

both_backends!(
    onboarding_a_tenant_lets_its_admin_log_in_and_register_users,
    |app: App| async move {
        let t = app.onboard(5).await;
        let me = app.get("/v1/me", &t.admin_token).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["org_admin"], true);
        assert_eq!(me.body["status"], "active");
        assert_eq!(me.body["grants"]["settings"], "edit");

        let invited = app
        .post("/v1/users", Some(&t.admin_token), json!({"name": "佐藤 花子", "email": "hanako@example.co.jp", "delivery": "invite_link"}))
        .await;
        assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
        assert_eq!(invited.body["user"]["status"], "invited");
        assert!(invited.body.get("initial_password").is_none());
        let link = app.mails_to("hanako@example.co.jp").await;
        assert_eq!(link.len(), 1);
        assert!(
            link[0].contains("http://kanri.test/set-password?token="),
            "{}",
            link[0]
        );

        let generated = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "鈴木 一郎", "login_id": "ichiro01", "delivery": "generated"}),
            )
            .await;
        assert_eq!(generated.status, StatusCode::CREATED, "{generated:?}");
        let pw = r_str(&generated.body["initial_password"]);
        assert!(pw.len() >= 16);
        assert_eq!(generated.body["user"]["must_change_password"], true);
        // The generated password works once shown, with the login id in any case.
        let s = app.login(&t.slug, "ICHIRO01", &pw).await;
        assert_eq!(app.get("/v1/me", &s).await.body["login_id"], "ichiro01");

        let tenant = app.get("/v1/tenant", &t.admin_token).await;
        assert_eq!(tenant.body["seats_used"], 3);
        assert!(r_str(&tenant.body["created_at"]).ends_with("+09:00"));
    }
);

both_backends!(
    an_invitation_link_sets_a_password_once,
    |app: App| async move {
        let t = app.onboard(5).await;
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "A", "email": "a@example.jp", "delivery": "invite_link"}),
        )
        .await;
        let token = app.link_token("a@example.jp").await;
        let weak = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "password123"}),
            )
            .await;
        assert_eq!(
            (weak.status, weak.code()),
            (StatusCode::BAD_REQUEST, "weak_password")
        );
        let ok = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "a fine passphrase"}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT);
        let again = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "another passphrase"}),
            )
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::BAD_REQUEST, "invalid_token")
        );
        let bogus = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": "nope", "password": "another passphrase"}),
            )
            .await;
        assert_eq!(bogus.body, again.body);
        app.login(&t.slug, "A@EXAMPLE.JP", "a fine passphrase")
            .await;
    }
);

both_backends!(
    two_concurrent_uses_of_one_link_let_exactly_one_through,
    |app: App| async move {
        let t = app.onboard(5).await;
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "A", "email": "race@example.jp", "delivery": "invite_link"}),
        )
        .await;
        let token = app.link_token("race@example.jp").await;
        let body = |p: &str| json!({"token": token, "password": p});
        let (a, b) = tokio::join!(
            app.post("/v1/auth/set-password", None, body("first passphrase")),
            app.post("/v1/auth/set-password", None, body("second passphrase"))
        );
        let statuses = [a.status, b.status];
        assert!(
            statuses.contains(&StatusCode::NO_CONTENT)
                && statuses.contains(&StatusCode::BAD_REQUEST),
            "{statuses:?}"
        );
    }
);

both_backends!(login_failures_look_alike, |app: App| async move {
    let t = app.onboard(5).await;
    let attempts = [
        json!({"tenant": "no-such-tenant", "login": t.admin_email, "password": "Kanri-test-passw0rd!"}),
        json!({"tenant": t.slug, "login": "nobody@example.jp", "password": "Kanri-test-passw0rd!"}),
        json!({"tenant": t.slug, "login": t.admin_email, "password": "wrong password"}),
        json!({"tenant": t.slug, "login": "not an id!", "password": "x"}),
    ];
    let mut bodies = HashSet::new();
    for a in attempts {
        let r = app.post("/v1/auth/login", None, a).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
        bodies.insert(r.body.to_string());
    }
    assert_eq!(bodies.len(), 1, "every failure has the same body");
});

both_backends!(
    parallel_creates_never_oversell_seats,
    |app: App| async move {
        let t = app.onboard(11).await; // the admin holds one seat: 10 free
        let creates = (0..40).map(|i| {
        let app = &app;
        let token = t.admin_token.clone();
        async move {
            app.post("/v1/users", Some(&token), json!({"name": format!("U{i}"), "email": format!("u{i}@example.jp"), "delivery": "invite_link"}))
                .await
        }
    });
        let results = futures::future::join_all(creates).await;
        let created = results
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        let full: Vec<_> = results
            .iter()
            .filter(|r| r.status == StatusCode::CONFLICT)
            .collect();
        assert_eq!(created, 10);
        assert_eq!(full.len(), 30);
        assert!(full.iter().all(|r| r.code() == "seat_limit_reached"));
        let tenant = app.get("/v1/tenant", &t.admin_token).await;
        assert_eq!(tenant.body["seats_used"], 11);
        let listed = app.get("/v1/users?limit=200", &t.admin_token).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(11));
    }
);

both_backends!(
    an_email_is_unique_per_tenant_whatever_its_case_and_width,
    |app: App| async move {
        let t = app.onboard(50).await;
        let other = app.onboard(5).await;
        let create = |tok: String, email: &'static str| {
            let app = &app;
            async move {
                app.post(
                    "/v1/users",
                    Some(&tok),
                    json!({"name": "X", "email": email, "delivery": "invite_link"}),
                )
                .await
            }
        };
        let (a, b) = tokio::join!(
            create(t.admin_token.clone(), "dup@example.jp"),
            create(t.admin_token.clone(), "DUP@EXAMPLE.JP")
        );
        let mut s = [a.status, b.status];
        s.sort();
        assert_eq!(s, [StatusCode::CREATED, StatusCode::CONFLICT]);
        let c = create(t.admin_token.clone(), "ｄｕｐ@example.jp").await;
        assert_eq!((c.status, c.code()), (StatusCode::CONFLICT, "email_taken"));
        // Another tenant may use the same address.
        assert_eq!(
            create(other.admin_token.clone(), "dup@example.jp")
                .await
                .status,
            StatusCode::CREATED
        );
    }
);

both_backends!(
    a_user_with_a_generated_password_must_change_it_first,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = app.post("/v1/users", Some(&t.admin_token), json!({"name": "G", "login_id": "gen01", "delivery": "generated", "role_id": "admin"})).await;
        let pw = r_str(&r.body["initial_password"]);
        let s = app.login(&t.slug, "gen01", &pw).await;
        let blocked = app.get("/v1/users", &s).await;
        assert_eq!(
            (blocked.status, blocked.code()),
            (StatusCode::FORBIDDEN, "password_change_required")
        );
        assert_eq!(app.get("/v1/me", &s).await.status, StatusCode::OK);
        let wrong = app
            .post(
                "/v1/me/password",
                Some(&s),
                json!({"current_password": "nope", "new_password": "a new passphrase"}),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        let same_as_login = app
            .post(
                "/v1/me/password",
                Some(&s),
                json!({"current_password": pw, "new_password": "GEN01"}),
            )
            .await;
        assert_eq!(same_as_login.code(), "weak_password");
        let ok = app
            .post(
                "/v1/me/password",
                Some(&s),
                json!({"current_password": pw, "new_password": "a new passphrase"}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get("/v1/users", &s).await.status, StatusCode::OK);
        assert_eq!(
            app.get("/v1/me", &s).await.body["must_change_password"],
            false
        );
    }
);

both_backends!(
    users_without_email_need_a_generated_password,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "N", "login_id": "nomail", "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "delivery_requires_email")
        );
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "N", "delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            1,
            "nothing changed"
        );
    }
);

both_backends!(
    malformed_requests_get_json_errors_and_change_nothing,
    |app: App| async move {
        let t = app.onboard(5).await;
        let tok = Some(t.admin_token.as_str());
        let unknown = app.post("/v1/users", tok, json!({"name": "X", "email": "x@example.jp", "delivery": "invite_link", "admin": true})).await;
        assert_eq!(
            (unknown.status, unknown.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        let array = app
            .post(
                "/v1/users",
                tok,
                json!(["X", "x@example.jp", null, "invite_link"]),
            )
            .await;
        assert_eq!(
            (array.status, array.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        let wrong_type = app
            .post(
                "/v1/users",
                tok,
                json!({"name": 5, "delivery": "generated"}),
            )
            .await;
        assert_eq!(wrong_type.code(), "invalid_request");
        let bad_enum = app
            .post(
                "/v1/users",
                tok,
                json!({"name": "X", "login_id": "x", "delivery": "carrier pigeon"}),
            )
            .await;
        assert_eq!(bad_enum.code(), "invalid_request");
        let bad_email = app
            .post(
                "/v1/users",
                tok,
                json!({"name": "X", "email": "not-an-address", "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(
            (
                bad_email.code(),
                r_str(&bad_email.body["error"]["field"]).as_str()
            ),
            ("invalid_request", "email")
        );

        let raw = |body: Vec<u8>, ct: Option<&'static str>| {
            let app = &app;
            let token = t.admin_token.clone();
            async move {
                let mut req = app
                    .http
                    .post(format!("{}/v1/users", app.base))
                    .bearer_auth(token)
                    .body(body);
                if let Some(ct) = ct {
                    req = req.header("content-type", ct);
                }
                let r = req.send().await.expect("sent");
                (
                    r.status(),
                    r.json::<serde_json::Value>()
                        .await
                        .expect("json error body"),
                )
            }
        };
        let (s, b) = raw(b"{not json".to_vec(), Some("application/json")).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
        let (s, b) = raw(b"{}".to_vec(), Some("text/plain")).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("unsupported_media_type")
            )
        );
        let (s, b) = raw(vec![b' '; (1 << 20) + 10], Some("application/json")).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
        );
        let (s, _) = raw(Vec::new(), Some("application/json")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        let nowhere = app.call("GET", "/v1/nowhere", None, None).await;
        assert_eq!(
            (nowhere.status, nowhere.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let no_token = app.call("GET", "/v1/users", None, None).await;
        assert_eq!(
            (no_token.status, no_token.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        );
        let bad_token = app.get("/v1/users", "made-up").await;
        assert_eq!(bad_token.code(), "unauthenticated");
        let bad_limit = app.get("/v1/users?limit=500", &t.admin_token).await;
        assert_eq!(bad_limit.code(), "invalid_request");
        let bad_cursor = app.get("/v1/users?cursor=%%%", &t.admin_token).await;
        assert_eq!(bad_cursor.code(), "invalid_request");
        let missing = app
            .get("/v1/users/01aaaaaaaaaaaaaaaaaaaaaaaa", &t.admin_token)
            .await;
        assert_eq!(
            (missing.status, missing.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            1
        );
    }
);

both_backends!(
    operator_endpoints_need_the_operator_token,
    |app: App| async move {
        let t = app.onboard(5).await;
        let as_user = app
            .get(&format!("/v1/ops/tenants/{}", t.id), &t.admin_token)
            .await;
        assert_eq!(as_user.status, StatusCode::UNAUTHORIZED);
        let got = app
            .get(&format!("/v1/ops/tenants/{}", t.id), &app.operator_token)
            .await;
        assert_eq!(got.body["slug"], t.slug.as_str());
        let raised = app
            .patch(
                &format!("/v1/ops/tenants/{}", t.id),
                &app.operator_token,
                json!({"seat_limit": 7, "name": "改名"}),
            )
            .await;
        assert_eq!(
            (
                raised.body["seat_limit"].as_i64(),
                raised.body["name"].as_str()
            ),
            (Some(7), Some("改名"))
        );
        // The answer (built from what was read and written, no read after the transaction) is the tenant
        // as it is now.
        let now = app
            .get(&format!("/v1/ops/tenants/{}", t.id), &app.operator_token)
            .await;
        assert_eq!(raised.body, now.body);
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "B", "login_id": "b1", "delivery": "generated"}),
        )
        .await;
        let below = app
            .patch(
                &format!("/v1/ops/tenants/{}", t.id),
                &app.operator_token,
                json!({"seat_limit": 1}),
            )
            .await;
        assert_eq!(below.status, StatusCode::CONFLICT);
        let dup = app
        .post("/v1/ops/tenants", Some(&app.operator_token), json!({"slug": t.slug, "name": "X", "seat_limit": 1, "admin": {"name": "A", "email": "a@b.jp"}}))
        .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "slug_taken")
        );
    }
);

both_backends!(changing_an_email_frees_the_old_one, |app: App| async move {
    let t = app.onboard(5).await;
    let u = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "C", "email": "old@example.jp", "delivery": "invite_link"}),
        )
        .await;
    let id = r_str(&u.body["user"]["id"]);
    let p = app
        .patch(
            &format!("/v1/users/{id}"),
            &t.admin_token,
            json!({"email": "new@example.jp", "name": "C2", "login_id": "c2"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{p:?}");
    assert_eq!(
        (p.body["email"].as_str(), p.body["name"].as_str()),
        (Some("new@example.jp"), Some("C2"))
    );
    let reuse = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "D", "email": "OLD@example.jp", "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::CREATED);
    let clash = app
        .patch(
            &format!("/v1/users/{id}"),
            &t.admin_token,
            json!({"email": "old@example.jp"}),
        )
        .await;
    assert_eq!(clash.code(), "email_taken");
    let got = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
    assert_eq!(got.body["email"], "new@example.jp");
});

both_backends!(
    paging_returns_every_user_exactly_once_and_search_finds_by_prefix,
    |app: App| async move {
        let t = app.onboard(40).await;
        for i in 0..12 {
            let r = app.post("/v1/users", Some(&t.admin_token), json!({"name": format!("社員 {i:02}"), "login_id": format!("emp{i:02}"), "delivery": "generated"})).await;
            assert_eq!(r.status, StatusCode::CREATED);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/users?limit=5&cursor={c}"),
                None => "/v1/users?limit=5".into(),
            };
            let page = app.get(&path, &t.admin_token).await;
            for u in page.body["items"].as_array().expect("items") {
                seen.push(r_str(&u["id"]));
            }
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 13);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 13);
        let found = app.get("/v1/users?q=EMP1", &t.admin_token).await;
        assert_eq!(
            found.body["items"].as_array().map(Vec::len),
            Some(2),
            "{:?}",
            found.body
        );
        let by_name = app
            .get("/v1/users?q=%E7%A4%BE%E5%93%A1&limit=3", &t.admin_token)
            .await; // 社員
        assert_eq!(by_name.body["items"].as_array().map(Vec::len), Some(3));
        assert!(by_name.body["next_cursor"].is_string());
    }
);

both_backends!(
    a_member_cannot_manage_users_and_tenants_cannot_see_each_other,
    |app: App| async move {
        let a = app.onboard(5).await;
        let b = app.onboard(5).await;
        let m = app
            .post(
                "/v1/users",
                Some(&a.admin_token),
                json!({"name": "M", "login_id": "member1", "delivery": "generated"}),
            )
            .await;
        let pw = r_str(&m.body["initial_password"]);
        let s = app.login(&a.slug, "member1", &pw).await;
        app.post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": "member passphrase"}),
        )
        .await;
        let denied = app.get("/v1/users", &s).await;
        assert_eq!(
            (denied.status, denied.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        assert_eq!(app.get("/v1/roles", &s).await.status, StatusCode::OK);
        // Tenant B's admin gets 404 for tenant A's user, and cannot change it.
        let id = r_str(&m.body["user"]["id"]);
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &b.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let p = app
            .patch(
                &format!("/v1/users/{id}"),
                &b.admin_token,
                json!({"name": "hijacked"}),
            )
            .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &a.admin_token)
                .await
                .body["name"],
            "M"
        );
    }
);

both_backends!(
    logging_out_or_changing_the_password_ends_sessions,
    |app: App| async move {
        let t = app.onboard(5).await;
        let second = app
            .login(&t.slug, &t.admin_email, "Kanri-test-passw0rd!")
            .await;
        let out = app
            .call("POST", "/v1/auth/logout", Some(&second), None)
            .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &second).await.status,
            StatusCode::UNAUTHORIZED
        );
        let third = app
            .login(&t.slug, &t.admin_email, "Kanri-test-passw0rd!")
            .await;
        let r = app.post("/v1/me/password", Some(&t.admin_token), json!({"current_password": "Kanri-test-passw0rd!", "new_password": "rotated passphrase"})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &third).await.status,
            StatusCode::UNAUTHORIZED,
            "other sessions are revoked"
        );
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.status,
            StatusCode::OK,
            "the current one stays"
        );
    }
);

both_backends!(
    the_permission_catalogue_matches_what_the_server_enforces,
    |app: App| async move {
        let t = app.onboard(5).await;
        let cat = app.get("/v1/permissions", &t.admin_token).await;
        let items = cat.body["items"].as_array().expect("items").clone();
        let settings = items
            .iter()
            .find(|i| i["feature"] == "settings")
            .expect("settings");
        assert!(
            settings["edit"]
                .as_array()
                .expect("edit")
                .iter()
                .any(|e| e == "POST /v1/users")
        );
        assert!(items.iter().any(|i| i["feature"] == "phishing_training"));
        // A learner lacks settings: every endpoint the catalogue lists under settings refuses them.
        let l = app.post("/v1/users", Some(&t.admin_token), json!({"name": "L", "login_id": "learner1", "delivery": "generated", "role_id": "learner"})).await;
        let pw = r_str(&l.body["initial_password"]);
        let s = app.login(&t.slug, "learner1", &pw).await;
        app.post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": "learner passphrase"}),
        )
        .await;
        for e in settings["edit"].as_array().expect("edit") {
            let (method, path) = e
                .as_str()
                .and_then(|e| e.split_once(' '))
                .expect("METHOD path");
            let path = path.replace("{id}", "01aaaaaaaaaaaaaaaaaaaaaaaa");
            let body = if method == "GET" {
                None
            } else {
                Some(json!({}))
            };
            let r = app.call(method, &path, Some(&s), body).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
);

both_backends!(
    no_plaintext_personal_data_is_stored,
    |app: App| async move {
        let t = app.onboard(5).await;
        app.post("/v1/users", Some(&t.admin_token), json!({"name": "暗号 化子", "email": "secret.person@example.jp", "login_id": "hidden-login", "delivery": "invite_link"})).await;
        let dump = kanri_tests::dump_store(&app).await;
        assert!(dump.len() > 1000, "the dump has the items");
        for needle in [
            "暗号",
            "secret.person",
            "hidden-login",
            "管理 太郎",
            &t.admin_email,
        ] {
            assert!(!dump.contains(needle), "{needle} found in plain text");
        }
    }
);

both_backends!(
    deleting_a_user_is_immediate_frees_the_seat_and_ends_their_sessions,
    |app: App| async move {
        let t = app.onboard(2).await;
        let u = app.post("/v1/users", Some(&t.admin_token), json!({"name": "Del", "email": "del@example.jp", "login_id": "del1", "delivery": "generated", "role_id": "admin"})).await;
        let id = r_str(&u.body["user"]["id"]);
        let s = app
            .login(&t.slug, "del1", &r_str(&u.body["initial_password"]))
            .await;
        let full = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "X", "login_id": "x1", "delivery": "generated"}),
            )
            .await;
        assert_eq!(full.code(), "seat_limit_reached");
        assert!(
            full.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains('2')),
            "names the limit: {:?}",
            full.body
        );
        assert_eq!(
            app.delete(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get("/v1/me", &s).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            1
        );
        let again = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "Del2", "email": "DEL@example.jp", "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(
            again.status,
            StatusCode::CREATED,
            "the e-mail and the seat are free again"
        );
        let me = app
            .delete(&format!("/v1/users/{}", t.admin_id), &t.admin_token)
            .await;
        assert_eq!(
            (me.status, me.code()),
            (StatusCode::CONFLICT, "cannot_delete_self")
        );
        let bulk = app
            .post(
                "/v1/users/bulk-delete",
                Some(&t.admin_token),
                json!({"ids": [r_str(&again.body["user"]["id"]), "nope", t.admin_id]}),
            )
            .await;
        assert_eq!(
            bulk.body["deleted"].as_array().map(Vec::len),
            Some(1),
            "{:?}",
            bulk.body
        );
        let codes: Vec<_> = bulk.body["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| r_str(&f["code"]))
            .collect();
        assert_eq!(codes, ["not_found", "cannot_delete_self"]);
    }
);
