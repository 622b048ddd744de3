//! Roles, the permission catalogue, org admins and tenant isolation, on both backends.

use serde_json::{Value, json};

use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str};

/// Registers a user with a generated password, changes it, and returns (user id, session).
async fn user_with_role(app: &App, t: &Tenant, login: &str, role_id: &str) -> (String, String) {
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": login, "login_id": login, "delivery": "generated", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let pw = r_str(&r.body["initial_password"]);
    let s = app.login(&t.slug, login, &pw).await;
    let c = app
        .post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": format!("{login} passphrase")}),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT);
    (r_str(&r.body["user"]["id"]), s)
}

both_backends!(
    custom_roles_are_created_renamed_and_deleted_only_when_unused,
    |app: App| async move {
        let t = app.onboard(10).await;
        let tok = Some(t.admin_token.as_str());
        let r = app
            .post(
                "/v1/roles",
                tok,
                json!({"name": "教育担当", "grants": {"elearning": "edit", "notices": "view"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r_str(&r.body["id"]);
        assert_eq!(r.body["builtin"], false);
        let dup = app
            .post("/v1/roles", tok, json!({"name": "教育担当", "grants": {}}))
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::CONFLICT, "role_name_taken")
        );
        let builtin_name = app
            .post("/v1/roles", tok, json!({"name": "管理者", "grants": {}}))
            .await;
        assert_eq!(builtin_name.code(), "role_name_taken");
        let bad = app
            .post(
                "/v1/roles",
                tok,
                json!({"name": "X", "grants": {"teleport": "edit"}}),
            )
            .await;
        assert_eq!(bad.code(), "invalid_request");
        let renamed = app
            .patch(
                &format!("/v1/roles/{id}"),
                &t.admin_token,
                json!({"name": "研修担当", "grants": {"elearning": "view"}}),
            )
            .await;
        assert_eq!(
            (
                renamed.body["name"].as_str(),
                renamed.body["grants"]["elearning"].as_str()
            ),
            (Some("研修担当"), Some("view"))
        );
        // The old name is free again.
        assert_eq!(
            app.post("/v1/roles", tok, json!({"name": "教育担当", "grants": {}}))
                .await
                .status,
            StatusCode::CREATED
        );
        let builtin = app
            .patch("/v1/roles/admin", &t.admin_token, json!({"name": "boss"}))
            .await;
        assert_eq!(builtin.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.delete("/v1/roles/member", &t.admin_token).await.status,
            StatusCode::FORBIDDEN
        );

        let (uid, _) = user_with_role(&app, &t, "holder1", &id).await;
        let in_use = app.delete(&format!("/v1/roles/{id}"), &t.admin_token).await;
        assert_eq!(
            (in_use.status, in_use.code()),
            (StatusCode::CONFLICT, "role_in_use")
        );
        let moved = app
            .call(
                "PUT",
                &format!("/v1/users/{uid}/role"),
                Some(&t.admin_token),
                Some(json!({"role_id": "member"})),
            )
            .await;
        assert_eq!(moved.body["role_id"], "member");
        assert_eq!(
            app.delete(&format!("/v1/roles/{id}"), &t.admin_token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let list = app.get("/v1/roles", &t.admin_token).await;
        let names: Vec<String> = list.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| r_str(&r["name"]))
            .collect();
        assert!(
            names.contains(&"教育担当".to_string()) && !names.contains(&"研修担当".to_string()),
            "{names:?}"
        );
        assert_eq!(
            names
                .iter()
                .filter(|n| ["管理者", "担当者", "一般", "受講者"].contains(&n.as_str()))
                .count(),
            4
        );
    }
);

both_backends!(
    the_default_role_applies_to_new_users_and_cannot_be_deleted,
    |app: App| async move {
        let t = app.onboard(10).await;
        let r = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "新人", "grants": {"elearning": "view"}}),
            )
            .await;
        let id = r_str(&r.body["id"]);
        let set = app
            .call(
                "PUT",
                "/v1/tenant/default-role",
                Some(&t.admin_token),
                Some(json!({"role_id": id})),
            )
            .await;
        assert_eq!(set.body["default_role_id"], id.as_str());
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "N", "login_id": "newbie", "delivery": "generated"}),
            )
            .await;
        assert_eq!(u.body["user"]["role_id"], id.as_str());
        let uid = r_str(&u.body["user"]["id"]);
        app.call(
            "PUT",
            &format!("/v1/users/{uid}/role"),
            Some(&t.admin_token),
            Some(json!({"role_id": "learner"})),
        )
        .await;
        let del = app.delete(&format!("/v1/roles/{id}"), &t.admin_token).await;
        assert_eq!(
            (del.status, del.code()),
            (StatusCode::CONFLICT, "role_in_use")
        );
        let unknown = app
            .call(
                "PUT",
                "/v1/tenant/default-role",
                Some(&t.admin_token),
                Some(json!({"role_id": "nope"})),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    }
);

both_backends!(
    only_roles_within_ones_own_grants_can_be_handed_out,
    |app: App| async move {
        let t = app.onboard(10).await;
        let r = app.post("/v1/roles", Some(&t.admin_token), json!({"name": "人事", "grants": {"settings": "edit", "elearning": "edit", "notices": "view"}})).await;
        let hr = r_str(&r.body["id"]);
        let (_, hr_session) = user_with_role(&app, &t, "hr1", &hr).await;
        let (target, _) = user_with_role(&app, &t, "target1", "learner").await;
        let up = app
            .call(
                "PUT",
                &format!("/v1/users/{target}/role"),
                Some(&hr_session),
                Some(json!({"role_id": "admin"})),
            )
            .await;
        assert_eq!(
            (up.status, up.code()),
            (StatusCode::FORBIDDEN, "role_outranks_caller")
        );
        let ok = app
            .call(
                "PUT",
                &format!("/v1/users/{target}/role"),
                Some(&hr_session),
                Some(json!({"role_id": hr})),
            )
            .await;
        assert_eq!(
            (ok.status, ok.body["role_id"].as_str()),
            (StatusCode::OK, Some(hr.as_str()))
        );
        // A user whose role grants more than the caller's (member views incidents, surveys, …) is out of
        // reach, whatever role the caller would give.
        let (member, _) = user_with_role(&app, &t, "member1", "member").await;
        let out = app
            .call(
                "PUT",
                &format!("/v1/users/{member}/role"),
                Some(&hr_session),
                Some(json!({"role_id": "learner"})),
            )
            .await;
        assert_eq!(
            (out.status, out.code()),
            (StatusCode::FORBIDDEN, "target_outranks_caller")
        );
        // Roles and org admins are for org admins only.
        assert_eq!(
            app.post(
                "/v1/roles",
                Some(&hr_session),
                json!({"name": "Y", "grants": {}})
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.call(
                "PUT",
                &format!("/v1/users/{target}/org-admin"),
                Some(&hr_session),
                None
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
    }
);

both_backends!(
    the_org_admin_flag_grants_everything_and_the_last_one_stays,
    |app: App| async move {
        let t = app.onboard(10).await;
        let (lid, ls) = user_with_role(&app, &t, "learner9", "learner").await;
        assert_eq!(
            app.get("/v1/users", &ls).await.status,
            StatusCode::FORBIDDEN
        );
        let up = app
            .call(
                "PUT",
                &format!("/v1/users/{lid}/org-admin"),
                Some(&t.admin_token),
                None,
            )
            .await;
        assert_eq!(up.body["org_admin"], true);
        assert_eq!(
            app.get("/v1/users", &ls).await.status,
            StatusCode::OK,
            "the flag grants everything whatever the role"
        );
        assert_eq!(
            app.get("/v1/me", &ls).await.body["grants"]["audit_log"],
            "edit"
        );
        // Two org admins demote each other at the same moment: exactly one succeeds.
        let (demote_l, demote_admin) = (
            format!("/v1/users/{lid}/org-admin"),
            format!("/v1/users/{}/org-admin", t.admin_id),
        );
        let (a, b) = tokio::join!(
            app.call("DELETE", &demote_l, Some(&t.admin_token), None),
            app.call("DELETE", &demote_admin, Some(&ls), None)
        );
        // The loser is refused either by the counter (409 last_org_admin) or, when it was demoted first, because
        // it is no longer an org admin (403).
        let (winner, loser) = if a.status == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(winner.status, StatusCode::OK, "{winner:?}");
        assert!(
            matches!(loser.code(), "last_org_admin" | "forbidden"),
            "{loser:?}"
        );
        let survivor = if winner.body["id"] == t.admin_id.as_str() {
            &ls
        } else {
            &t.admin_token
        };
        let users = app.get("/v1/users?limit=200", survivor).await;
        let admins = users.body["items"]
            .as_array()
            .map(|i| i.iter().filter(|u| u["org_admin"] == true).count());
        assert_eq!(
            admins,
            Some(1),
            "exactly one org admin is left: {:?}",
            users.body
        );
        let last = app
            .call(
                "DELETE",
                &format!(
                    "/v1/users/{}/org-admin",
                    users.body["items"]
                        .as_array()
                        .and_then(|i| i.iter().find(|u| u["org_admin"] == true))
                        .map(|u| r_str(&u["id"]))
                        .unwrap_or_default()
                ),
                Some(survivor),
                None,
            )
            .await;
        assert_eq!(
            (last.status, last.code()),
            (StatusCode::CONFLICT, "last_org_admin")
        );
    }
);

fn walkable(path: &str) -> bool {
    path.contains("{id}") && !path.starts_with("/v1/ops/")
}

both_backends!(
    ids_from_another_tenant_answer_404_on_every_route_and_change_nothing,
    |app: App| async move {
        let a = app.onboard(10).await;
        let b = app.onboard(10).await;
        let (a_user, _) = user_with_role(&app, &a, "victim", "member").await;
        let a_role = r_str(
            &app.post(
                "/v1/roles",
                Some(&a.admin_token),
                json!({"name": "A専用", "grants": {}}),
            )
            .await
            .body["id"],
        );
        let before: Value = app.get("/v1/users?limit=200", &a.admin_token).await.body;
        let roles_before: Value = app.get("/v1/roles", &a.admin_token).await.body;
        let doc = app.call("GET", "/v1/openapi.json", None, None).await.body;
        // The SCIM routes are walked with tenant b's SCIM token.
        let b_scim = r_str(
            &app.post(
                "/v1/scim-tokens",
                Some(&b.admin_token),
                json!({"name": "b's directory"}),
            )
            .await
            .body["token"],
        );
        let mut walked = 0;
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            if !walkable(path) {
                continue;
            }
            for (method, op) in ops.as_object().expect("ops") {
                let id = if path.starts_with("/v1/roles") {
                    &a_role
                } else {
                    &a_user
                };
                let concrete = path.replace("{id}", id);
                // A valid body for the route, so only the id can make it fail.
                let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| match r.rsplit('/').next() {
                        Some("RoleId") => json!({"role_id": "member"}),
                        Some("Credentials") => json!({"delivery": "generated"}),
                Some("UserIds") => json!({"user_ids": []}),
                Some("NewResponse") => json!({"respondent": {"name": "x", "email": "x@example.jp", "company": "x"}, "answers": []}),
                        _ => json!({"name": "hijack"}),
                    });
                let (token, body) = if path.starts_with("/scim/") {
                    let body = match (method.as_str(), path.starts_with("/scim/v2/Groups")) {
                        ("patch", _) => Some(json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "value": {"active": false}}]
                        })),
                        ("put", true) => Some(json!({"displayName": "hijack"})),
                        ("put", false) => Some(json!({"userName": "hijack@example.jp"})),
                        _ => None,
                    };
                    (b_scim.as_str(), body)
                } else {
                    (b.admin_token.as_str(), body)
                };
                let r = app
                    .call(&method.to_uppercase(), &concrete, Some(token), body)
                    .await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{method} {concrete}: {r:?}"
                );
                walked += 1;
            }
        }
        assert!(walked >= 7, "walked {walked} routes");
        assert_eq!(
            app.get("/v1/users?limit=200", &a.admin_token).await.body,
            before
        );
        assert_eq!(
            app.get("/v1/roles", &a.admin_token).await.body,
            roles_before
        );
    }
);

both_backends!(
    every_route_refuses_a_user_whose_role_lacks_its_feature,
    |app: App| async move {
        let t = app.onboard(10).await;
        let r = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "権限なし", "grants": {}}),
            )
            .await;
        let (_, s) = user_with_role(&app, &t, "nobody1", &r_str(&r.body["id"])).await;
        let catalogue = app.get("/v1/permissions", &s).await.body;
        let mut checked = 0;
        for item in catalogue["items"].as_array().expect("items") {
            for e in item["edit"].as_array().expect("edit") {
                let (method, path) = e
                    .as_str()
                    .and_then(|e| e.split_once(' '))
                    .expect("METHOD path");
                let path = path.replace("{id}", &t.admin_id);
                let body = if method == "GET" || method == "DELETE" {
                    None
                } else {
                    Some(json!({}))
                };
                let resp = app.call(method, &path, Some(&s), body).await;
                assert_eq!(
                    (resp.status, resp.code()),
                    (StatusCode::FORBIDDEN, "forbidden"),
                    "{method} {path}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 7, "checked {checked}");
        // What any user may do still works.
        assert_eq!(app.get("/v1/me", &s).await.status, StatusCode::OK);
        assert_eq!(app.get("/v1/tenant", &s).await.status, StatusCode::OK);
    }
);

both_backends!(
    a_role_beyond_its_makers_grants_is_neither_made_nor_changed_by_the_use_cases,
    |app: App| async move {
        // The role routes are for org admins, whom no role outranks; the use cases hold the rule themselves,
        // so that no caller of theirs (a console page, a later route) depends on that.
        let t = app.onboard(10).await;
        let editor = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "設定編集", "grants": {"settings": "edit", "surveys": "view"}}),
            )
            .await;
        assert_eq!(editor.status, StatusCode::CREATED, "{editor:?}");
        let wide = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "広いロール", "grants": {"settings": "edit", "audit_log": "edit"}}),
            )
            .await;
        assert_eq!(wide.status, StatusCode::CREATED, "{wide:?}");
        let (_, token) = user_with_role(&app, &t, "maker1", &r_str(&editor.body["id"])).await;
        let before = app.get("/v1/roles", &t.admin_token).await.body;
        let svc = app.services_with(None, None, None);
        let now = kanri::domain::time::now();
        let p = kanri::app::principal::authenticate(&svc, &token, now)
            .await
            .expect("session");
        let grants = |pairs: &[(&str, &str)]| -> kanri::domain::permissions::Grants {
            pairs
                .iter()
                .map(|(f, l)| {
                    (
                        kanri::domain::permissions::Feature::parse(f).expect("feature"),
                        kanri::domain::permissions::Level::parse(l).expect("level"),
                    )
                })
                .collect()
        };
        let name = |n: &str| kanri::domain::values::Name::parse("name", n).expect("name");
        use kanri::app::{AppError, roles};
        // Beyond: audit_log is not the maker's.
        let made = roles::create(
            &svc,
            &p.scope,
            &p.authority(),
            name("監査まで"),
            grants(&[("settings", "view"), ("audit_log", "view")]),
            now,
        )
        .await;
        assert!(
            matches!(made, Err(AppError::RoleOutranksCaller)),
            "{made:?}"
        );
        // A role beyond the caller's cannot be changed, not even narrowed; nor widened past the caller.
        let narrowed = roles::update(
            &svc,
            &p.scope,
            &p.authority(),
            &kanri::domain::ids::RoleId::parse(&r_str(&wide.body["id"])).unwrap(),
            Some(name("狭めた")),
            Some(grants(&[("surveys", "view")])),
            now,
        )
        .await;
        assert!(
            matches!(narrowed, Err(AppError::RoleOutranksCaller)),
            "{narrowed:?}"
        );
        let widened = roles::update(
            &svc,
            &p.scope,
            &p.authority(),
            &kanri::domain::ids::RoleId::parse(&r_str(&editor.body["id"])).unwrap(),
            None,
            Some(grants(&[("settings", "edit"), ("materials", "edit")])),
            now,
        )
        .await;
        assert!(
            matches!(widened, Err(AppError::RoleOutranksCaller)),
            "{widened:?}"
        );
        assert_eq!(
            app.get("/v1/roles", &t.admin_token).await.body,
            before,
            "nothing made or changed"
        );
        // Within the caller's own grants, the use case goes ahead.
        let within = roles::create(
            &svc,
            &p.scope,
            &p.authority(),
            name("アンケート係"),
            grants(&[("surveys", "view"), ("settings", "view")]),
            now,
        )
        .await
        .expect("a role within the maker's grants");
        assert_eq!(within.name, "アンケート係");
    }
);
