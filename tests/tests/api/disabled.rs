//! Disabled users (issue 18): no login, no session, no seat; enabling takes a seat again atomically; the
//! target rule; the list's status filter. On both backends.

use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str, unique};
use serde_json::{Value, json};

/// A user with a generated password changed to one of their own: (id, login, password, session).
async fn user_with_password(
    app: &App,
    t: &Tenant,
    role_id: &str,
) -> (String, String, String, String) {
    let login = unique("dis");
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "無効 候補", "login_id": login, "delivery": "generated", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let pw = r_str(&r.body["initial_password"]);
    let s = app.login(&t.slug, &login, &pw).await;
    let password = format!("{login} passphrase");
    let c = app
        .post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": password}),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{c:?}");
    (r_str(&r.body["user"]["id"]), login, password, s)
}

/// An invited user (no password to hash): (id, e-mail).
async fn invited(app: &App, t: &Tenant) -> (String, String) {
    let email = format!("{}@example.jp", unique("inv"));
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "招待 者", "email": email, "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    (r_str(&r.body["user"]["id"]), email)
}

async fn seats_used(app: &App, t: &Tenant) -> i64 {
    app.get("/v1/tenant", &t.admin_token).await.body["seats_used"]
        .as_i64()
        .expect("seats_used")
}

async fn set(app: &App, token: &str, id: &str, what: &str) -> kanri_tests::Resp {
    app.post(&format!("/v1/users/{id}/{what}"), Some(token), json!({}))
        .await
}

async fn login_answer(
    app: &App,
    ip: &str,
    slug: &str,
    login: &str,
    password: &str,
) -> (StatusCode, Value) {
    let r = app
        .call_from(
            ip,
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"tenant": slug, "login": login, "password": password})),
        )
        .await;
    (r.status, r.body)
}

both_backends!(
    a_disabled_user_cannot_log_in_loses_sessions_and_seat_and_keeps_the_rest,
    |app: App| async move {
        let t = app.onboard(4).await;
        let g = app
            .post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": unique("部署 ")}),
            )
            .await;
        let gid = r_str(&g.body["id"]);
        let (id, login, password, session) = user_with_password(&app, &t, "member").await;
        let add = app
            .post(
                &format!("/v1/groups/{gid}/members"),
                Some(&t.admin_token),
                json!({"user_ids": [id]}),
            )
            .await;
        assert_eq!(add.status, StatusCode::OK, "{add:?}");
        let (pending, pending_email) = invited(&app, &t).await;
        let link = app.link_token(&pending_email).await;
        assert_eq!(seats_used(&app, &t).await, 3);

        let d = set(&app, &t.admin_token, &id, "disable").await;
        assert_eq!(d.status, StatusCode::OK, "{d:?}");
        assert_eq!(d.body["status"], "disabled");
        assert_eq!(d.body["role_id"], "member");
        assert_eq!(d.body["group_ids"], json!([gid]));
        // Again: nothing changes, the same answer.
        let again = set(&app, &t.admin_token, &id, "disable").await;
        assert_eq!(
            (again.status, &again.body["status"]),
            (StatusCode::OK, &json!("disabled"))
        );
        assert_eq!(seats_used(&app, &t).await, 2, "the seat is given back");

        // The session is over, and a login answers exactly as a wrong password does.
        assert_eq!(
            app.get("/v1/me", &session).await.status,
            StatusCode::UNAUTHORIZED
        );
        let refused = login_answer(&app, "198.51.100.21", &t.slug, &login, &password).await;
        let wrong = login_answer(
            &app,
            "198.51.100.22",
            &t.slug,
            &login,
            "not the password at all",
        )
        .await;
        assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(
            refused, wrong,
            "a disabled user's login looks like a wrong password"
        );

        // An open invitation link dies with the disabling.
        let pd = set(&app, &t.admin_token, &pending, "disable").await;
        assert_eq!(pd.body["status"], "disabled", "{pd:?}");
        let used = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": link, "password": "Kanri-test-passw0rd!"}),
            )
            .await;
        assert_eq!(used.code(), "invalid_token", "{used:?}");
        // No credentials for a disabled user, nor the org-admin flag.
        let reissue = app
            .post(
                &format!("/v1/users/{pending}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "generated"}),
            )
            .await;
        assert_eq!(
            (reissue.status, reissue.code()),
            (StatusCode::CONFLICT, "user_disabled")
        );
        let flag = app
            .call(
                "PUT",
                &format!("/v1/users/{id}/org-admin"),
                Some(&t.admin_token),
                None,
            )
            .await;
        assert_eq!(
            (flag.status, flag.code()),
            (StatusCode::CONFLICT, "user_disabled")
        );

        // The freed seats fit new users: 4 seats, 2 disabled of 6 users.
        assert_eq!(seats_used(&app, &t).await, 1);
        invited(&app, &t).await;
        invited(&app, &t).await;
        let (extra, _) = invited(&app, &t).await;
        assert_eq!(seats_used(&app, &t).await, 4);
        let full = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "満員", "login_id": unique("full"), "delivery": "generated"}),
            )
            .await;
        assert_eq!(full.code(), "seat_limit_reached", "{full:?}");

        // Enabling without a free seat: 409 and nothing changed.
        let before = app
            .get(&format!("/v1/users/{id}"), &t.admin_token)
            .await
            .body;
        let e = set(&app, &t.admin_token, &id, "enable").await;
        assert_eq!(
            (e.status, e.code()),
            (StatusCode::CONFLICT, "seat_limit_reached"),
            "{e:?}"
        );
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .body,
            before
        );
        assert_eq!(seats_used(&app, &t).await, 4);

        // Deleting a disabled user gives back no seat (it held none).
        let del = app
            .delete(&format!("/v1/users/{pending}"), &t.admin_token)
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT, "{del:?}");
        assert_eq!(seats_used(&app, &t).await, 4);
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );

        // Free one seat; now the user comes back, active, with role and groups, and may log in again.
        assert_eq!(
            app.delete(&format!("/v1/users/{extra}"), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let e = set(&app, &t.admin_token, &id, "enable").await;
        assert_eq!(e.status, StatusCode::OK, "{e:?}");
        assert_eq!(
            (&e.body["status"], &e.body["role_id"], &e.body["group_ids"]),
            (&json!("active"), &json!("member"), &json!([gid]))
        );
        assert_eq!(seats_used(&app, &t).await, 4);
        let s = app.login(&t.slug, &login, &password).await;
        assert_eq!(app.get("/v1/me", &s).await.status, StatusCode::OK);
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );

        let log = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
        let actions: Vec<(String, String)> = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| (r_str(&i["action"]), r_str(&i["target"]["id"])))
            .collect();
        assert!(
            actions.contains(&("user.disable".into(), id.clone())),
            "{actions:?}"
        );
        assert!(
            actions.contains(&("user.enable".into(), id.clone())),
            "{actions:?}"
        );
        assert_eq!(
            actions
                .iter()
                .filter(|(a, i)| a == "user.disable" && *i == id)
                .count(),
            1,
            "disabling twice is one change"
        );
    }
);

both_backends!(
    concurrent_enables_race_for_the_last_seat_and_exactly_one_wins,
    |app: App| async move {
        let t = app.onboard(3).await;
        let (a, _) = invited(&app, &t).await;
        let (b, _) = invited(&app, &t).await;
        for id in [&a, &b] {
            assert_eq!(
                set(&app, &t.admin_token, id, "disable").await.status,
                StatusCode::OK
            );
        }
        // Admin + a third user: one seat left for a and b.
        invited(&app, &t).await;
        assert_eq!(seats_used(&app, &t).await, 2);
        for round in 0..8 {
            let (ra, rb) = tokio::join!(
                set(&app, &t.admin_token, &a, "enable"),
                set(&app, &t.admin_token, &b, "enable")
            );
            let won: Vec<&str> = [(&ra, &a), (&rb, &b)]
                .iter()
                .filter(|(r, _)| r.status == StatusCode::OK)
                .map(|(_, id)| id.as_str())
                .collect();
            assert_eq!(won.len(), 1, "round {round}: {ra:?} {rb:?}");
            let lost = if ra.status == StatusCode::OK {
                &rb
            } else {
                &ra
            };
            assert_eq!(
                (lost.status, lost.code()),
                (StatusCode::CONFLICT, "seat_limit_reached"),
                "round {round}"
            );
            assert_eq!(seats_used(&app, &t).await, 3, "round {round}");
            assert!(
                app.broken_invariants(&t.id).await.is_empty(),
                "round {round}: {:?}",
                app.broken_invariants(&t.id).await
            );
            assert_eq!(
                set(&app, &t.admin_token, won[0], "disable").await.status,
                StatusCode::OK
            );
        }
        // Two enables of one user with seats to spare take one seat.
        let (r1, r2) = tokio::join!(
            set(&app, &t.admin_token, &a, "enable"),
            set(&app, &t.admin_token, &a, "enable")
        );
        assert!(
            r1.status == StatusCode::OK || r2.status == StatusCode::OK,
            "{r1:?} {r2:?}"
        );
        for r in [&r1, &r2] {
            assert!(
                r.status == StatusCode::OK || r.code() == "conflict",
                "{r:?}"
            );
        }
        assert_eq!(seats_used(&app, &t).await, 3);
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
    }
);

both_backends!(
    nobody_disables_themselves_or_an_account_above_their_own,
    |app: App| async move {
        let t = app.onboard(20).await;
        let me = set(&app, &t.admin_token, &t.admin_id, "disable").await;
        assert_eq!(
            (me.status, me.code()),
            (StatusCode::CONFLICT, "cannot_disable_self")
        );
        let r = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "設定係", "grants": {"settings": "edit"}}),
            )
            .await;
        let peer = r_str(&r.body["id"]);
        let (_, _, _, caller) = user_with_password(&app, &t, &peer).await;
        let (wider, _, _, _) = user_with_password(&app, &t, "admin").await;
        let (other_admin, _, _, other_admin_session) = user_with_password(&app, &t, &peer).await;
        let flag = app
            .call(
                "PUT",
                &format!("/v1/users/{other_admin}/org-admin"),
                Some(&t.admin_token),
                None,
            )
            .await;
        assert_eq!(flag.status, StatusCode::OK, "{flag:?}");
        for target in [&t.admin_id, &wider, &other_admin] {
            for what in ["disable", "enable"] {
                let before = app
                    .get(&format!("/v1/users/{target}"), &t.admin_token)
                    .await
                    .body;
                let r = set(&app, &caller, target, what).await;
                assert_eq!(
                    (r.status, r.code()),
                    (StatusCode::FORBIDDEN, "target_outranks_caller"),
                    "{what} {target}"
                );
                assert_eq!(
                    app.get(&format!("/v1/users/{target}"), &t.admin_token)
                        .await
                        .body,
                    before
                );
            }
        }
        // A peer is within the caller's grants.
        let (peer_user, _, _, _) = user_with_password(&app, &t, &peer).await;
        assert_eq!(
            set(&app, &caller, &peer_user, "disable").await.body["status"],
            "disabled"
        );
        assert_eq!(
            set(&app, &caller, &peer_user, "enable").await.body["status"],
            "active"
        );
        // A role without settings: edit may do neither.
        let (_, _, _, learner) = user_with_password(&app, &t, "learner").await;
        assert_eq!(
            set(&app, &learner, &peer_user, "disable").await.status,
            StatusCode::FORBIDDEN
        );
        // An org admin disables another org admin, who leaves the org-admin count and comes back to it.
        let d = set(&app, &t.admin_token, &other_admin, "disable").await;
        assert_eq!(
            (d.status, &d.body["org_admin"]),
            (StatusCode::OK, &json!(true)),
            "{d:?}"
        );
        assert_eq!(
            app.get("/v1/me", &other_admin_session).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
        assert_eq!(
            set(&app, &t.admin_token, &other_admin, "enable")
                .await
                .status,
            StatusCode::OK
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
        let unknown = set(&app, &t.admin_token, "u_nope", "disable").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
);

both_backends!(the_user_list_filters_by_status, |app: App| async move {
    let t = app.onboard(20).await;
    let (a, _) = invited(&app, &t).await;
    let (b, _) = invited(&app, &t).await;
    let (_c, _) = invited(&app, &t).await;
    let (d, _, _, _) = user_with_password(&app, &t, "member").await;
    for id in [&a, &d] {
        assert_eq!(
            set(&app, &t.admin_token, id, "disable").await.status,
            StatusCode::OK
        );
    }
    let ids = |r: &kanri_tests::Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|u| r_str(&u["id"]))
            .collect()
    };
    let disabled = app.get("/v1/users?status=disabled", &t.admin_token).await;
    assert_eq!(disabled.status, StatusCode::OK, "{disabled:?}");
    let mut got = ids(&disabled);
    got.sort();
    let mut want = vec![a.clone(), d.clone()];
    want.sort();
    assert_eq!(got, want);
    let invited_ids = ids(&app.get("/v1/users?status=invited", &t.admin_token).await);
    assert_eq!(invited_ids.len(), 2);
    assert!(invited_ids.contains(&b) && !invited_ids.contains(&a));
    let active = ids(&app.get("/v1/users?status=active", &t.admin_token).await);
    assert_eq!(active, vec![t.admin_id.clone()]);
    // Paged: one at a time, each disabled user once.
    let first = app
        .get("/v1/users?status=disabled&limit=1", &t.admin_token)
        .await;
    let cursor = r_str(&first.body["next_cursor"]);
    assert!(!cursor.is_empty(), "{first:?}");
    let second = app
        .get(
            &format!("/v1/users?status=disabled&limit=1&cursor={cursor}"),
            &t.admin_token,
        )
        .await;
    let mut paged = ids(&first);
    paged.extend(ids(&second));
    paged.sort();
    assert_eq!(paged, want);
    // With a search.
    let q = ids(&app
        .get("/v1/users?status=disabled&q=dis", &t.admin_token)
        .await);
    assert_eq!(q, vec![d.clone()]);
    let bad = app.get("/v1/users?status=gone", &t.admin_token).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(bad.body["error"]["field"], "status", "{bad:?}");
});
