//! Cursors are opaque and belong to the list that gave them out (issue 15, point 4): a cursor of another
//! list, of another group, or a made-up one is a 400 naming `cursor` on every list of the API, and changes
//! nothing; the console starts such a list over. On both backends.

use kanri_tests::{App, Resp, StatusCode, Tenant, both_backends, r_str};
use serde_json::json;

async fn user(app: &App, t: &Tenant, login: &str) -> String {
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": login, "login_id": login, "delivery": "generated"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["user"]["id"])
}

async fn group_of(app: &App, t: &Tenant, name: &str, members: &[String]) -> String {
    let r = app
        .post("/v1/groups", Some(&t.admin_token), json!({"name": name}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let gid = r_str(&r.body["id"]);
    let r = app
        .post(
            &format!("/v1/groups/{gid}/members"),
            Some(&t.admin_token),
            json!({"user_ids": members}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    gid
}

/// The `next_cursor` of a first page of one item.
async fn cursor_of(app: &App, t: &Tenant, list: &str) -> String {
    let sep = if list.contains('?') { '&' } else { '?' };
    let r = app
        .get(&format!("{list}{sep}limit=1"), &t.admin_token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{list}: {r:?}");
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(1),
        "{list}: {r:?}"
    );
    r.body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{list} has a second page: {r:?}"))
        .to_owned()
}

fn refused(list: &str, r: &Resp) {
    assert_eq!(
        (r.status, r.code(), r.body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request", Some("cursor")),
        "{list}: {r:?}"
    );
}

both_backends!(
    a_cursor_works_only_on_the_list_that_gave_it_out,
    |app: App| async move {
        let t = app.onboard(20).await;
        let ids = [
            user(&app, &t, "pg.a").await,
            user(&app, &t, "pg.b").await,
            user(&app, &t, "pg.c").await,
        ];
        let a = group_of(&app, &t, "page-a", &ids[..2]).await;
        let b = group_of(&app, &t, "page-b", &ids[1..]).await;

        let users = cursor_of(&app, &t, "/v1/users").await;
        let groups = cursor_of(&app, &t, "/v1/groups").await;
        let members_a = cursor_of(&app, &t, &format!("/v1/groups/{a}/members")).await;
        let audit = cursor_of(&app, &t, "/v1/audit-log").await;

        // Each cursor goes on with its own list.
        for (list, c) in [
            ("/v1/users".to_owned(), &users),
            ("/v1/groups".to_owned(), &groups),
            (format!("/v1/groups/{a}/members"), &members_a),
            (format!("/v1/users?group_id={a}"), &members_a),
            ("/v1/audit-log".to_owned(), &audit),
        ] {
            let sep = if list.contains('?') { '&' } else { '?' };
            let r = app
                .get(&format!("{list}{sep}limit=1&cursor={c}"), &t.admin_token)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{list}: {r:?}");
            assert_eq!(
                r.body["items"].as_array().map(Vec::len),
                Some(1),
                "{list}: {r:?}"
            );
        }

        // Anywhere else it is refused, as are made-up cursors; the logs check theirs too.
        let made_up = "VVNFUiM"; // base64url of "USER#", a prefix but no key
        for (list, c) in [
            ("/v1/groups".to_owned(), users.as_str()),
            ("/v1/users".to_owned(), groups.as_str()),
            (format!("/v1/groups/{b}/members"), members_a.as_str()),
            (format!("/v1/users?group_id={b}"), members_a.as_str()),
            ("/v1/audit-log".to_owned(), users.as_str()),
            ("/v1/mail-log".to_owned(), users.as_str()),
            ("/v1/notices".to_owned(), users.as_str()),
            ("/v1/users".to_owned(), audit.as_str()),
            ("/v1/audit-log".to_owned(), "%25%25%25"),
            ("/v1/users".to_owned(), made_up),
        ] {
            let sep = if list.contains('?') { '&' } else { '?' };
            let r = app
                .get(&format!("{list}{sep}cursor={c}"), &t.admin_token)
                .await;
            refused(&list, &r);
        }

        // The limit is checked the same way everywhere.
        for list in ["/v1/users", "/v1/groups", "/v1/audit-log", "/v1/notices"] {
            let r = app.get(&format!("{list}?limit=201"), &t.admin_token).await;
            assert_eq!(
                (r.status, r.body["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some("limit")),
                "{list}: {r:?}"
            );
        }
    }
);
