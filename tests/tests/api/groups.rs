//! Groups and memberships, on both backends.

use std::collections::HashSet;

use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str};
use serde_json::{Value, json};

async fn users(app: &App, t: &Tenant, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = app
            .post("/v1/users", Some(&t.admin_token), json!({"name": format!("{prefix}{i}"), "login_id": format!("{prefix}{i}"), "delivery": "generated"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        ids.push(r_str(&r.body["user"]["id"]));
    }
    ids
}

async fn all_members(app: &App, t: &Tenant, gid: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/groups/{gid}/members?limit=7&cursor={c}"),
            None => format!("/v1/groups/{gid}/members?limit=7"),
        };
        let page = app.get(&path, &t.admin_token).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        out.extend(
            page.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|u| r_str(&u["id"])),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

both_backends!(
    group_names_are_unique_and_renaming_frees_the_old_one,
    |app: App| async move {
        let t = app.onboard(10).await;
        let tok = Some(t.admin_token.as_str());
        let g = app.post("/v1/groups", tok, json!({"name": "営業部"})).await;
        assert_eq!(g.status, StatusCode::CREATED, "{g:?}");
        assert_eq!(g.body["member_count"], 0);
        let gid = r_str(&g.body["id"]);
        let dup = app
            .post("/v1/groups", tok, json!({"name": " 営業部 "}))
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "group_name_taken")
        );
        let wide = app.post("/v1/groups", tok, json!({"name": "Sales"})).await;
        assert_eq!(wide.status, StatusCode::CREATED);
        assert_eq!(
            app.post("/v1/groups", tok, json!({"name": "ＳＡＬＥＳ"}))
                .await
                .code(),
            "group_name_taken"
        );
        let renamed = app
            .patch(
                &format!("/v1/groups/{gid}"),
                &t.admin_token,
                json!({"name": "第一営業部"}),
            )
            .await;
        assert_eq!(renamed.body["name"], "第一営業部");
        assert_eq!(
            app.post("/v1/groups", tok, json!({"name": "営業部"}))
                .await
                .status,
            StatusCode::CREATED,
            "old name free"
        );
        let clash = app
            .patch(
                &format!("/v1/groups/{gid}"),
                &t.admin_token,
                json!({"name": "sales"}),
            )
            .await;
        assert_eq!(clash.code(), "group_name_taken");
        let found = app
            .get("/v1/groups?q=%E7%AC%AC%E4%B8%80", &t.admin_token)
            .await; // 第一
        assert_eq!(found.body["items"].as_array().map(Vec::len), Some(1));
    }
);

both_backends!(
    bulk_creation_reports_each_failure_by_index,
    |app: App| async move {
        let t = app.onboard(10).await;
        app.post("/v1/groups", Some(&t.admin_token), json!({"name": "既存"}))
            .await;
        let mut names: Vec<String> = (0..120).map(|i| format!("拠点{i:03}")).collect();
        names.insert(5, "既存".into());
        names.insert(10, "拠点000".into());
        names.insert(20, "".into());
        let r = app
            .post(
                "/v1/groups/bulk",
                Some(&t.admin_token),
                json!({"names": names}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["created"].as_array().map(Vec::len), Some(120));
        let failed: Vec<(i64, String)> = r.body["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| (f["index"].as_i64().unwrap_or(-1), r_str(&f["code"])))
            .collect();
        assert_eq!(
            failed,
            [
                (5, "group_name_taken".to_string()),
                (10, "group_name_taken".to_string()),
                (20, "invalid_request".to_string())
            ]
        );
        let too_many = app
            .post(
                "/v1/groups/bulk",
                Some(&t.admin_token),
                json!({"names": vec!["x"; 1001]}),
            )
            .await;
        assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
        let listed = app.get("/v1/groups?limit=200", &t.admin_token).await;
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(121));
    }
);

both_backends!(
    members_are_added_and_removed_in_bulk_and_strangers_never_join,
    |app: App| async move {
        let t = app.onboard(200).await;
        let other = app.onboard(5).await;
        let ids = users(&app, &t, 60, "m").await;
        let stranger = users(&app, &other, 1, "s").await.remove(0);
        let gone = ids[59].clone();
        assert_eq!(
            app.delete(&format!("/v1/users/{gone}"), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let gid = r_str(
            &app.post("/v1/groups", Some(&t.admin_token), json!({"name": "全社"}))
                .await
                .body["id"],
        );
        let mut batch: Vec<String> = ids.clone();
        batch.push(stranger.clone());
        batch.push("not-an-id".into());
        let r = app
            .post(
                &format!("/v1/groups/{gid}/members"),
                Some(&t.admin_token),
                json!({"user_ids": batch}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["added"].as_array().map(Vec::len), Some(59));
        let failed: HashSet<String> = r.body["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| r_str(&f["id"]))
            .collect();
        assert_eq!(
            failed,
            HashSet::from([gone.clone(), stranger.clone(), "not-an-id".to_string()])
        );
        assert_eq!(
            app.get(&format!("/v1/groups/{gid}"), &t.admin_token)
                .await
                .body["member_count"],
            59
        );
        let members = all_members(&app, &t, &gid).await;
        assert_eq!(members.len(), 59);
        assert_eq!(members.iter().collect::<HashSet<_>>().len(), 59);
        let u0 = app
            .get(&format!("/v1/users/{}", ids[0]), &t.admin_token)
            .await;
        assert_eq!(u0.body["group_ids"], json!([gid]));
        let by_filter = app
            .get(
                &format!("/v1/users?group_id={gid}&limit=200"),
                &t.admin_token,
            )
            .await;
        assert_eq!(by_filter.body["items"].as_array().map(Vec::len), Some(59));
        // Adding again is idempotent.
        let again = app
            .post(
                &format!("/v1/groups/{gid}/members"),
                Some(&t.admin_token),
                json!({"user_ids": [ids[0]]}),
            )
            .await;
        assert_eq!(again.body["added"], json!([ids[0]]));
        assert_eq!(
            app.get(&format!("/v1/groups/{gid}"), &t.admin_token)
                .await
                .body["member_count"],
            59
        );
        let rm = app
            .post(
                &format!("/v1/groups/{gid}/members/remove"),
                Some(&t.admin_token),
                json!({"user_ids": ids[..10], }),
            )
            .await;
        assert_eq!(rm.body["removed"].as_array().map(Vec::len), Some(10));
        let rm_again = app
            .post(
                &format!("/v1/groups/{gid}/members/remove"),
                Some(&t.admin_token),
                json!({"user_ids": [ids[0]]}),
            )
            .await;
        assert_eq!(rm_again.body["failed"][0]["code"], "not_a_member");
        assert_eq!(
            app.delete(
                &format!("/v1/groups/{gid}/members/{}", ids[10]),
                &t.admin_token
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.delete(
                &format!("/v1/groups/{gid}/members/{}", ids[10]),
                &t.admin_token
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get(&format!("/v1/groups/{gid}"), &t.admin_token)
                .await
                .body["member_count"],
            48
        );
        assert_eq!(
            app.get(&format!("/v1/users/{}", ids[0]), &t.admin_token)
                .await
                .body["group_ids"],
            json!([])
        );
        // The other tenant's admin cannot see or touch the group.
        assert_eq!(
            app.get(&format!("/v1/groups/{gid}/members"), &other.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
);

both_backends!(
    member_counts_stay_exact_under_concurrent_adds_and_removes,
    |app: App| async move {
        let t = app.onboard(100).await;
        let ids = users(&app, &t, 30, "c").await;
        let gid = r_str(
            &app.post("/v1/groups", Some(&t.admin_token), json!({"name": "競合"}))
                .await
                .body["id"],
        );
        let call = |path: String, ids: Vec<String>| {
            let app = &app;
            let tok = t.admin_token.clone();
            async move { app.post(&path, Some(&tok), json!({"user_ids": ids})).await }
        };
        let add = format!("/v1/groups/{gid}/members");
        let remove = format!("/v1/groups/{gid}/members/remove");
        let (a, b, c, d) = tokio::join!(
            call(add.clone(), ids[0..20].to_vec()),
            call(add.clone(), ids[10..30].to_vec()),
            call(add.clone(), ids[5..25].to_vec()),
            call(remove.clone(), ids[0..5].to_vec()),
        );
        for r in [&a, &b, &c, &d] {
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
        }
        let (e, f) = tokio::join!(
            call(remove.clone(), ids[20..30].to_vec()),
            call(remove.clone(), ids[25..30].to_vec())
        );
        assert_eq!((e.status, f.status), (StatusCode::OK, StatusCode::OK));
        let members = all_members(&app, &t, &gid).await;
        let count = app
            .get(&format!("/v1/groups/{gid}"), &t.admin_token)
            .await
            .body["member_count"]
            .as_i64();
        assert_eq!(
            count,
            Some(members.len() as i64),
            "member_count equals the members listed"
        );
        for id in &ids {
            let u = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
            let in_group = u.body["group_ids"]
                .as_array()
                .is_some_and(|g| g.contains(&Value::String(gid.clone())));
            assert_eq!(
                in_group,
                members.contains(id),
                "both directions agree for {id}"
            );
        }
    }
);

both_backends!(
    deleting_a_group_keeps_its_users_and_deleting_a_user_leaves_its_groups,
    |app: App| async move {
        let t = app.onboard(50).await;
        let ids = users(&app, &t, 5, "d").await;
        let g1 = r_str(
            &app.post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": "G1", "member_ids": ids}),
            )
            .await
            .body["id"],
        );
        let g2 = r_str(
            &app.post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": "G2", "member_ids": ids}),
            )
            .await
            .body["id"],
        );
        assert_eq!(
            app.get(&format!("/v1/groups/{g1}"), &t.admin_token)
                .await
                .body["member_count"],
            5
        );
        assert_eq!(
            app.delete(&format!("/v1/users/{}", ids[0]), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&format!("/v1/groups/{g2}"), &t.admin_token)
                .await
                .body["member_count"],
            4
        );
        assert_eq!(all_members(&app, &t, &g2).await.len(), 4);
        assert_eq!(
            app.delete(&format!("/v1/groups/{g1}"), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.get(&format!("/v1/groups/{g1}"), &t.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let u = app
            .get(&format!("/v1/users/{}", ids[1]), &t.admin_token)
            .await;
        assert_eq!(
            u.body["group_ids"],
            json!([g2]),
            "the deleted group is gone from the user, the other stays"
        );
        let created = app
        .post("/v1/users", Some(&t.admin_token), json!({"name": "new", "login_id": "joiner", "delivery": "generated", "group_ids": [g2]}))
        .await;
        assert_eq!(created.body["user"]["group_ids"], json!([g2]));
        assert_eq!(
            app.get(&format!("/v1/groups/{g2}"), &t.admin_token)
                .await
                .body["member_count"],
            5
        );
        let bad = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "x", "login_id": "x9", "delivery": "generated", "group_ids": [g1]}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let g3 = r_str(
            &app.post("/v1/groups", Some(&t.admin_token), json!({"name": "G3"}))
                .await
                .body["id"],
        );
        let bulk = app
            .post(
                "/v1/groups/bulk-delete",
                Some(&t.admin_token),
                json!({"ids": [g2, g3, g1]}),
            )
            .await;
        assert_eq!(bulk.body["deleted"].as_array().map(Vec::len), Some(2));
        assert_eq!(bulk.body["failed"][0]["code"], "not_found");
        assert_eq!(
            app.get(&format!("/v1/users/{}", ids[1]), &t.admin_token)
                .await
                .body["group_ids"],
            json!([])
        );
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            6,
            "users stay"
        );
    }
);
