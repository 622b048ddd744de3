//! The second factor on the pages (issue 22), as plain HTTP (the browser walk is
//! tests/browser/console-mfa.test.mjs): the login's code step opens no session before a right code, keeps
//! its challenge in an HttpOnly cookie only, sends an ended challenge back to the password step, takes a
//! recovery code; the enrolment page shows a QR code and the secret, turns the factor on with one code and
//! shows the recovery codes once; turning it off needs the password. On both backends.

use kanri_tests::*;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::json;

use crate::mfa::{code_at, enrol, now_secs};
use crate::pages::{browser, field, set_cookie};

const PASSWORD: &str = "Kanri-test-passw0rd!";

/// The whole `Set-Cookie` line of cookie `name`.
fn cookie_line(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name}"))
        .to_owned()
}

/// The password step in the browser: the login form's token, then the form. Answers the response.
async fn password_step(
    app: &App,
    b: &reqwest::Client,
    ip: &str,
    t: &Tenant,
) -> (reqwest::Response, String) {
    let r = b
        .get(format!("{}/login", app.base))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .expect("get");
    let csrf = set_cookie(r.headers(), "kanri_csrf").expect("csrf cookie");
    let r = b
        .post(format!("{}/login", app.base))
        .header("x-forwarded-for", ip)
        .header("cookie", format!("kanri_csrf={csrf}"))
        .form(&[
            ("tenant", t.slug.as_str()),
            ("login", t.admin_email.as_str()),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .expect("post");
    (r, csrf)
}

async fn code_step(
    app: &App,
    b: &reqwest::Client,
    ip: &str,
    cookies: &str,
    csrf: &str,
    code: &str,
) -> reqwest::Response {
    b.post(format!("{}/login/mfa", app.base))
        .header("x-forwarded-for", ip)
        .header("cookie", cookies)
        .form(&[("code", code), ("csrf", csrf), ("tenant", "")])
        .send()
        .await
        .expect("post")
}

both_backends!(
    mfa_pages_the_login_asks_for_a_code_before_any_session,
    |app: App| async move {
        let t = app.onboard(5).await;
        let b = browser();
        let ip = unique("10.22.");
        let (secret, codes) = enrol(&app, &t.admin_token).await;

        // The password step: no session, the challenge in an HttpOnly cookie for /login only.
        let (r, csrf) = password_step(&app, &b, &ip, &t).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[LOCATION],
            format!("/login/mfa?tenant={}", t.slug)
        );
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
        let line = cookie_line(r.headers(), "kanri_mfa");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/login;"] {
            assert!(line.contains(part), "{line}");
        }
        // As long as the challenge lasts (5 minutes).
        let max_age: i64 = line
            .split("Max-Age=")
            .nth(1)
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.parse().ok())
            .expect("Max-Age");
        assert!((290..=300).contains(&max_age), "{line}");
        let challenge = set_cookie(r.headers(), "kanri_mfa").expect("challenge");
        // The challenge is not a session.
        assert_eq!(
            app.get("/v1/me", &challenge).await.status,
            StatusCode::UNAUTHORIZED
        );
        let cookies = format!("kanri_csrf={csrf}; kanri_mfa={challenge}");

        // The code page: a form, the tenant kept, the challenge nowhere in the page.
        let r = b
            .get(format!("{}/login/mfa?tenant={}", app.base, t.slug))
            .header("cookie", &cookies)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.expect("html");
        assert!(html.contains("確認コード"), "{html}");
        assert_eq!(field(&html, "tenant"), t.slug);
        assert!(!html.contains(&challenge));
        // Without a challenge cookie the code page sends back to the password step.
        let r = b
            .get(format!("{}/login/mfa", app.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/login");

        // Without the form token: 403, nothing used.
        let r = code_step(
            &app,
            &b,
            &ip,
            &cookies,
            "",
            &code_at(&secret, now_secs() + 30),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // A wrong code: the form again, 401, no session.
        let r = code_step(&app, &b, &ip, &cookies, &csrf, "000000").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
        let html = r.text().await.expect("html");
        assert!(html.contains("action=\"/login/mfa\""), "{html}");
        assert!(html.contains("role=\"alert\""), "{html}");
        // A right code: the session cookie, the challenge cookie cleared, the account page.
        let r = code_step(
            &app,
            &b,
            &ip,
            &cookies,
            &csrf,
            &code_at(&secret, now_secs() + 30),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/account");
        assert_eq!(set_cookie(r.headers(), "kanri_mfa").as_deref(), Some(""));
        let session = set_cookie(r.headers(), "kanri_session").expect("session");
        assert_eq!(app.get("/v1/me", &session).await.status, StatusCode::OK);
        // The used challenge goes back to the password step, with the tenant kept.
        let r = b
            .post(format!("{}/login/mfa", app.base))
            .header("x-forwarded-for", &ip)
            .header("cookie", &cookies)
            .form(&[
                ("code", codes[0].as_str()),
                ("csrf", csrf.as_str()),
                ("tenant", t.slug.as_str()),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
        let html = r.text().await.expect("html");
        assert!(html.contains("action=\"/login\""), "{html}");
        assert!(html.contains("もう一度パスワードから"), "{html}");
        assert!(html.contains(&format!("value=\"{}\"", t.slug)), "{html}");

        // A recovery code completes a new challenge, once.
        let (r, csrf) = password_step(&app, &b, &ip, &t).await;
        let challenge = set_cookie(r.headers(), "kanri_mfa").expect("challenge");
        let cookies = format!("kanri_csrf={csrf}; kanri_mfa={challenge}");
        let typed = codes[0].to_uppercase().replace('-', " ");
        let r = code_step(&app, &b, &ip, &cookies, &csrf, &typed).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(set_cookie(r.headers(), "kanri_session").is_some());
        let (r, csrf) = password_step(&app, &b, &ip, &t).await;
        let challenge = set_cookie(r.headers(), "kanri_mfa").expect("challenge");
        let cookies = format!("kanri_csrf={csrf}; kanri_mfa={challenge}");
        let r = code_step(&app, &b, &ip, &cookies, &csrf, &codes[0]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // Wrong codes are throttled as the API's are (10 per user in 15 minutes), then 429 on the page.
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(
                code_step(&app, &b, &ip, &cookies, &csrf, "999999")
                    .await
                    .status(),
            );
        }
        assert!(
            statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        let r = code_step(
            &app,
            &b,
            &ip,
            &cookies,
            &csrf,
            &code_at(&secret, now_secs()),
        )
        .await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(set_cookie(r.headers(), "kanri_session").is_none());
    }
);

both_backends!(
    mfa_pages_enrolment_shows_a_qr_code_and_the_codes_once_and_off_needs_the_password,
    |app: App| async move {
        let t = app.onboard(5).await;
        let b = browser();
        let cookie = format!("kanri_session={}", t.admin_token);
        let get = |path: &'static str| {
            let b = b.clone();
            let cookie = cookie.clone();
            let url = format!("{}{path}", app.base);
            async move {
                let r = b
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .expect("get");
                let status = r.status();
                (status, r.text().await.expect("html"))
            }
        };
        let post = |path: &'static str, form: Vec<(&'static str, String)>| {
            let b = b.clone();
            let cookie = cookie.clone();
            let url = format!("{}{path}", app.base);
            async move {
                b.post(url)
                    .header("cookie", cookie)
                    .form(&form)
                    .send()
                    .await
                    .expect("post")
            }
        };
        // The account page links to it.
        let (_, html) = get("/account").await;
        assert!(html.contains("href=\"/account/mfa\""), "{html}");
        let (status, html) = get("/account/mfa").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("id=\"mfa-start\""), "{html}");
        let csrf = field(&html, "csrf");
        // Starting needs the session's form token.
        let r = post("/account/mfa/totp", vec![]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = post("/account/mfa/totp", vec![("csrf", csrf.clone())]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/account/mfa");
        // The set-up: an inline SVG QR code and the secret as text, nothing active yet.
        let (_, html) = get("/account/mfa").await;
        assert!(html.contains("<svg role=\"img\""), "{html}");
        assert!(!html.contains("<?xml"), "{html}");
        let at = html.find("id=\"mfa-secret\">").expect("secret") + "id=\"mfa-secret\">".len();
        let secret: String = html[at..].chars().take_while(|c| *c != '<').collect();
        assert!(secret.len() >= 32, "{secret}");
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.body["mfa_enabled"],
            json!(false)
        );
        // A wrong code: 400, still pending.
        let r = post(
            "/account/mfa/totp/confirm",
            vec![("csrf", csrf.clone()), ("code", "000000".into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.expect("html").contains(&secret));
        // The right code: on, and the ten recovery codes shown once, with a download.
        let r = post(
            "/account/mfa/totp/confirm",
            vec![
                ("csrf", csrf.clone()),
                ("code", code_at(&secret, now_secs())),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.expect("html");
        assert_eq!(html.matches("<li>").count(), 10, "{html}");
        assert!(
            html.contains("download=\"kanri-recovery-codes.txt\""),
            "{html}"
        );
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.body["mfa_enabled"],
            json!(true)
        );
        let (_, html) = get("/account/mfa").await;
        assert!(html.contains("id=\"recovery-left\">10<"), "{html}");
        assert!(!html.contains(&secret));
        // Off needs the password.
        let r = post(
            "/account/mfa/delete",
            vec![
                ("csrf", csrf.clone()),
                ("password", "wrong password".into()),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.body["mfa_enabled"],
            json!(true)
        );
        let r = post(
            "/account/mfa/delete",
            vec![("csrf", csrf.clone()), ("password", PASSWORD.into())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.body["mfa_enabled"],
            json!(false)
        );
    }
);
