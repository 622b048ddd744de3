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
