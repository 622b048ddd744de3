//! An admin's reset of a user's second factor (issue 22): `DELETE /v1/users/{id}/mfa`, within the target
//! rule, in the operation log, mailed to the user, revoking the open login challenges; and the refusals
//! (a lower admin on a higher account, another tenant's user, one's own factor) that change nothing. On
//! both backends.

use kanri_tests::{App, Resp, StatusCode, Tenant, both_backends, r_str, unique};
use serde_json::json;

use crate::mfa::{code_at, enrol, now_secs};

/// A signed-in user of `t` with this role, an e-mail address and a password of their own:
/// (id, e-mail, password, session).
async fn member(app: &App, t: &Tenant, role_id: &str) -> (String, String, String, String) {
    let email = format!("{}@example.jp", unique("mfa-reset-"));
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "二段階 花子", "email": email, "delivery": "generated", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r_str(&r.body["user"]["id"]);
    let first = r_str(&r.body["initial_password"]);
    let token = app.login(&t.slug, &email, &first).await;
    let password = format!("{} passphrase", unique("own"));
    let c = app
        .post(
            "/v1/me/password",
            Some(&token),
            json!({"current_password": first, "new_password": password}),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{c:?}");
    // Changing the password ended the other sessions; this one stays.
    (id, email, password, token)
}

async fn password_login(app: &App, ip: &str, slug: &str, login: &str, password: &str) -> Resp {
    app.call_from(
        ip,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"tenant": slug, "login": login, "password": password})),
    )
    .await
}

async fn reset(app: &App, token: &str, id: &str) -> Resp {
    app.call("DELETE", &format!("/v1/users/{id}/mfa"), Some(token), None)
        .await
}

async fn mfa_enabled(app: &App, token: &str) -> serde_json::Value {
    let me = app.get("/v1/me", token).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    me.body["mfa_enabled"].clone()
}

both_backends!(
    mfa_reset_by_an_admin_within_the_target_rule_logged_mailed_and_challenges_revoked,
    |app: App| async move {
        let t = app.onboard(10).await;
        let ip = unique("198.51.100.");
        let peer = {
            let r = app
                .post(
                    "/v1/roles",
                    Some(&t.admin_token),
                    json!({"name": "設定係", "grants": {"settings": "edit"}}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            r_str(&r.body["id"])
        };
        // The user who lost the phone, and a lower admin (settings: edit only) of the same role.
        let (uid, email, password, utoken) = member(&app, &t, &peer).await;
        let (lower_id, _, _, lower) = member(&app, &t, &peer).await;
        let (secret, codes) = enrol(&app, &utoken).await;
        // The org admin has a factor too.
        let (_, _) = enrol(&app, &t.admin_token).await;

        // A lower admin on a higher account (the org admin): 403, nothing changed.
        let r = reset(&app, &lower, &t.admin_id).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "target_outranks_caller"),
            "{r:?}"
        );
        assert_eq!(mfa_enabled(&app, &t.admin_token).await, json!(true));
        let r = password_login(&app, &ip, &t.slug, &t.admin_email, "Kanri-test-passw0rd!").await;
        assert_eq!(r.body["mfa_required"], json!(true), "{r:?}");

        // Another tenant's admin on this tenant's user: 404, nothing changed.
        let other = app.onboard(5).await;
        let r = reset(&app, &other.admin_token, &uid).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{r:?}"
        );
        assert_eq!(mfa_enabled(&app, &utoken).await, json!(true));

        // Nobody resets their own factor this way (that needs the password: DELETE /v1/me/mfa).
        let r = reset(&app, &t.admin_token, &t.admin_id).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "cannot_reset_self"),
            "{r:?}"
        );
        assert_eq!(mfa_enabled(&app, &t.admin_token).await, json!(true));
        // A malformed id is no user.
        let r = reset(&app, &t.admin_token, "not-an-id").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

        // A login of the user waits at the code step when the reset comes.
        let open = password_login(&app, &ip, &t.slug, &email, &password).await;
        assert_eq!(open.body["mfa_required"], json!(true), "{open:?}");
        let challenge = r_str(&open.body["challenge"]);
        let mails_before = app.mails_to(&email).await.len();

        // The lower admin may reset a peer's factor (the rule allows it).
        let r = reset(&app, &lower, &uid).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        assert_eq!(mfa_enabled(&app, &utoken).await, json!(false));

        // The open challenge is gone, with a right code or a recovery code alike.
        let r = app
            .call_from(
                &ip,
                "POST",
                "/v1/auth/login/mfa",
                None,
                Some(json!({"challenge": challenge, "code": code_at(&secret, now_secs() + 30)})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_challenge"),
            "{r:?}"
        );
        let r = app
            .call_from(
                &ip,
                "POST",
                "/v1/auth/login/mfa",
                None,
                Some(json!({"challenge": challenge, "code": codes[0]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        // The password alone signs in now.
        let r = password_login(&app, &ip, &t.slug, &email, &password).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert!(r.body["token"].is_string(), "{r:?}");
        assert!(r.body.get("mfa_required").is_none(), "{r:?}");

        // Mailed to the user, in the operation log with who did it.
        let mails = app.mails_to(&email).await;
        assert_eq!(mails.len(), mails_before + 1, "{mails:?}");
        let mail = mails.last().expect("mail");
        assert!(
            mail.contains("二段階認証") && mail.contains("two-step verification"),
            "{mail}"
        );
        assert!(!mail.contains(&secret), "{mail}");
        let log = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
        let entry = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["action"] == "user.mfa_reset")
            .cloned()
            .expect("user.mfa_reset in the log");
        assert_eq!(entry["target"]["id"], json!(uid), "{entry}");
        assert_eq!(entry["actor"]["id"], json!(lower_id), "{entry}");

        // A second reset finds nothing to reset.
        let r = reset(&app, &t.admin_token, &uid).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "mfa_not_enabled"),
            "{r:?}"
        );
        // The user can enrol again, and the old recovery codes are void.
        let (_, fresh) = enrol(&app, &utoken).await;
        assert!(fresh.iter().all(|c| !codes.contains(c)));
        let ch = password_login(&app, &ip, &t.slug, &email, &password).await;
        let r = app
            .call_from(
                &ip,
                "POST",
                "/v1/auth/login/mfa",
                None,
                Some(json!({"challenge": ch.body["challenge"], "code": codes[1]})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_code"),
            "{r:?}"
        );
        assert!(app.broken_invariants(&t.id).await.is_empty());
    }
);
