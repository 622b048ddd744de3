//! The set-password page's POST: the link used, the password set and the session opened in one transaction
//! (`auth::use_link`). Single use holds for two posts at once, and no session opens where the login page
//! would not open one (the sign-in policy's IP allow-list, a second factor).

use kanri_tests::*;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

use crate::pages::{browser, field, set_cookie};

/// An invited user's link: (e-mail, token).
async fn invited(app: &App, t: &Tenant, tag: &str) -> (String, String) {
    let email = format!("{}@links.example.com", unique(tag));
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "リンク 花子", "email": email, "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let token = app.link_token(&email).await;
    (email, token)
}

/// Opens the link's page from `ip`: the form's CSRF token (field and cookie are the same value).
async fn form_token(app: &App, ip: &str, token: &str) -> String {
    let r = browser()
        .get(format!("{}/set-password?token={token}", app.base))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    field(&r.text().await.expect("html"), "csrf")
}

/// Posts the form from `ip`: (status, Location, the session cookie if one was set).
async fn post_form(
    app: &App,
    ip: &str,
    csrf: &str,
    token: &str,
    password: &str,
) -> (StatusCode, String, Option<String>) {
    let r = browser()
        .post(format!("{}/set-password", app.base))
        .header("x-forwarded-for", ip)
        .header("cookie", format!("kanri_csrf={csrf}"))
        .form(&[
            ("csrf", csrf),
            ("token", token),
            ("password", password),
            ("confirm", password),
        ])
        .send()
        .await
        .expect("post");
    let location = r
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        r.status(),
        location,
        set_cookie(r.headers(), "kanri_session"),
    )
}

both_backends!(
    two_posts_of_one_invitation_link_set_one_password_and_open_one_session,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (email, token) = invited(&app, &t, "twice").await;
        let ip = unique("10.7.");
        let csrf = form_token(&app, &ip, &token).await;
        let (a, b) = tokio::join!(
            post_form(&app, &ip, &csrf, &token, "the first passphrase"),
            post_form(&app, &ip, &csrf, &token, "the second passphrase"),
        );
        let won: Vec<_> = [&a, &b]
            .into_iter()
            .filter(|r| r.0 == StatusCode::SEE_OTHER)
            .collect();
        assert_eq!(won.len(), 1, "exactly one post uses the link: {a:?} {b:?}");
        let lost = if a.0 == StatusCode::SEE_OTHER { &b } else { &a };
        assert_eq!(
            lost.0,
            StatusCode::GONE,
            "the other finds it used: {lost:?}"
        );
        assert!(lost.2.is_none(), "and gets no session");
        let (_, location, session) = won[0];
        assert_eq!(location, "/account?done=password_set");
        let session = session.clone().expect("the winner is signed in");
        let me = app.get("/v1/me", &session).await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.body["email"], json!(email));
        // Exactly the winner's password is the account's.
        let winner = if a.0 == StatusCode::SEE_OTHER {
            "the first passphrase"
        } else {
            "the second passphrase"
        };
        let loser = if winner == "the first passphrase" {
            "the second passphrase"
        } else {
            "the first passphrase"
        };
        let login = |password: &'static str| {
            app.post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": email, "password": password}),
            )
        };
        assert_eq!(login(loser).await.code(), "invalid_credentials");
        assert_eq!(login(winner).await.status, StatusCode::OK);
        // The session the page opened survives the revocation of the user's other tokens, and the link is
        // dead for a third post.
        assert_eq!(app.get("/v1/me", &session).await.status, StatusCode::OK);
        let (status, _, cookie) = post_form(&app, &ip, &csrf, &token, "a third passphrase").await;
        assert_eq!((status, cookie), (StatusCode::GONE, None));
    }
);

both_backends!(
    a_link_used_from_outside_the_ip_allow_list_sets_the_password_but_opens_no_session,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (email, token) = invited(&app, &t, "outside").await;
        let inside = "203.0.113.7";
        let r = app
            .call_from(
                inside,
                "PUT",
                "/v1/tenant/sign-in-policy",
                Some(&t.admin_token),
                Some(json!({
                    "second_factor": "off",
                    "password_min_length": 8,
                    "session_lifetime_minutes": null,
                    "idle_timeout_minutes": null,
                    "ip_allowlist": ["203.0.113.0/24"],
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let outside = unique("10.8.");
        let csrf = form_token(&app, &outside, &token).await;
        let (status, location, session) =
            post_form(&app, &outside, &csrf, &token, "set from outside").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            location.starts_with("/login?done=password_set&tenant="),
            "{location}"
        );
        assert!(session.is_none(), "no session outside the allow-list");
        // The password is set: the login page takes it from inside.
        let r = app
            .call_from(
                inside,
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": t.slug, "login": email, "password": "set from outside"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
);

both_backends!(
    an_expired_link_posted_is_the_expired_page_and_changes_nothing,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (email, token) = invited(&app, &t, "late").await;
        let ip = unique("10.6.");
        let csrf = form_token(&app, &ip, &token).await;
        // The link's item as it is, with its expiry in the past.
        let hash = kanri::crypto::token_hash(&token);
        let pk = format!("TOKEN#{hash}");
        let store = app.svc.store.clone();
        let mut item = store
            .get(kanri::ports::Table::Data, &pk, "TOKEN")
            .await
            .expect("read")
            .expect("the link's item");
        let past = kanri::domain::time::now().unix_timestamp() - 60;
        item = item.with("expires", kanri::ports::Value::N(past));
        store
            .transact(vec![kanri::ports::Write::Put {
                table: kanri::ports::Table::Data,
                item,
                cond: None,
            }])
            .await
            .expect("expire");
        let r = browser()
            .post(format!("{}/set-password", app.base))
            .header("x-forwarded-for", &ip)
            .header("cookie", format!("kanri_csrf={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("token", token.as_str()),
                ("password", "too late a passphrase"),
                ("confirm", "too late a passphrase"),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::GONE);
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
        let html = r.text().await.expect("html");
        assert!(html.contains("有効期限が切れています"), "{html}");
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": email, "password": "too late a passphrase"}),
            )
            .await;
        assert_eq!(r.code(), "invalid_credentials");
    }
);

/// The link of a mail body.
fn token_of(body: &str) -> String {
    let start = body.find("token=").expect("link in mail") + "token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

both_backends!(
    a_newer_reset_link_replaces_the_older_one_in_its_own_transaction,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("192.0.2.");
        for _ in 0..2 {
            let r = app
                .call_from(
                    &ip,
                    "POST",
                    "/v1/auth/password-reset",
                    None,
                    Some(json!({"tenant": t.slug, "login": t.admin_email})),
                )
                .await;
            assert_eq!(r.status, StatusCode::ACCEPTED);
            app.settle().await;
        }
        let mails = app.mails_to(&t.admin_email).await;
        assert_eq!(mails.len(), 1 + 2, "the invitation and two reset mails");
        let (older, newer) = (token_of(&mails[1]), token_of(&mails[2]));
        assert_ne!(older, newer);
        let set = |token: String, password: &'static str| {
            app.post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": password}),
            )
        };
        assert_eq!(
            set(older, "the older link's passphrase").await.code(),
            "invalid_token"
        );
        assert_eq!(
            set(newer, "the newer link's passphrase").await.status,
            StatusCode::NO_CONTENT
        );
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": t.admin_email, "password": "the newer link's passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
);

both_backends!(
    a_reset_link_used_on_the_page_ends_the_other_sessions_and_keeps_the_one_it_opens,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": t.slug, "login": t.admin_email}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let token = app.link_token(&t.admin_email).await;
        let ip = unique("10.5.");
        let csrf = form_token(&app, &ip, &token).await;
        let (status, location, session) =
            post_form(&app, &ip, &csrf, &token, "a passphrase after the reset").await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/account?done=password_set")
        );
        let session = session.expect("signed in");
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.status,
            StatusCode::UNAUTHORIZED,
            "the session open before the reset ends"
        );
        assert_eq!(app.get("/v1/me", &session).await.status, StatusCode::OK);
    }
);

both_backends!(
    a_user_with_a_second_factor_is_sent_to_the_login_page_after_a_reset_on_the_page,
    |app: App| async move {
        let t = app.onboard(5).await;
        crate::mfa::enrol(&app, &t.admin_token).await;
        let r = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": t.slug, "login": t.admin_email}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let token = app.link_token(&t.admin_email).await;
        let ip = unique("10.4.");
        let csrf = form_token(&app, &ip, &token).await;
        let (status, location, session) =
            post_form(&app, &ip, &csrf, &token, "a passphrase with a factor").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            location.starts_with("/login?done=password_set&tenant="),
            "{location}"
        );
        assert!(session.is_none(), "the code is asked at the login page");
        // The password step now takes the new password, and asks for the code.
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": t.admin_email, "password": "a passphrase with a factor"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["mfa_required"], json!(true), "{r:?}");
    }
);
