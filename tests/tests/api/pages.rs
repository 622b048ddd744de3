//! The pages for people, as plain HTTP (the browser walk is tests/scripts/browser.sh): opening a mailed link
//! does not use it up, every answer carries the security headers, forms need their CSRF token, and the cookie
//! session is the API's session.

use kanri_tests::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

/// The password `App::onboard` gives the admin.
const PASSWORD: &str = "Kanri-test-passw0rd!";

/// A browser-like client: redirects are answers to look at, not to follow.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of cookie `name` set by a response.
pub(crate) fn set_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
}

/// The value of a hidden form field.
pub(crate) fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').expect("value ends")].to_owned()
}

fn assert_page_headers(h: &HeaderMap) {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(get("content-type").starts_with("text/html"), "{h:?}");
    let csp = get("content-security-policy");
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    // No inline script runs but one allowed by its hash (the console's copy button).
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    if let Some(script) = csp.split(';').find(|d| d.trim().starts_with("script-src")) {
        assert!(
            script
                .split_whitespace()
                .skip(1)
                .all(|s| s.starts_with("'sha256-")),
            "{csp}"
        );
    }
    assert_eq!(get("x-frame-options"), "DENY");
    assert_eq!(get("x-content-type-options"), "nosniff");
    assert_eq!(get("referrer-policy"), "no-referrer");
    assert_eq!(get("cache-control"), "no-store");
    // The test server's public URL is plain http.
    assert!(h.get("strict-transport-security").is_none());
}

both_backends!(
    opening_the_mailed_link_shows_whose_it_is_and_does_not_use_it_up,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "鈴木 <b>一郎</b>", "email": "ichiro@pages.example.com", "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let token = app.link_token("ichiro@pages.example.com").await;
        let b = browser();
        let url = format!("{}/set-password?token={token}", app.base);
        // A mail scanner, then the person: both see the form.
        for _ in 0..2 {
            let r = b.get(&url).send().await.expect("get");
            assert_eq!(r.status(), StatusCode::OK);
            assert_page_headers(r.headers());
            let html = r.text().await.expect("html");
            assert!(
                html.contains("鈴木 &#60;b&#62;一郎&#60;/b&#62; さん"),
                "escaped name: {html}"
            );
            assert!(html.contains(&t.slug));
            assert!(html.contains("8 文字以上 128 文字以内"));
        }
        // Still usable: the API's set-password takes it.
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "a long enough passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        let r = b.get(&url).send().await.expect("get");
        assert_eq!(r.status(), StatusCode::GONE);
        assert_page_headers(r.headers());
        let html = r.text().await.expect("html");
        assert!(html.contains("このリンクは使えません") && html.contains("すでに使用済み"));
        // A page for a person, not an API error.
        assert!(html.starts_with("<!doctype html>") && !html.contains("\"error\""));
    }
);

both_backends!(
    the_page_session_is_the_api_session_and_forms_need_their_csrf_token,
    |app: App| async move {
        let t = app.onboard(5).await;
        let b = browser();
        let ip = unique("10.9.");
        // The login page hands out the form token with its cookie.
        let r = b
            .get(format!("{}/login?lang=en", app.base))
            .header("x-forwarded-for", &ip)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        assert_page_headers(r.headers());
        let csrf_cookie = set_cookie(r.headers(), "kanri_csrf").expect("csrf cookie");
        assert_eq!(set_cookie(r.headers(), "kanri_lang").as_deref(), Some("en"));
        let html = r.text().await.expect("html");
        assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in"));
        let csrf = field(&html, "csrf");
        assert_eq!(csrf, csrf_cookie);
        let form = [
            ("tenant", t.slug.as_str()),
            ("login", t.admin_email.as_str()),
            ("password", PASSWORD),
        ];
        // Without the token (another site's form): 403, and no session.
        let r = b
            .post(format!("{}/login", app.base))
            .header("x-forwarded-for", &ip)
            .header("cookie", format!("kanri_csrf={csrf_cookie}"))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_page_headers(r.headers());
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
        // With it: a session cookie, HttpOnly and SameSite=Lax, and a redirect to the account page.
        let mut with = form.to_vec();
        with.push(("csrf", &csrf));
        let r = b
            .post(format!("{}/login", app.base))
            .header("x-forwarded-for", &ip)
            .header("cookie", format!("kanri_csrf={csrf_cookie}"))
            .form(&with)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/account");
        let raw = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .find(|c| c.starts_with("kanri_session="))
            .expect("session cookie");
        assert!(
            raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
            "{raw}"
        );
        let session = set_cookie(r.headers(), "kanri_session").expect("session");
        // The same session token the API takes.
        let me = app.get("/v1/me", &session).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["email"], json!(t.admin_email));
        // The account page, and its forms' token.
        let cookie = format!("kanri_session={session}");
        let r = b
            .get(format!("{}/account", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        let page_csrf = field(&r.text().await.expect("html"), "csrf");
        // A subscription change without the session's form token: refused, nothing changed.
        let r = b
            .post(format!("{}/account/subscriptions", app.base))
            .header("cookie", &cookie)
            .form(&[("release", "on"), ("csrf", csrf.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let subs = app.get("/v1/me/subscriptions", &session).await;
        assert_eq!(subs.body["release"], json!(false), "{:?}", subs.body);
        // With it: saved, through the same use case the API calls.
        let r = b
            .post(format!("{}/account/subscriptions", app.base))
            .header("cookie", &cookie)
            .form(&[("release", "on"), ("csrf", page_csrf.as_str())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let subs = app.get("/v1/me/subscriptions", &session).await;
        assert_eq!(subs.body["release"], json!(true), "{:?}", subs.body);
        // Signing out through the API ends the page session too.
        let r = app.post("/v1/auth/logout", Some(&session), json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = b
            .get(format!("{}/account", app.base))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/login");
        assert_eq!(
            set_cookie(r.headers(), "kanri_session").as_deref(),
            Some("")
        );
    }
);
