//! Races between a membership change and the other writes to the same user, on both backends: many rounds
//! of each pair sent at once, then the invariants a user would notice (the user's groups, the group's
//! members and count) and the whole integrity check of `kanri-ops check`.

use kanri_tests::{App, StatusCode, Tenant, both_backends, r_str};
use serde_json::{Value, json};

const ROUNDS: usize = 15;

async fn invited(app: &App, t: &Tenant, tag: &str) -> String {
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": tag, "email": format!("{tag}@example.jp"), "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["user"]["id"])
}

async fn group(app: &App, t: &Tenant, name: &str) -> String {
    let r = app
        .post("/v1/groups", Some(&t.admin_token), json!({"name": name}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["id"])
}

async fn add(app: &App, t: &Tenant, g: &str, u: &str) -> kanri_tests::Resp {
    app.post(
        &format!("/v1/groups/{g}/members"),
        Some(&t.admin_token),
        json!({"user_ids": [u]}),
    )
    .await
}

fn listed(v: &Value, id: &str) -> bool {
    v.as_array()
        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(id)))
}

/// The group's count and whether `u` is among its listed members.
async fn group_state(app: &App, t: &Tenant, g: &str, u: &str) -> (i64, bool) {
    let count = app
        .get(&format!("/v1/groups/{g}"), &t.admin_token)
        .await
        .body["member_count"]
        .as_i64()
        .unwrap_or(-1);
    let members = app
        .get(&format!("/v1/groups/{g}/members?limit=100"), &t.admin_token)
        .await;
    let ids: Vec<Value> = members.body["items"]
        .as_array()
        .map(|a| a.iter().map(|m| m["id"].clone()).collect())
        .unwrap_or_default();
    (count, listed(&Value::Array(ids), u))
}

both_backends!(
    a_member_added_during_a_profile_role_or_admin_change_stays_a_member,
    |app: App| async move {
        let t = app.onboard(200).await;
        let role = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "競合ロール", "grants": {"notices": "view"}}),
            )
            .await;
        let role_id = r_str(&role.body["id"]);
        let (g_patch, g_role, g_admin) = (
            group(&app, &t, "patch").await,
            group(&app, &t, "role").await,
            group(&app, &t, "admin").await,
        );
        let mut lost = [0; 3];
        for round in 0..ROUNDS {
            let (a, b, c) = (
                invited(&app, &t, &format!("p{round}")).await,
                invited(&app, &t, &format!("r{round}")).await,
                invited(&app, &t, &format!("o{round}")).await,
            );
            let (patch_path, role_path, admin_path) = (
                format!("/v1/users/{a}"),
                format!("/v1/users/{b}/role"),
                format!("/v1/users/{c}/org-admin"),
            );
            let tok = Some(t.admin_token.as_str());
            let (add_a, patch, add_b, role, add_c, admin) = tokio::join!(
                add(&app, &t, &g_patch, &a),
                app.call(
                    "PATCH",
                    &patch_path,
                    tok,
                    Some(json!({"name": format!("renamed {round}")}))
                ),
                add(&app, &t, &g_role, &b),
                app.call("PUT", &role_path, tok, Some(json!({"role_id": role_id}))),
                add(&app, &t, &g_admin, &c),
                app.call("PUT", &admin_path, tok, None),
            );
            for r in [&add_a, &patch, &add_b, &role, &add_c, &admin] {
                assert_eq!(r.status, StatusCode::OK, "round {round}: {r:?}");
            }
            for (k, (u, g, add)) in [
                (&a, &g_patch, &add_a),
                (&b, &g_role, &add_b),
                (&c, &g_admin, &add_c),
            ]
            .into_iter()
            .enumerate()
            {
                assert!(listed(&add.body["added"], u), "round {round}: {add:?}");
                let user = app.get(&format!("/v1/users/{u}"), &t.admin_token).await;
                let (_, member) = group_state(&app, &t, g, u).await;
                if !listed(&user.body["group_ids"], g) || !member {
                    lost[k] += 1;
                }
            }
        }
        assert_eq!(
            lost,
            [0, 0, 0],
            "adds lost in {ROUNDS} rounds each, racing [PATCH, role change, org-admin grant]"
        );
        let user = app
            .get(&format!("/v1/users/{}", t.admin_id), &t.admin_token)
            .await;
        assert_eq!(user.status, StatusCode::OK);
        assert_eq!(app.broken_invariants(&t.id).await, Vec::<String>::new());
    }
);

both_backends!(
    a_user_deleted_while_joining_or_leaving_a_group_leaves_no_membership_behind,
    |app: App| async move {
        let t = app.onboard(200).await;
        let (g_add, g_remove) = (
            group(&app, &t, "join").await,
            group(&app, &t, "leave").await,
        );
        let (mut refused, mut orphaned) = (0, 0);
        for round in 0..ROUNDS {
            let joining = invited(&app, &t, &format!("j{round}")).await;
            let leaving = invited(&app, &t, &format!("l{round}")).await;
            let first = add(&app, &t, &g_remove, &leaving).await;
            assert!(listed(&first.body["added"], &leaving), "{first:?}");
            let (del_joining, del_leaving, remove) = (
                format!("/v1/users/{joining}"),
                format!("/v1/users/{leaving}"),
                format!("/v1/groups/{g_remove}/members/remove"),
            );
            let tok = Some(t.admin_token.as_str());
            let (added, deleted, removed, deleted_too) = tokio::join!(
                add(&app, &t, &g_add, &joining),
                app.call("DELETE", &del_joining, tok, None),
                app.call("POST", &remove, tok, Some(json!({"user_ids": [leaving]}))),
                app.call("DELETE", &del_leaving, tok, None),
            );
            // The deletes always go through; the membership change either happened first or finds the
            // user gone, and says so.
            assert_eq!(
                (added.status, removed.status),
                (StatusCode::OK, StatusCode::OK)
            );
            for (d, g, u) in [
                (&deleted, &g_add, &joining),
                (&deleted_too, &g_remove, &leaving),
            ] {
                if d.status != StatusCode::NO_CONTENT {
                    refused += 1;
                    app.delete(&format!("/v1/users/{u}"), &t.admin_token).await;
                }
                let (count, member) = group_state(&app, &t, g, u).await;
                if member || count != 0 {
                    orphaned += 1;
                }
            }
        }
        assert_eq!(
            (refused, orphaned),
            (0, 0),
            "of {ROUNDS} rounds × (add vs delete, remove vs delete): deletes refused, groups still \
             counting the deleted user"
        );
        let tenant = app.get("/v1/tenant", &t.admin_token).await;
        assert_eq!(tenant.body["seats_used"], 1, "only the admin is left");
        assert_eq!(app.broken_invariants(&t.id).await, Vec::<String>::new());
    }
);

both_backends!(
    the_integrity_check_reports_each_corrupted_row,
    |app: App| async move {
        use kanri::app::layout::{self, attr};
        use kanri::domain::ids::{GroupId, TenantId, UserId};
        use kanri::ports::{Change, Item, Table, Value, Write};

        let t = app.onboard(10).await;
        let tok = Some(t.admin_token.as_str());
        let role = app
            .post("/v1/roles", tok, json!({"name": "点検", "grants": {}}))
            .await;
        let role_id = r_str(&role.body["id"]);
        let u = app
            .post(
                "/v1/users",
                tok,
                json!({"name": "U", "login_id": "checked", "delivery": "invite_link",
                       "email": "checked@example.jp", "role_id": role_id}),
            )
            .await;
        let uid = r_str(&u.body["user"]["id"]);
        let (g1, g2) = (group(&app, &t, "one").await, group(&app, &t, "two").await);
        add(&app, &t, &g1, &uid).await;
        assert_eq!(app.broken_invariants(&t.id).await, Vec::<String>::new());

        let store = app.svc.store.clone();
        let pk = layout::tenant_pk(&TenantId::from_stored(&t.id));
        let user_sk = layout::user_sk(&UserId::from_stored(&uid));
        let stored = store
            .get(Table::Data, &pk, &user_sk)
            .await
            .unwrap()
            .unwrap();
        let login_guard = layout::login_guard_sk(stored.s(attr::LOGIN_INDEX).unwrap());
        let ghost = UserId::generate();
        let add_one = |sk: String, a: &'static str| Write::Update {
            table: Table::Data,
            pk: pk.clone(),
            sk,
            changes: vec![Change::Add(a, 1)],
            cond: None,
        };
        store
            .transact(vec![
                add_one(layout::META.into(), attr::SEATS_USED),
                add_one(
                    layout::group_sk(&GroupId::from_stored(&g2)),
                    attr::MEMBER_COUNT,
                ),
                add_one(layout::role_sk(&role_id), attr::HOLDERS),
                Write::delete(
                    Table::Data,
                    pk.clone(),
                    layout::member_sk(&GroupId::from_stored(&g1), &UserId::from_stored(&uid)),
                ),
                Write::delete(Table::Data, pk.clone(), login_guard.clone()),
                Write::put(
                    Table::Data,
                    Item::new(pk.clone(), layout::email_guard_sk("bogus"))
                        .with(attr::USER, Value::S(ghost.to_string())),
                ),
            ])
            .await
            .unwrap();

        let mut problems = app.broken_invariants(&t.id).await;
        problems.sort();
        let mut want = vec![
            "seats_used: the tenant counts 3 seats used but has 2 enabled users".to_owned(),
            format!("member_count: group {g2} counts 1 members but has 0"),
            format!("member_count: group {g1} counts 1 members but has 0"),
            format!("membership_one_way: user {uid} lists group {g1}, which has no such member"),
            format!("role_holders: role {role_id} counts 2 holders but 1 users hold it"),
            format!("entity_without_guard: user {uid} has no login guard {login_guard} of its own"),
            format!(
                "guard_without_entity: email guard {} names user {ghost}, who does not exist",
                layout::email_guard_sk("bogus")
            ),
        ];
        want.sort();
        assert_eq!(problems, want);
        if app.backend == kanri::config::Backend::Embedded {
            // Every tenant of the store (on DynamoDB the tables are shared with every other test).
            let all = kanri::app::integrity::check_all(&app.svc).await.unwrap();
            let mine = all
                .iter()
                .find(|r| r.tenant == t.id)
                .expect("the tenant is checked");
            assert_eq!(
                (mine.users, mine.groups, mine.memberships, mine.roles),
                (2, 2, 0, 1)
            );
            assert_eq!(mine.problems.len(), 7);
        }
    }
);
