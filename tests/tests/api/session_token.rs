//! The session token names its tenant and user beside its secret (`<tenant>.<user>.<secret>`), so the session
//! check is one read: a token whose ids are altered finds no session and looks like any bad token, sessions
//! opened before (a bare secret) keep working, and logout, revocation, a role change or disabling still
//! take effect on the very next request.

use kanri::app::layout;
use kanri::domain::ids::{TenantId, UserId};
use kanri::ports::{Table, Write};
use kanri_tests::{App, Resp, StatusCode, Tenant, both_backends, r_str};
use secrecy::ExposeSecret as _;
use serde_json::json;

const PASSWORD: &str = "Kanri-test-passw0rd!";

/// A member of `t` with a generated password changed to `PASSWORD`-like one; returns (user id, session).
async fn member(app: &App, t: &Tenant, login: &str, role_id: &str) -> (String, String) {
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
            json!({"current_password": pw, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(c.status, StatusCode::NO_CONTENT, "{c:?}");
    (r_str(&r.body["user"]["id"]), s)
}

/// The refusal of `token` on GET /v1/me, as a client sees it.
async fn refusal(app: &App, token: &str) -> (StatusCode, String, String) {
    let r: Resp = app.get("/v1/me", token).await;
    (
        r.status,
        r.code().to_owned(),
        r_str(&r.body["error"]["message"]),
    )
}

/// A session of the form tokens had before they named their tenant and user (a bare secret), made as a
/// session opened before this change is stored: the items of `like` copied under the new secret's hash.
async fn bare_session(app: &App, tenant: &str, user: &str, like: &str) -> String {
    let (token, hash) = kanri::crypto::new_token();
    let like_hash = kanri::crypto::token_hash(like);
    let (tid, uid) = (TenantId::from_stored(tenant), UserId::from_stored(user));
    let store = &app.svc.store;
    let mut global = store
        .get(Table::Data, &layout::token_pk(&like_hash), layout::TOKEN_SK)
        .await
        .expect("read")
        .expect("the session item");
    let mut index = store
        .get(
            Table::Data,
            &layout::tenant_pk(&tid),
            &layout::user_token_sk(&uid, &like_hash),
        )
        .await
        .expect("read")
        .expect("the session's index item");
    global.pk = layout::token_pk(&hash);
    index.sk = layout::user_token_sk(&uid, &hash);
    store
        .transact(vec![
            Write::put(Table::Data, global),
            Write::put(Table::Data, index),
        ])
        .await
        .expect("write");
    let token = token.expose_secret().to_owned();
    assert!(!token.contains('.'));
    token
}

both_backends!(
    a_token_with_another_tenant_or_user_is_refused_like_any_bad_token,
    |app: App| async move {
        let a = app.onboard(5).await;
        let b = app.onboard(5).await;
        let (m_id, m_token) = member(&app, &a, "member1", "member").await;
        // The token names its tenant and user in clear, then 256 random bits.
        let parts: Vec<&str> = a.admin_token.split('.').collect();
        assert_eq!(parts.len(), 3, "{}", a.admin_token);
        assert_eq!((parts[0], parts[1]), (a.id.as_str(), a.admin_id.as_str()));
        assert!(parts[2].len() >= 43, "the secret: {}", parts[2]);
        let secret = parts[2];
        let bad = refusal(&app, "not-a-session").await;
        assert_eq!(bad.0, StatusCode::UNAUTHORIZED);
        let dotted_bad =
            refusal(&app, &format!("{}.{}.{}", a.id, a.admin_id, "x".repeat(43))).await;
        assert_eq!(dotted_bad, bad);
        for forged in [
            // Another tenant's id with this tenant's user and secret.
            format!("{}.{}.{secret}", b.id, a.admin_id),
            // Another tenant's admin.
            format!("{}.{}.{secret}", b.id, b.admin_id),
            // Another user of the same tenant: the admin's secret does not make a member an admin, nor
            // the member's secret the admin.
            format!("{}.{m_id}.{secret}", a.id),
            format!(
                "{}.{}.{}",
                a.id,
                a.admin_id,
                m_token.rsplit('.').next().expect("secret")
            ),
            // The bare secret of a new token, and malformed ids.
            secret.to_owned(),
            format!("{}.{}.{secret}", a.id.to_uppercase(), a.admin_id),
            format!("{}.{secret}", a.admin_id),
            format!("{}.{}.{secret}.", a.id, a.admin_id),
        ] {
            assert_eq!(refusal(&app, &forged).await, bad, "{forged}");
            assert_eq!(
                app.get(&format!("/v1/users/{m_id}"), &forged).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        // The pages' cookie is the same session: a forged one signs nobody in.
        let browser = crate::pages::browser();
        let page = |token: String| {
            let browser = browser.clone();
            let url = format!("{}/account", app.base);
            async move {
                browser
                    .get(url)
                    .header("cookie", format!("kanri_session={token}"))
                    .send()
                    .await
                    .expect("page")
            }
        };
        assert_eq!(page(a.admin_token.clone()).await.status(), StatusCode::OK);
        let forged = page(format!("{}.{}.{secret}", b.id, b.admin_id)).await;
        assert_eq!(forged.status(), StatusCode::SEE_OTHER);
        assert_eq!(forged.headers()[reqwest::header::LOCATION], "/login");
        // The genuine tokens still work.
        assert_eq!(
            app.get("/v1/me", &a.admin_token).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/v1/me", &b.admin_token).await.status,
            StatusCode::OK
        );
        assert_eq!(app.get("/v1/me", &m_token).await.body["id"], m_id.as_str());
    }
);

both_backends!(
    a_session_opened_before_tokens_named_their_tenant_keeps_working,
    |app: App| async move {
        let t = app.onboard(5).await;
        let old = bare_session(&app, &t.id, &t.admin_id, &t.admin_token).await;
        let me = app.get("/v1/me", &old).await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.body["id"], t.admin_id.as_str());
        assert_eq!(app.get("/v1/users", &old).await.status, StatusCode::OK);
        // A page with it as the cookie.
        let r = crate::pages::browser()
            .get(format!("{}/account", app.base))
            .header("cookie", format!("kanri_session={old}"))
            .send()
            .await
            .expect("page");
        assert_eq!(r.status(), StatusCode::OK);
        // Revoked by a password change made with a new-form session, on the next request.
        let second = bare_session(&app, &t.id, &t.admin_id, &t.admin_token).await;
        let r = app
            .post(
                "/v1/me/password",
                Some(&t.admin_token),
                json!({"current_password": PASSWORD, "new_password": "rotated passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        for s in [&old, &second] {
            assert_eq!(app.get("/v1/me", s).await.status, StatusCode::UNAUTHORIZED);
        }
        // And logout ends a bare session too.
        let fresh = app
            .login(&t.slug, &t.admin_email, "rotated passphrase")
            .await;
        let third = bare_session(&app, &t.id, &t.admin_id, &fresh).await;
        assert_eq!(app.get("/v1/me", &third).await.status, StatusCode::OK);
        let out = app
            .call("POST", "/v1/auth/logout", Some(&third), None)
            .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &third).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(app.get("/v1/me", &fresh).await.status, StatusCode::OK);
    }
);

both_backends!(
    logout_role_change_and_disabling_take_effect_on_the_next_request,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (id, s) = member(&app, &t, "staff1", "admin").await;
        assert_eq!(app.get("/v1/users", &s).await.status, StatusCode::OK);
        // A role change: the very next request has the new rights.
        let moved = app
            .call(
                "PUT",
                &format!("/v1/users/{id}/role"),
                Some(&t.admin_token),
                Some(json!({"role_id": "member"})),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
        let denied = app.get("/v1/users", &s).await;
        assert_eq!(
            (denied.status, denied.code()),
            (StatusCode::FORBIDDEN, "forbidden")
        );
        // Disabling: the session ends at once.
        let other = app.login(&t.slug, "staff1", PASSWORD).await;
        let d = app
            .post(
                &format!("/v1/users/{id}/disable"),
                Some(&t.admin_token),
                json!({}),
            )
            .await;
        assert!(d.status.is_success(), "{d:?}");
        for token in [&s, &other] {
            assert_eq!(
                app.get("/v1/me", token).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        // Logout: the very next request with the token is refused, another session stays.
        let second = app.login(&t.slug, &t.admin_email, PASSWORD).await;
        let out = app
            .call("POST", "/v1/auth/logout", Some(&second), None)
            .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &second).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.status,
            StatusCode::OK
        );
    }
);
