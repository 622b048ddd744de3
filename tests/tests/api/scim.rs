//! SCIM (issue 18): the tenant's SCIM tokens, on both backends.

use kanri_tests::{App, StatusCode, both_backends, r_str, unique};
use serde_json::json;

both_backends!(
    an_org_admin_creates_lists_and_revokes_scim_tokens_which_are_not_sessions,
    |app: App| async move {
        let t = app.onboard(10).await;
        let other = app.onboard(10).await;
        let r = app
            .post(
                "/v1/scim-tokens",
                Some(&t.admin_token),
                json!({"name": "Microsoft Entra ID"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let token = r_str(&r.body["token"]);
        let id = r_str(&r.body["id"]);
        assert!(token.len() >= 40, "{r:?}");
        assert_eq!(r.body["last_used_at"], json!(null));

        // Listed without the secret, and only in its own tenant.
        let list = app.get("/v1/scim-tokens", &t.admin_token).await;
        assert_eq!(list.status, StatusCode::OK, "{list:?}");
        let items = list.body["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["name"], "Microsoft Entra ID");
        assert!(!list.body.to_string().contains(&token));
        assert!(items[0].get("token").is_none() && items[0].get("hash").is_none());
        let theirs = app.get("/v1/scim-tokens", &other.admin_token).await;
        assert_eq!(theirs.body["items"], json!([]));
        let cross = app
            .delete(&format!("/v1/scim-tokens/{id}"), &other.admin_token)
            .await;
        assert_eq!(cross.status, StatusCode::NOT_FOUND, "{cross:?}");

        // Never a user session, and a session is never a SCIM token.
        assert_eq!(
            app.get("/v1/me", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
        let now = kanri::domain::time::now();
        let caller = kanri::app::scim_tokens::authenticate(&app.svc, &token, now)
            .await
            .expect("the SCIM token authenticates");
        assert_eq!(caller.scope.tenant.to_string(), t.id);
        assert_eq!(caller.token_name, "Microsoft Entra ID");
        assert!(
            kanri::app::scim_tokens::authenticate(&app.svc, &t.admin_token, now)
                .await
                .is_err()
        );
        // The token names its tenant and its id before the secret (one read checks it); altering either,
        // or the secret, matches nothing.
        let parts: Vec<&str> = token.splitn(3, '.').collect();
        assert_eq!(
            (parts.len(), parts[0], parts[1]),
            (3, t.id.as_str(), id.as_str()),
            "{token}"
        );
        for forged in [
            format!("{}.{}.{}", other.id, parts[1], parts[2]),
            format!("{}.{}.{}", parts[0], "0".repeat(26), parts[2]),
            format!("{}.{}.{}x", parts[0], parts[1], parts[2]),
            parts[2].to_owned(),
        ] {
            assert!(
                kanri::app::scim_tokens::authenticate(&app.svc, &forged, now)
                    .await
                    .is_err(),
                "{forged}"
            );
        }
        // A bare token of the form made before (its tenant learnt from its global record) still works.
        {
            use kanri::app::layout::{self, attr};
            use kanri::ports::{Item, Table, Value, Write};
            let bare = "b".repeat(43);
            let hash = kanri::crypto::token_hash(&bare);
            let bare_id = kanri::domain::ids::new_id();
            app.svc
                .store
                .transact(vec![
                    Write::put_new(
                        Table::Data,
                        Item::new(layout::token_pk(&hash), layout::TOKEN_SK)
                            .with(attr::KIND, Value::S("scim".into()))
                            .with(attr::TENANT, Value::S(t.id.clone()))
                            .with(attr::TOKEN_ID, Value::S(bare_id.clone())),
                    ),
                    Write::put_new(
                        Table::Data,
                        Item::new(format!("T#{}", t.id), layout::scim_token_sk(&bare_id))
                            .with(attr::NAME, Value::S("old".into()))
                            .with(attr::HASH, Value::S(hash))
                            .with(attr::CREATED, Value::N(1)),
                    ),
                ])
                .await
                .expect("the old form stored");
            let old = kanri::app::scim_tokens::authenticate(&app.svc, &bare, now)
                .await
                .expect("a bare token authenticates");
            assert_eq!(old.token_name, "old");
            let gone = app
                .delete(&format!("/v1/scim-tokens/{bare_id}"), &t.admin_token)
                .await;
            assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
            assert!(
                kanri::app::scim_tokens::authenticate(&app.svc, &bare, now)
                    .await
                    .is_err()
            );
        }
        let used = app.get("/v1/scim-tokens", &t.admin_token).await;
        assert!(
            used.body["items"][0]["last_used_at"].is_string(),
            "{used:?}"
        );

        // Only org admins; a name is required.
        let r = app
            .post(
                "/v1/roles",
                Some(&t.admin_token),
                json!({"name": "設定係", "grants": {"settings": "edit"}}),
            )
            .await;
        let role = r_str(&r.body["id"]);
        let login = unique("scimx");
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "設定 係", "login_id": login, "delivery": "generated", "role_id": role}),
            )
            .await;
        let pw = r_str(&u.body["initial_password"]);
        let s = app.login(&t.slug, &login, &pw).await;
        app.post(
            "/v1/me/password",
            Some(&s),
            json!({"current_password": pw, "new_password": format!("{login} passphrase")}),
        )
        .await;
        for resp in [
            app.post("/v1/scim-tokens", Some(&s), json!({"name": "Okta"}))
                .await,
            app.get("/v1/scim-tokens", &s).await,
            app.delete(&format!("/v1/scim-tokens/{id}"), &s).await,
        ] {
            assert_eq!(resp.status, StatusCode::FORBIDDEN, "{resp:?}");
        }
        let blank = app
            .post(
                "/v1/scim-tokens",
                Some(&t.admin_token),
                json!({"name": " "}),
            )
            .await;
        assert_eq!(
            (blank.status, blank.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );

        // Revoked: it stops at once, and is gone from the list.
        let del = app
            .delete(&format!("/v1/scim-tokens/{id}"), &t.admin_token)
            .await;
        assert_eq!(del.status, StatusCode::NO_CONTENT, "{del:?}");
        assert!(
            kanri::app::scim_tokens::authenticate(&app.svc, &token, now)
                .await
                .is_err()
        );
        assert_eq!(
            app.get("/v1/scim-tokens", &t.admin_token).await.body["items"],
            json!([])
        );
        let again = app
            .delete(&format!("/v1/scim-tokens/{id}"), &t.admin_token)
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        let log = app.get("/v1/audit-log?limit=50", &t.admin_token).await;
        let actions: Vec<(String, String)> = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| (r_str(&i["action"]), r_str(&i["target"]["id"])))
            .collect();
        assert!(actions.contains(&("scim_token.create".into(), id.clone())));
        assert!(actions.contains(&("scim_token.revoke".into(), id.clone())));
    }
);

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM request as the identity providers send it (`application/scim+json`, the token as bearer).
async fn scim(
    app: &App,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> kanri_tests::Resp {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app
        .http
        .request(m, format!("{}/scim/v2{path}", app.base))
        .header("x-forwarded-for", "198.51.100.9")
        .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    };
    kanri_tests::Resp {
        status,
        body,
        headers,
    }
}

async fn scim_token(app: &App, t: &kanri_tests::Tenant, name: &str) -> String {
    let r = app
        .post(
            "/v1/scim-tokens",
            Some(&t.admin_token),
            json!({"name": name}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["token"])
}

fn is_scim_error(r: &kanri_tests::Resp, status: StatusCode) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{r:?}"
    );
    assert_eq!(r.body["status"], status.as_u16().to_string(), "{r:?}");
    assert!(r.body["detail"].is_string(), "{r:?}");
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("application/scim+json"), "{r:?}");
}

fn patch_op(ops: serde_json::Value) -> serde_json::Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

both_backends!(
    entra_id_provisions_disables_enables_updates_and_deletes_a_user,
    |app: App| async move {
        let t = app.onboard(10).await;
        let token = scim_token(&app, &t, "Microsoft Entra ID").await;
        // Without a token, or with a session: a SCIM 401.
        is_scim_error(
            &scim(&app, "nope", "GET", "/Users", None).await,
            StatusCode::UNAUTHORIZED,
        );
        is_scim_error(
            &scim(&app, &t.admin_token, "GET", "/Users", None).await,
            StatusCode::UNAUTHORIZED,
        );
        // Test connection: a filter on a random userName.
        let probe = scim(
            &app,
            &token,
            "GET",
            "/Users?filter=userName+eq+%22a3f9c2d1-7d1e-4d7c-9a55-1b2c3d4e5f60%22",
            None,
        )
        .await;
        assert_eq!(probe.status, StatusCode::OK, "{probe:?}");
        assert_eq!(probe.body["totalResults"], 0);
        assert_eq!(probe.body["Resources"], json!([]));
        assert!(
            probe.headers["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("application/scim+json")
        );

        let email = format!("{}@example.co.jp", unique("taro"));
        let seats_before = app.get("/v1/tenant", &t.admin_token).await.body["seats_used"].clone();
        let c = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({
                "schemas": [CORE, ENT],
                "externalId": "0a21f0f2-8d2a-4f8e-8b9f-ext1",
                "userName": email,
                "active": true,
                "displayName": "山田 太郎",
                "emails": [{"primary": true, "type": "work", "value": email}],
                "name": {"formatted": "山田 太郎", "familyName": "山田", "givenName": "太郎"},
                ENT: {"employeeNumber": "0042", "department": "総務部"}
            })),
        )
        .await;
        assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
        let id = r_str(&c.body["id"]);
        assert_eq!(c.body["userName"], email.as_str());
        assert_eq!(c.body[ENT]["department"], "総務部");
        assert!(c.headers.get("location").is_some());
        let kanri_user = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(kanri_user.body["name"], "山田 太郎");
        assert_eq!(kanri_user.body["status"], "invited");
        assert_eq!(
            kanri_user.body["role_id"], "member",
            "the tenant's default role"
        );
        assert_eq!(
            app.mails_to(&email).await.len(),
            1,
            "an invitation link is mailed"
        );
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"].as_i64(),
            seats_before.as_i64().map(|s| s + 1)
        );

        // Entra's look-ups: userName in any case, externalId.
        let upper = email.to_uppercase();
        let by_name = scim(
            &app,
            &token,
            "GET",
            &format!("/Users?filter=userName%20eq%20%22{upper}%22"),
            None,
        )
        .await;
        assert_eq!(by_name.body["totalResults"], 1, "{by_name:?}");
        assert_eq!(by_name.body["Resources"][0]["id"], id.as_str());
        let by_ext = scim(
            &app,
            &token,
            "GET",
            "/Users?filter=externalId%20eq%20%220a21f0f2-8d2a-4f8e-8b9f-ext1%22",
            None,
        )
        .await;
        assert_eq!(by_ext.body["totalResults"], 1, "{by_ext:?}");

        // Disable by a string boolean, then enable again.
        let off = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
        assert_eq!(off.status, StatusCode::OK, "{off:?}");
        assert_eq!(off.body["active"], false);
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .body["status"],
            "disabled"
        );
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            seats_before
        );
        let on = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(
                json!([{"op": "Replace", "path": "active", "value": "True"}]),
            )),
        )
        .await;
        assert_eq!(
            (on.status, &on.body["active"]),
            (StatusCode::OK, &json!(true)),
            "{on:?}"
        );

        // aadOptscim062020: no path, dotted and URN keys; a value filter on emails.
        let moved = format!("{}@example.co.jp", unique("jiro"));
        let p = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(json!([
                {"op": "Replace", "value": {"name.givenName": "次郎", "displayName": "山田 次郎",
                    format!("{ENT}:department"): "営業部"}},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": moved},
                {"op": "Replace", "path": "userName", "value": moved},
            ]))),
        )
        .await;
        assert_eq!(p.status, StatusCode::OK, "{p:?}");
        assert_eq!(p.body["name"]["givenName"], "次郎");
        assert_eq!(p.body[ENT]["department"], "営業部");
        assert_eq!(p.body[ENT]["employeeNumber"], "0042");
        let after = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(
            (after.body["name"].as_str(), after.body["email"].as_str()),
            (Some("山田 次郎"), Some(moved.as_str()))
        );

        // Every change is in the operation log under the token.
        let log = app.get("/v1/audit-log?limit=50", &t.admin_token).await;
        let by_token: Vec<String> = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["actor"]["name"] == "Microsoft Entra ID")
            .map(|i| r_str(&i["action"]))
            .collect();
        for a in ["user.create", "user.disable", "user.enable", "user.update"] {
            assert!(by_token.contains(&a.to_owned()), "{a} in {by_token:?}");
        }

        // Hard delete.
        let del = scim(&app, &token, "DELETE", &format!("/Users/{id}"), None).await;
        assert_eq!(del.status, StatusCode::NO_CONTENT, "{del:?}");
        is_scim_error(
            &scim(&app, &token, "GET", &format!("/Users/{id}"), None).await,
            StatusCode::NOT_FOUND,
        );
        assert_eq!(
            app.get(&format!("/v1/users/{id}"), &t.admin_token)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
    }
);

both_backends!(
    okta_imports_by_pages_and_is_refused_duplicates_and_seats_beyond_the_contract,
    |app: App| async move {
        let t = app.onboard(5).await;
        let token = scim_token(&app, &t, "Okta").await;
        let mut ids = vec![t.admin_id.clone()];
        for i in 0..3 {
            let r = scim(&app, &token, "POST", "/Users", Some(json!({
                "schemas": [CORE], "userName": format!("okta{i}-{}@example.jp", unique("u")),
                "name": {"givenName": "花子", "familyName": format!("佐藤{i}")},
                "emails": [{"primary": true, "value": format!("okta{i}@example.jp"), "type": "work"}],
                "active": true
            }))).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            ids.push(r_str(&r.body["id"]));
        }
        // Import by pages: stable order, each user once, integer totalResults.
        let mut seen = vec![];
        let mut start = 1;
        loop {
            let page = scim(
                &app,
                &token,
                "GET",
                &format!("/Users?startIndex={start}&count=2"),
                None,
            )
            .await;
            assert_eq!(page.status, StatusCode::OK, "{page:?}");
            assert_eq!(page.body["totalResults"], 4);
            let got: Vec<String> = page.body["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .map(|u| r_str(&u["id"]))
                .collect();
            if got.is_empty() {
                break;
            }
            assert_eq!(page.body["startIndex"], start);
            start += got.len();
            seen.extend(got);
        }
        assert_eq!(seen, ids, "creation order, each once");
        let excluded = scim(
            &app,
            &token,
            "GET",
            "/Users?count=1&excludedAttributes=emails,name",
            None,
        )
        .await;
        let first = &excluded.body["Resources"][0];
        assert!(
            first.get("emails").is_none() && first.get("name").is_none() && first["id"].is_string(),
            "{excluded:?}"
        );

        // A duplicate: 409 uniqueness.
        let name = scim(&app, &token, "GET", &format!("/Users/{}", ids[1]), None)
            .await
            .body["userName"]
            .clone();
        let dup = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [CORE], "userName": name, "active": true})),
        )
        .await;
        is_scim_error(&dup, StatusCode::CONFLICT);
        assert_eq!(dup.body["scimType"], "uniqueness");

        // The fifth seat, then none: a clear 409, and nobody half-created.
        let fifth = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "fifth-okta", "displayName": "五番目"})),
        )
        .await;
        assert_eq!(fifth.status, StatusCode::CREATED, "{fifth:?}");
        assert_eq!(fifth.body.get("emails"), None);
        let full = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "sixth@example.jp"})),
        )
        .await;
        is_scim_error(&full, StatusCode::CONFLICT);
        assert!(r_str(&full.body["detail"]).contains("seat"), "{full:?}");
        let total = scim(&app, &token, "GET", "/Users?count=0", None).await;
        assert_eq!(total.body["totalResults"], 5);
        assert_eq!(total.body["Resources"], json!([]));

        // PUT for a profile change; deactivation as Okta sends it; then the seat is free.
        let put = scim(
            &app,
            &token,
            "PUT",
            &format!("/Users/{}", ids[1]),
            Some(json!({
                "schemas": [CORE], "id": ids[1], "userName": name, "active": true,
                "name": {"givenName": "花子", "familyName": "鈴木"},
                "emails": [{"primary": true, "value": name, "type": "work"}]
            })),
        )
        .await;
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
        assert_eq!(put.body["name"]["familyName"], "鈴木");
        assert_eq!(
            app.get(&format!("/v1/users/{}", ids[1]), &t.admin_token)
                .await
                .body["name"],
            "鈴木 花子"
        );
        let off = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{}", ids[1]),
            Some(patch_op(
                json!([{"op": "replace", "value": {"active": false}}]),
            )),
        )
        .await;
        assert_eq!(
            (off.status, &off.body["active"]),
            (StatusCode::OK, &json!(false)),
            "{off:?}"
        );
        let now_fits = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "sixth@example.jp"})),
        )
        .await;
        assert_eq!(now_fits.status, StatusCode::CREATED, "{now_fits:?}");
        // Enabling beyond the contract: 409, still disabled.
        let on = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{}", ids[1]),
            Some(patch_op(
                json!([{"op": "replace", "value": {"active": true}}]),
            )),
        )
        .await;
        is_scim_error(&on, StatusCode::CONFLICT);
        assert_eq!(
            app.get(&format!("/v1/users/{}", ids[1]), &t.admin_token)
                .await
                .body["status"],
            "disabled"
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
    }
);

both_backends!(
    no_filter_or_patch_body_answers_a_server_error,
    |app: App| async move {
        let t = app.onboard(5).await;
        let token = scim_token(&app, &t, "fuzz").await;
        let c = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({"schemas": [CORE], "userName": "fuzz@example.jp"})),
        )
        .await;
        let id = r_str(&c.body["id"]);
        for f in [
            "userName",
            "userName eq",
            "(",
            "emails[type eq \"work\"",
            "x eq 1e999",
            "not",
            "a b c d",
            "userName eq \"\\q\"",
            "))))",
            "emails[",
            "meta.created gt \"2020\"",
        ] {
            let q: String = url_encode(f);
            let r = scim(&app, &token, "GET", &format!("/Users?filter={q}"), None).await;
            assert!(
                r.status.is_client_error() || r.status == StatusCode::OK,
                "{f}: {r:?}"
            );
            if r.status.is_client_error() {
                is_scim_error(&r, r.status);
            }
        }
        for body in [
            json!({}),
            json!({"schemas": [PATCH]}),
            json!({"schemas": [PATCH], "Operations": "x"}),
            patch_op(json!([{"op": "add"}])),
            patch_op(json!([{"op": "replace", "path": "id", "value": "other"}])),
            patch_op(json!([{"op": "replace", "path": "userName", "value": 5}])),
            patch_op(json!([{"op": "replace", "path": "active", "value": "perhaps"}])),
            patch_op(json!([{"op": "remove", "path": "userName"}])),
            patch_op(json!([{"op": "add", "path": "emails[type eq", "value": "x"}])),
            patch_op(json!([{"op": "replace", "path": "name", "value": [1, 2]}])),
            patch_op(json!([{"op": "replace", "value": {"meta.created": "x"}}])),
        ] {
            let r = scim(
                &app,
                &token,
                "PATCH",
                &format!("/Users/{id}"),
                Some(body.clone()),
            )
            .await;
            assert!(r.status.is_client_error(), "{body}: {r:?}");
            is_scim_error(&r, r.status);
        }
        let bad_json = app
            .http
            .post(format!("{}/scim/v2/Users", app.base))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body("{\"userName\": \"a\", \"userName\": \"b\"}")
            .send()
            .await
            .expect("sent");
        assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
        let still = scim(&app, &token, "GET", &format!("/Users/{id}"), None).await;
        assert_eq!(still.body["userName"], "fuzz@example.jp");
    }
);

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

both_backends!(
    entra_and_okta_push_groups_and_their_members,
    |app: App| async move {
        let t = app.onboard(20).await;
        let token = scim_token(&app, &t, "Microsoft Entra ID").await;
        let mut users = vec![];
        for i in 0..4 {
            let r = scim(&app, &token, "POST", "/Users", Some(json!({
                "schemas": [CORE], "userName": format!("{}@example.jp", unique(&format!("g{i}"))), "displayName": format!("メンバー {i}")
            }))).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            users.push(r_str(&r.body["id"]));
        }
        // Entra: create with no members, then add them with a PATCH.
        let g = scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "営業部", "members": []})),
        )
        .await;
        assert_eq!(g.status, StatusCode::CREATED, "{g:?}");
        let gid = r_str(&g.body["id"]);
        let add = scim(&app, &token, "PATCH", &format!("/Groups/{gid}"), Some(patch_op(json!([
            {"op": "Add", "path": "members", "value": [{"value": users[0]}, {"value": users[1]}, {"value": users[2]}]}
        ])))).await;
        assert_eq!(add.status, StatusCode::OK, "{add:?}");
        assert_eq!(add.body["members"].as_array().map(Vec::len), Some(3));
        let kanri = app.get(&format!("/v1/groups/{gid}"), &t.admin_token).await;
        assert_eq!(kanri.body["member_count"], 3, "{kanri:?}");
        // Entra's Remove of members with a value list; aadOptscim062020's members[value eq "…"].
        let rm = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch_op(json!([
                {"op": "Remove", "path": "members", "value": [{"value": users[0]}]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])}
            ]))),
        )
        .await;
        assert_eq!(
            rm.body["members"],
            json!([{"value": users[2], "type": "User",
            "$ref": format!("http://kanri.test/scim/v2/Users/{}", users[2])}]),
            "{rm:?}"
        );
        // A member's display (the user's name) is returned on request only (the schema's `returned`).
        let shown = scim(
            &app,
            &token,
            "GET",
            &format!("/Groups/{gid}?attributes=members.display"),
            None,
        )
        .await;
        assert_eq!(
            shown.body["members"][0]["display"], "メンバー 2",
            "{shown:?}"
        );
        assert!(shown.body.get("displayName").is_none(), "{shown:?}");
        // Rename; the name stays unique.
        let renamed = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch_op(json!([
                {"op": "Replace", "path": "displayName", "value": "第一営業部"}
            ]))),
        )
        .await;
        assert_eq!(renamed.body["displayName"], "第一営業部", "{renamed:?}");
        let other = scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "第二営業部", "externalId": "aad-group-2",
            "members": [{"value": users[3]}]}),
            ),
        )
        .await;
        assert_eq!(other.status, StatusCode::CREATED, "{other:?}");
        assert_eq!(other.body["externalId"], "aad-group-2");
        let other_id = r_str(&other.body["id"]);
        let by_ext = scim(
            &app,
            &token,
            "GET",
            "/Groups?filter=externalId%20eq%20%22aad-group-2%22&excludedAttributes=members",
            None,
        )
        .await;
        assert_eq!(
            by_ext.body["Resources"][0]["id"],
            other_id.as_str(),
            "{by_ext:?}"
        );
        let cleared = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Groups/{other_id}"),
            Some(patch_op(json!([{"op": "remove", "path": "externalId"}]))),
        )
        .await;
        assert!(cleared.body.get("externalId").is_none(), "{cleared:?}");
        let taken = scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "第一営業部"})),
        )
        .await;
        is_scim_error(&taken, StatusCode::CONFLICT);
        assert_eq!(taken.body["scimType"], "uniqueness");
        let bad_member = scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "幽霊部",
            "members": [{"value": "u_nobody"}]})),
        )
        .await;
        is_scim_error(&bad_member, StatusCode::BAD_REQUEST);
        let list = scim(
            &app,
            &token,
            "GET",
            "/Groups?excludedAttributes=members",
            None,
        )
        .await;
        assert_eq!(list.body["totalResults"], 2, "{list:?}");
        assert!(
            list.body["Resources"]
                .as_array()
                .expect("Resources")
                .iter()
                .all(|g| g.get("members").is_none())
        );
        let by_name = scim(
            &app,
            &token,
            "GET",
            "/Groups?filter=displayName%20eq%20%22%E7%AC%AC%E4%B8%80%E5%96%B6%E6%A5%AD%E9%83%A8%22",
            None,
        )
        .await;
        assert_eq!(
            (
                by_name.body["totalResults"].as_i64(),
                r_str(&by_name.body["Resources"][0]["id"])
            ),
            (Some(1), gid.clone())
        );
        // Okta Group Push: the members replaced with a PUT.
        let put = scim(
            &app,
            &token,
            "PUT",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [GROUP], "id": gid,
            "displayName": "第一営業部", "members": [{"value": users[0]}, {"value": users[3]}]})),
        )
        .await;
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
        let mut now: Vec<String> = put.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| r_str(&m["value"]))
            .collect();
        now.sort();
        let mut want = vec![users[0].clone(), users[3].clone()];
        want.sort();
        assert_eq!(now, want);
        let okta = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(patch_op(json!([
                {"op": "replace", "path": "members", "value": [{"value": users[1]}]}
            ]))),
        )
        .await;
        assert_eq!(
            okta.body["members"].as_array().map(Vec::len),
            Some(1),
            "{okta:?}"
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
        // Delete: the users stay.
        let del = scim(&app, &token, "DELETE", &format!("/Groups/{gid}"), None).await;
        assert_eq!(del.status, StatusCode::NO_CONTENT, "{del:?}");
        is_scim_error(
            &scim(&app, &token, "GET", &format!("/Groups/{gid}"), None).await,
            StatusCode::NOT_FOUND,
        );
        assert_eq!(
            scim(&app, &token, "GET", &format!("/Users/{}", users[1]), None)
                .await
                .status,
            StatusCode::OK
        );
        let log = app.get("/v1/audit-log?limit=100", &t.admin_token).await;
        assert!(
            log.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|i| i["actor"]["name"] == "Microsoft Entra ID"
                    && r_str(&i["action"]).starts_with("group.")),
            "{log:?}"
        );
        assert!(
            app.broken_invariants(&t.id).await.is_empty(),
            "{:?}",
            app.broken_invariants(&t.id).await
        );
    }
);

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

both_backends!(
    post_search_answers_as_get_for_users_groups_and_every_resource_type,
    |app: App| async move {
        let t = app.onboard(20).await;
        let token = scim_token(&app, &t, "search").await;
        let mut ids = vec![];
        for i in 0..3 {
            let r = scim(&app, &token, "POST", "/Users", Some(json!({
                "schemas": [CORE], "userName": format!("{}@example.jp", unique(&format!("s{i}"))),
                "displayName": format!("検索 {i}"), "externalId": format!("ext-s{i}")
            }))).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            ids.push(r_str(&r.body["id"]));
        }
        let g = scim(
            &app,
            &token,
            "POST",
            "/Groups",
            Some(json!({
                "schemas": [GROUP], "displayName": "検索部", "members": [{"value": ids[0]}]
            })),
        )
        .await;
        assert_eq!(g.status, StatusCode::CREATED, "{g:?}");
        let gid = r_str(&g.body["id"]);

        // The same query by GET and by POST …/.search answers the same.
        let get = scim(
            &app,
            &token,
            "GET",
            "/Users?filter=externalId%20eq%20%22ext-s1%22&attributes=userName,displayName",
            None,
        )
        .await;
        let post = scim(
            &app,
            &token,
            "POST",
            "/Users/.search",
            Some(json!({
                "schemas": [SEARCH], "filter": "externalId eq \"ext-s1\"",
                "attributes": ["userName", "displayName"]
            })),
        )
        .await;
        assert_eq!(post.status, StatusCode::OK, "{post:?}");
        assert_eq!(post.body, get.body);
        assert_eq!(post.body["totalResults"], 1);
        assert_eq!(post.body["Resources"][0]["id"], ids[1].as_str());
        assert!(post.body["Resources"][0].get("externalId").is_none());
        assert!(
            post.headers["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("application/scim+json")
        );
        // Paging: startIndex and count; excludedAttributes.
        let page = scim(
            &app,
            &token,
            "POST",
            "/Users/.search",
            Some(json!({
                "schemas": [SEARCH], "startIndex": 2, "count": 1, "excludedAttributes": ["emails"]
            })),
        )
        .await;
        let all = scim(
            &app,
            &token,
            "GET",
            "/Users?startIndex=2&count=1&excludedAttributes=emails",
            None,
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        assert_eq!(page.body, all.body);
        assert_eq!(page.body["itemsPerPage"], 1);
        assert_eq!(page.body["totalResults"], 4, "the admin and three users");
        assert!(page.body["Resources"][0].get("emails").is_none());

        let groups = scim(
            &app,
            &token,
            "POST",
            "/Groups/.search",
            Some(json!({
                "schemas": [SEARCH], "filter": "displayName eq \"検索部\""
            })),
        )
        .await;
        assert_eq!(groups.status, StatusCode::OK, "{groups:?}");
        assert_eq!(groups.body["totalResults"], 1);
        assert_eq!(
            groups.body["Resources"][0]["members"][0]["value"],
            ids[0].as_str()
        );
        assert_eq!(
            groups.body,
            scim(
                &app,
                &token,
                "GET",
                "/Groups?filter=displayName%20eq%20%22%E6%A4%9C%E7%B4%A2%E9%83%A8%22",
                None
            )
            .await
            .body
        );

        // At the root: users then groups; a filter on an attribute one type lacks matches none of it.
        let root = scim(
            &app,
            &token,
            "POST",
            "/.search",
            Some(json!({
                "schemas": [SEARCH], "attributes": ["displayName"]
            })),
        )
        .await;
        assert_eq!(root.status, StatusCode::OK, "{root:?}");
        assert_eq!(root.body["totalResults"], 5, "{root:?}");
        let res = root.body["Resources"]
            .as_array()
            .expect("Resources")
            .clone();
        assert_eq!(res[4]["id"], gid.as_str());
        assert_eq!(res[4]["meta"]["resourceType"], "Group");
        assert!(
            res.iter()
                .all(|r| r.get("userName").is_none() && r.get("members").is_none())
        );
        let by_name = scim(&app, &token, "POST", "/.search", Some(json!({
            "schemas": [SEARCH], "filter": "displayName eq \"検索部\" or externalId eq \"ext-s2\""
        }))).await;
        let found: Vec<String> = by_name.body["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|r| r_str(&r["id"]))
            .collect();
        assert_eq!(found, vec![ids[2].clone(), gid.clone()], "{by_name:?}");
        let paged = scim(
            &app,
            &token,
            "POST",
            "/.search",
            Some(json!({
                "schemas": [SEARCH], "startIndex": 5, "count": 10
            })),
        )
        .await;
        assert_eq!(paged.body["totalResults"], 5);
        assert_eq!(paged.body["Resources"][0]["id"], gid.as_str(), "{paged:?}");

        // Bad requests: SCIM 400s.
        for (path, body) in [
            (
                "/Users/.search",
                json!({"schemas": ["urn:x"], "filter": "userName pr"}),
            ),
            (
                "/Users/.search",
                json!({"schemas": [SEARCH], "filter": "userName eq"}),
            ),
            ("/Users/.search", json!({"schemas": [SEARCH], "filter": 7})),
            (
                "/Groups/.search",
                json!({"schemas": [SEARCH], "count": "ten"}),
            ),
            (
                "/Groups/.search",
                json!({"schemas": [SEARCH], "startIndex": 1.5}),
            ),
            ("/.search", json!({"schemas": [SEARCH], "attributes": [1]})),
            (
                "/.search",
                json!({"schemas": [SEARCH], "attributes": ["userName"], "excludedAttributes": ["emails"]}),
            ),
            (
                "/.search",
                json!({"schemas": [SEARCH], "sortBy": "userName", "limit": 3}),
            ),
        ] {
            let r = scim(&app, &token, "POST", path, Some(body.clone())).await;
            is_scim_error(&r, StatusCode::BAD_REQUEST);
            assert!(r.body["scimType"].is_string(), "{body}: {r:?}");
        }
        // Without a SCIM token: 401.
        is_scim_error(
            &scim(
                &app,
                &t.admin_token,
                "POST",
                "/.search",
                Some(json!({"schemas": [SEARCH]})),
            )
            .await,
            StatusCode::UNAUTHORIZED,
        );
        // Another tenant's search sees none of these.
        let other = app.onboard(5).await;
        let theirs = scim_token(&app, &other, "search").await;
        let none = scim(&app, &theirs, "POST", "/.search", Some(json!({
            "schemas": [SEARCH], "filter": "externalId eq \"ext-s1\" or displayName eq \"検索部\""
        }))).await;
        assert_eq!(none.body["totalResults"], 0, "{none:?}");
    }
);

both_backends!(
    a_user_named_by_login_id_keeps_it_and_its_address_and_status_follow_the_schema,
    |app: App| async move {
        let t = app.onboard(10).await;
        let token = scim_token(&app, &t, "Okta").await;
        let login = unique("okta");
        let email = format!("{login}@example.jp");
        let c = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({
                "schemas": [CORE], "userName": login, "displayName": "岡田",
                "emails": [{"value": email, "type": "work", "primary": true}]
            })),
        )
        .await;
        assert_eq!(c.status, StatusCode::CREATED, "{c:?}");
        let id = r_str(&c.body["id"]);
        // userName is what SCIM sent (the login id), the address is in emails.
        assert_eq!(c.body["userName"], login.as_str());
        assert_eq!(c.body["emails"][0]["value"], email.as_str());
        let by_login = scim(
            &app,
            &token,
            "GET",
            &format!("/Users?filter=userName%20eq%20%22{login}%22"),
            None,
        )
        .await;
        assert_eq!(by_login.body["totalResults"], 1, "{by_login:?}");
        let kanri = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(kanri.body["status"], "invited");
        let invitation = app.link_token(&email).await;

        // `active` is required: removing it is refused and changes nothing.
        let no_active = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(json!([{"op": "remove", "path": "active"}]))),
        )
        .await;
        is_scim_error(&no_active, StatusCode::BAD_REQUEST);
        assert_eq!(no_active.body["scimType"], "invalidValue");
        let schema = scim(&app, &token, "GET", &format!("/Schemas/{CORE}"), None).await;
        let active = schema.body["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|a| a["name"] == "active")
            .cloned()
            .expect("active");
        assert_eq!(active["required"], true);

        // The directory removes the address: the invitation mailed to it stops working, and the user is
        // left as one created without an address (a generated password nobody was shown).
        let rm = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{id}"),
            Some(patch_op(json!([{"op": "Remove", "path": "emails"}]))),
        )
        .await;
        assert_eq!(rm.status, StatusCode::OK, "{rm:?}");
        assert!(rm.body.get("emails").is_none(), "{rm:?}");
        assert_eq!(rm.body["userName"], login.as_str());
        assert_eq!(rm.body["active"], true);
        let got = scim(&app, &token, "GET", &format!("/Users/{id}"), None).await;
        assert!(got.body.get("emails").is_none(), "{got:?}");
        let kanri = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(kanri.body["status"], "active", "{kanri:?}");
        assert_eq!(kanri.body["email"], json!(null), "{kanri:?}");
        let used = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": invitation, "password": "Okta-test-passw0rd!"}),
            )
            .await;
        assert!(used.status.is_client_error(), "{used:?}");

        // A user created disabled without an address can still be renamed, and enabled.
        let quiet = unique("quiet");
        let d = scim(
            &app,
            &token,
            "POST",
            "/Users",
            Some(json!({
                "schemas": [CORE], "userName": quiet, "active": false
            })),
        )
        .await;
        assert_eq!(d.status, StatusCode::CREATED, "{d:?}");
        let did = r_str(&d.body["id"]);
        let renamed = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{did}"),
            Some(patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "静か"}]),
            )),
        )
        .await;
        assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
        assert_eq!(renamed.body["displayName"], "静か");
        let enabled = scim(
            &app,
            &token,
            "PATCH",
            &format!("/Users/{did}"),
            Some(patch_op(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
        assert_eq!(enabled.status, StatusCode::OK, "{enabled:?}");
        let kanri = app.get(&format!("/v1/users/{did}"), &t.admin_token).await;
        assert_eq!(
            kanri.body["status"], "active",
            "never invited without an address: {kanri:?}"
        );
        assert!(app.broken_invariants(&t.id).await.is_empty());
    }
);
