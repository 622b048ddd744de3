//! `POST /v1/users/bulk-delete` deletes its users in as few transactions as hold them (one BatchGetItem of
//! the users, their tokens in the transactions): what the batching could break. Each id is judged on its
//! own (refused by the target rule, unknown, malformed, named twice, oneself: a failed entry each, the
//! others deleted), counters shared by the users of one transaction (seats, a custom role's holders, a
//! group's member count) move by exactly the users deleted, every deletion has its audit entry, and the
//! deleted users' sessions and links are dead at once and their token items gone.

use serde_json::{Value, json};

use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str, unique};

async fn role(app: &App, t: &Tenant, name: &str, grants: Value) -> String {
    let r = app
        .post(
            "/v1/roles",
            Some(&t.admin_token),
            json!({"name": name, "grants": grants}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["id"])
}

/// A user with this role, signed in (a generated password, changed): id and session.
async fn signed_in(app: &App, t: &Tenant, role_id: &str) -> (String, String) {
    let login = unique("bd");
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "一括 削除", "login_id": login, "delivery": "generated", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r_str(&r.body["user"]["id"]);
    let pw = r_str(&r.body["initial_password"]);
    let token = app.login(&t.slug, &login, &pw).await;
    let c = app
        .post(
            "/v1/me/password",
            Some(&token),
            json!({"current_password": pw, "new_password": format!("{login} passphrase")}),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{c:?}");
    (id, token)
}

/// An invited user (an invitation link open) with this role: its id.
async fn invited(app: &App, t: &Tenant, role_id: &str) -> String {
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "招待 中", "email": format!("{}@example.jp", unique("bd-")), "delivery": "invite_link", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["user"]["id"])
}

async fn group(app: &App, t: &Tenant, members: &[&String]) -> String {
    let r = app
        .post(
            "/v1/groups",
            Some(&t.admin_token),
            json!({"name": unique("部署 "), "member_ids": members}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["id"])
}

async fn seats_used(app: &App, t: &Tenant) -> i64 {
    app.get("/v1/tenant", &t.admin_token).await.body["seats_used"]
        .as_i64()
        .expect("seats_used")
}

/// The items left of the users' token indexes (`UTOK#<user>#…`) and of their global token records.
async fn tokens_left(app: &App, t: &Tenant, users: &[String]) -> usize {
    use kanri::ports::{Query, Table};
    let mut n = 0;
    for u in users {
        let page = app
            .svc
            .store
            .query(&Query::prefix(
                Table::Data,
                format!("T#{}", t.id),
                format!("UTOK#{u}#"),
            ))
            .await
            .expect("query");
        n += page.items.len();
    }
    n
}

/// The audit entries `user.delete` of these targets (every page of the log).
async fn deletions_logged(app: &App, t: &Tenant, ids: &[String]) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/audit-log?limit=200&cursor={c}"),
            None => "/v1/audit-log?limit=200".to_owned(),
        };
        let log = app.get(&path, &t.admin_token).await;
        assert_eq!(log.status, StatusCode::OK, "{log:?}");
        n += log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| {
                r_str(&i["action"]) == "user.delete" && ids.contains(&r_str(&i["target"]["id"]))
            })
            .count();
        match log.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return n,
        }
    }
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array().expect("a list").iter().map(r_str).collect()
}

both_backends!(
    a_bulk_delete_judges_each_id_and_deletes_the_others_together,
    |app: App| async move {
        let t = app.onboard(100).await;
        let settings = role(&app, &t, "設定係", json!({"settings": "edit"})).await;
        let wider = role(
            &app,
            &t,
            "設定と監査",
            json!({"settings": "edit", "audit_log": "view"}),
        )
        .await;
        // The caller may edit settings and nothing else.
        let (caller, caller_session) = signed_in(&app, &t, &settings).await;
        // Allowed: peers of the caller's role, signed in or invited, two of them in the same groups.
        let (a, a_session) = signed_in(&app, &t, &settings).await;
        let (b, b_session) = signed_in(&app, &t, &settings).await;
        let c = invited(&app, &t, &settings).await;
        let d = invited(&app, &t, &settings).await;
        // Refused: the built-in admin role and a wider custom role are beyond the caller's grants.
        let (admin_role, admin_session) = signed_in(&app, &t, "admin").await;
        let wide = invited(&app, &t, &wider).await;
        let (keep, _) = signed_in(&app, &t, &settings).await;
        let g1 = group(&app, &t, &[&a, &b, &c, &keep]).await;
        let g2 = group(&app, &t, &[&a, &b, &admin_role]).await;
        let used = seats_used(&app, &t).await;

        let unknown = "0".repeat(26);
        let r = app
            .post(
                "/v1/users/bulk-delete",
                Some(&caller_session),
                json!({"ids": [a, admin_role, "nope", b, a, caller, unknown, wide, c, d]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            ids_of(&r.body["deleted"]),
            [a.clone(), b.clone(), c.clone(), d.clone()],
            "{:?}",
            r.body
        );
        let failed: Vec<(String, String)> = r.body["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| (r_str(&f["id"]), r_str(&f["code"])))
            .collect();
        assert_eq!(
            failed,
            [
                (admin_role.clone(), "target_outranks_caller".into()),
                ("nope".into(), "not_found".into()),
                (a.clone(), "not_found".into()),
                (caller.clone(), "cannot_delete_self".into()),
                (unknown.clone(), "not_found".into()),
                (wide.clone(), "target_outranks_caller".into()),
            ],
            "{:?}",
            r.body
        );

        let gone = [a.clone(), b.clone(), c.clone(), d.clone()];
        for id in &gone {
            assert_eq!(
                app.get(&format!("/v1/users/{id}"), &t.admin_token)
                    .await
                    .status,
                StatusCode::NOT_FOUND
            );
        }
        for s in [&a_session, &b_session] {
            assert_eq!(app.get("/v1/me", s).await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(
            tokens_left(&app, &t, &gone).await,
            0,
            "their tokens are gone"
        );
        // The refused ones are untouched and still signed in.
        for id in [&admin_role, &wide, &caller] {
            assert_eq!(
                app.get(&format!("/v1/users/{id}"), &t.admin_token)
                    .await
                    .status,
                StatusCode::OK
            );
        }
        assert_eq!(
            app.get("/v1/me", &admin_session).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/v1/me", &caller_session).await.status,
            StatusCode::OK
        );

        assert_eq!(
            seats_used(&app, &t).await,
            used - 4,
            "four seats freed, once each"
        );
        let g = |id: String| {
            let app = &app;
            let t = &t;
            async move {
                app.get(&format!("/v1/groups/{id}"), &t.admin_token)
                    .await
                    .body["member_count"]
                    .as_i64()
            }
        };
        assert_eq!(g(g1).await, Some(1), "keep is left");
        assert_eq!(g(g2).await, Some(1), "the admin is left");
        assert_eq!(deletions_logged(&app, &t, &gone).await, 4);
        // Seats, the role's holders and the groups' member counts agree with what is stored.
        let broken = app.broken_invariants(&t.id).await;
        assert!(broken.is_empty(), "{broken:?}");
    }
);

both_backends!(
    a_bulk_delete_of_more_users_than_one_transaction_holds_deletes_them_all,
    |app: App| async move {
        let t = app.onboard(100).await;
        let custom = role(&app, &t, "お知らせ閲覧", json!({"notices": "view"})).await;
        // Sixty users: invited ones (a link each), some signed in (a session each), with a custom role,
        // many in the same two groups, so every transaction shares the tenant item, the role and groups.
        let mut ids = Vec::new();
        let mut sessions = Vec::new();
        for i in 0..60 {
            if i % 10 == 0 {
                let (id, s) = signed_in(&app, &t, &custom).await;
                ids.push(id);
                sessions.push(s);
            } else {
                ids.push(invited(&app, &t, &custom).await);
            }
        }
        let half: Vec<&String> = ids.iter().step_by(2).collect();
        let third: Vec<&String> = ids.iter().step_by(3).collect();
        let (survivor, survivor_session) = signed_in(&app, &t, &custom).await;
        let mut g1_members = half.clone();
        g1_members.push(&survivor);
        let g1 = group(&app, &t, &g1_members).await;
        let g2 = group(&app, &t, &third).await;
        let used = seats_used(&app, &t).await;

        let r = app
            .post(
                "/v1/users/bulk-delete",
                Some(&t.admin_token),
                json!({ "ids": ids }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(ids_of(&r.body["deleted"]), ids, "{:?}", r.body);
        assert_eq!(r.body["failed"], json!([]));

        assert_eq!(seats_used(&app, &t).await, used - 60);
        for s in &sessions {
            assert_eq!(app.get("/v1/me", s).await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(
            app.get("/v1/me", &survivor_session).await.status,
            StatusCode::OK
        );
        assert_eq!(
            tokens_left(&app, &t, &ids).await,
            0,
            "their tokens are gone"
        );
        let list = app.get("/v1/users?limit=200", &t.admin_token).await;
        let left: Vec<String> = list.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|u| r_str(&u["id"]))
            .collect();
        assert!(ids.iter().all(|i| !left.contains(i)), "all gone");
        assert!(left.contains(&survivor));
        let count = |id: &String| {
            let app = &app;
            let t = &t;
            let id = id.clone();
            async move {
                app.get(&format!("/v1/groups/{id}"), &t.admin_token)
                    .await
                    .body["member_count"]
                    .as_i64()
            }
        };
        assert_eq!(count(&g1).await, Some(1));
        assert_eq!(count(&g2).await, Some(0));
        assert_eq!(deletions_logged(&app, &t, &ids).await, 60);
        let broken = app.broken_invariants(&t.id).await;
        assert!(broken.is_empty(), "{broken:?}");
    }
);

both_backends!(
    bulk_deletes_racing_each_other_and_membership_changes_delete_each_user_once,
    |app: App| async move {
        let t = app.onboard(200).await;
        let g = group(&app, &t, &[]).await;
        let tok = Some(t.admin_token.as_str());
        for _ in 0..6 {
            let a = invited(&app, &t, "member").await;
            let b = invited(&app, &t, "member").await;
            let c = invited(&app, &t, "member").await;
            let joined = app
                .post(
                    &format!("/v1/groups/{g}/members"),
                    Some(&t.admin_token),
                    json!({"user_ids": [b]}),
                )
                .await;
            assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
            let (add_path, remove_path, delete_path) = (
                format!("/v1/groups/{g}/members"),
                format!("/v1/groups/{g}/members/remove"),
                format!("/v1/users/{c}"),
            );
            let (one, two, added, removed, single) = tokio::join!(
                app.call(
                    "POST",
                    "/v1/users/bulk-delete",
                    tok,
                    Some(json!({"ids": [a, b, c]}))
                ),
                app.call(
                    "POST",
                    "/v1/users/bulk-delete",
                    tok,
                    Some(json!({"ids": [c, b]}))
                ),
                app.call("POST", &add_path, tok, Some(json!({"user_ids": [a]}))),
                app.call("POST", &remove_path, tok, Some(json!({"user_ids": [b]}))),
                app.call("DELETE", &delete_path, tok, None),
            );
            assert_eq!(
                (added.status, removed.status),
                (StatusCode::OK, StatusCode::OK)
            );
            // Each user is deleted by exactly one of the requests; the others find it gone.
            let mut deleted = ids_of(&one.body["deleted"]);
            deleted.extend(ids_of(&two.body["deleted"]));
            if single.status == StatusCode::NO_CONTENT {
                deleted.push(c.clone());
            } else {
                assert_eq!(single.code(), "not_found", "{single:?}");
            }
            deleted.sort();
            let mut want = vec![a.clone(), b.clone(), c.clone()];
            want.sort();
            assert_eq!(deleted, want, "{one:?} {two:?} {single:?}");
            for r in [&one, &two] {
                for f in r.body["failed"].as_array().expect("failed") {
                    assert_eq!(r_str(&f["code"]), "not_found", "{r:?}");
                }
            }
        }
        assert_eq!(seats_used(&app, &t).await, 1, "only the admin is left");
        let count = app
            .get(&format!("/v1/groups/{g}"), &t.admin_token)
            .await
            .body["member_count"]
            .as_i64();
        assert_eq!(count, Some(0));
        let broken = app.broken_invariants(&t.id).await;
        assert!(broken.is_empty(), "{broken:?}");
    }
);

both_backends!(
    a_bulk_group_delete_takes_shared_members_out_of_every_group_at_once,
    |app: App| async move {
        let t = app.onboard(100).await;
        let mut users = Vec::new();
        for _ in 0..52 {
            users.push(invited(&app, &t, "member").await);
        }
        let (a, b, c) = (&users[0], &users[1], &users[2]);
        // Members shared between the groups deleted together, a group too big for one transaction with
        // its members (deleted on its own), and a group that stays.
        let g1 = group(&app, &t, &[a, b]).await;
        let g2 = group(&app, &t, &[a, b, c]).await;
        let g3 = group(&app, &t, &[]).await;
        let big = group(&app, &t, &users.iter().collect::<Vec<_>>()).await;
        let kept = group(&app, &t, &[a]).await;
        let unknown = "0".repeat(26);
        let r = app
            .post(
                "/v1/groups/bulk-delete",
                Some(&t.admin_token),
                json!({"ids": [g1, big, "nope", g2, g1, unknown, g3]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            ids_of(&r.body["deleted"]),
            [g1.clone(), big.clone(), g2.clone(), g3.clone()],
            "{:?}",
            r.body
        );
        let failed: Vec<(String, String)> = r.body["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| (r_str(&f["id"]), r_str(&f["code"])))
            .collect();
        assert_eq!(
            failed,
            [
                ("nope".to_owned(), "not_found".to_owned()),
                (g1.clone(), "not_found".into()),
                (unknown.clone(), "not_found".into()),
            ]
        );
        for g in [&g1, &g2, &g3, &big] {
            assert_eq!(
                app.get(&format!("/v1/groups/{g}"), &t.admin_token)
                    .await
                    .status,
                StatusCode::NOT_FOUND
            );
        }
        let groups_of = |u: String| {
            let app = &app;
            let t = &t;
            async move {
                app.get(&format!("/v1/users/{u}"), &t.admin_token)
                    .await
                    .body["group_ids"]
                    .clone()
            }
        };
        assert_eq!(groups_of(a.clone()).await, json!([kept]));
        assert_eq!(groups_of(b.clone()).await, json!([]));
        assert_eq!(groups_of(c.clone()).await, json!([]));
        assert_eq!(groups_of(users[51].clone()).await, json!([]));
        let log = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
        let deleted: Vec<String> = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| r_str(&i["action"]) == "group.delete")
            .map(|i| r_str(&i["target"]["id"]))
            .collect();
        for g in [&g1, &g2, &g3, &big] {
            assert_eq!(
                deleted.iter().filter(|d| d == &g).count(),
                1,
                "{g}: {deleted:?}"
            );
        }
        let broken = app.broken_invariants(&t.id).await;
        assert!(broken.is_empty(), "{broken:?}");
    }
);
