//! Password reset, re-issued credentials, token expiry and login throttling, on both backends.

use kanri::config::Backend;
use kanri_tests::{App, Resp, StatusCode, both_backends, r_str, spawn_app_with, unique};
use serde_json::json;

both_backends!(
    a_reset_link_is_mailed_only_to_real_users_and_the_answer_never_tells,
    |app: App| async move {
        let t = app.onboard(5).await;
        let known = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": t.slug, "login": t.admin_email.to_uppercase()}),
            )
            .await;
        let unknown = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": t.slug, "login": "ghost@example.jp"}),
            )
            .await;
        let no_tenant = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": "no-such-tenant", "login": t.admin_email}),
            )
            .await;
        for r in [&known, &unknown, &no_tenant] {
            assert_eq!((r.status, &r.body), (StatusCode::ACCEPTED, &json!({})));
        }
        // The answer came before the work: the mail is sent by a background task.
        app.settle().await;
        assert!(app.mails_to("ghost@example.jp").await.is_empty());
        let mails = app.mails_to(&t.admin_email).await;
        assert_eq!(mails.len(), 2, "invitation, then reset");
        assert!(
            mails[1].contains("パスワード再設定") && mails[1].contains("reset your Kanri password"),
            "{}",
            mails[1]
        );
        let token = app.link_token(&t.admin_email).await;
        let other_session = app
            .login(&t.slug, &t.admin_email, "Kanri-test-passw0rd!")
            .await;
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "a brand new passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get("/v1/me", &other_session).await.status,
            StatusCode::UNAUTHORIZED,
            "sessions are revoked"
        );
        let old = app.post("/v1/auth/login", None, json!({"tenant": t.slug, "login": t.admin_email, "password": "Kanri-test-passw0rd!"})).await;
        assert_eq!(old.code(), "invalid_credentials");
        app.login(&t.slug, &t.admin_email, "a brand new passphrase")
            .await;
    }
);

both_backends!(
    reset_requests_cannot_flood_a_mailbox,
    |app: App| async move {
        let t = app.onboard(5).await;
        away_from_a_window_end(3600).await;
        let ip = unique("203.0.113.");
        for _ in 0..5 {
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
        }
        app.settle().await;
        assert_eq!(
            app.mails_to(&t.admin_email).await.len(),
            1 + 3,
            "the invitation and three reset mails, no more"
        );
        let source = unique("192.0.2.");
        let mut last = None;
        for i in 0..21 {
            let r = app
                .call_from(
                    &source,
                    "POST",
                    "/v1/auth/password-reset",
                    None,
                    Some(json!({"tenant": t.slug, "login": format!("nobody{i}@example.jp")})),
                )
                .await;
            last = Some(r);
        }
        let last = last.expect("responses");
        assert_eq!(
            (last.status, last.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        assert!(last.headers.get("retry-after").is_some());
    }
);

both_backends!(
    a_reset_request_queues_the_same_task_for_known_and_unknown_accounts_and_no_address,
    |app: App| async move {
        let t = app.onboard(5).await;
        let held = std::sync::Arc::new(kanri_tests::HeldQueue::default());
        let svc = app.services_with(None, None, Some(held.clone()));
        let now = kanri::domain::time::now();
        let ghost = format!("ghost@{}.example.com", t.slug);
        for login in [t.admin_email.to_uppercase(), ghost.clone()] {
            kanri::app::auth::request_reset(&svc, &t.slug, &login, &unique("198.51.100."), now)
                .await
                .expect("answered");
        }
        kanri::app::auth::request_reset(&svc, "no-such-tenant", &ghost, "198.51.100.1", now)
            .await
            .expect("answered");
        let tasks = std::mem::take(&mut *held.0.lock().expect("held"));
        assert_eq!(
            tasks.len(),
            2,
            "one task per request of an existing tenant: {tasks:?}"
        );
        for task in &tasks {
            let json = serde_json::to_string(task).expect("task json");
            let lower = json.to_lowercase();
            assert!(
                json.contains("\"task\":\"password_reset\"")
                    && !lower.contains(&t.admin_email.to_lowercase())
                    && !lower.contains("ghost")
                    && !lower.contains("example.com"),
                "the queued task names no address: {json}"
            );
        }
        // As the worker: the known account's task mails a link, the unknown one's nothing.
        let before = app.mails_to(&t.admin_email).await.len();
        for task in &tasks {
            kanri::worker::run_task(&app.svc, task)
                .await
                .expect("task runs");
        }
        assert_eq!(app.mails_to(&t.admin_email).await.len(), before + 1);
        assert!(app.mails_to(&ghost).await.is_empty());
        // A task naming anything but a login guard reads nothing and mails nothing.
        let forged = kanri::ports::Task::PasswordReset {
            tenant: t.id.clone(),
            guard: "USER#whatever".into(),
        };
        kanri::worker::run_task(&app.svc, &forged)
            .await
            .expect("dropped");
        assert_eq!(app.mails_to(&t.admin_email).await.len(), before + 1);
    }
);

both_backends!(
    repeated_login_failures_are_throttled_per_account_and_per_source,
    |app: App| async move {
        let t = app.onboard(5).await;
        away_from_a_window_end(900).await;
        let login = |ip: String, password: &'static str, who: String| {
            let app = &app;
            let slug = t.slug.clone();
            async move {
                app.call_from(
                    &ip,
                    "POST",
                    "/v1/auth/login",
                    None,
                    Some(json!({"tenant": slug, "login": who, "password": password})),
                )
                .await
            }
        };
        // Per account from one address: that address is locked out of that account.
        for _ in 0..10 {
            let r = login("10.1.0.1".into(), "wrong", t.admin_email.clone()).await;
            assert_eq!(r.code(), "invalid_credentials");
        }
        let blocked = login(
            "10.1.0.1".into(),
            "Kanri-test-passw0rd!",
            t.admin_email.clone(),
        )
        .await;
        assert_eq!(
            (blocked.status, blocked.code()),
            (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        );
        let retry: u64 = blocked
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=900).contains(&retry));
        // The owner, from another address, is not.
        let owner = login(
            "10.1.0.99".into(),
            "Kanri-test-passw0rd!",
            t.admin_email.clone(),
        )
        .await;
        assert_eq!(owner.status, StatusCode::OK, "{owner:?}");
        // Per source, over many accounts (existing or not: they look alike).
        let src = unique("10.2.");
        for i in 0..100 {
            login(src.clone(), "wrong", format!("someone{i}@example.jp")).await;
        }
        let r = login(src.clone(), "whatever", "another@example.jp".into()).await;
        assert_eq!(r.code(), "rate_limited");
        // Other sources and accounts are unaffected.
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "OK", "login_id": "fine1", "delivery": "generated"}),
            )
            .await;
        let pw = r_str(&u.body["initial_password"]);
        let ok = login("10.3.0.1".into(), "placeholder", "fine1".into()).await;
        assert_eq!(ok.code(), "invalid_credentials");
        let ok = app
            .call_from(
                "10.3.0.1",
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": t.slug, "login": "fine1", "password": pw})),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
    }
);

both_backends!(
    credentials_can_be_reissued_and_old_ones_stop_working,
    |app: App| async move {
        let t = app.onboard(5).await;
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "R", "email": "reissue@example.jp", "delivery": "invite_link"}),
            )
            .await;
        let id = r_str(&u.body["user"]["id"]);
        let first = app.link_token("reissue@example.jp").await;
        let again = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "invite_link"}),
            )
            .await;
        assert_eq!(
            (again.status, &again.body),
            (StatusCode::ACCEPTED, &json!({}))
        );
        let second = app.link_token("reissue@example.jp").await;
        assert_ne!(first, second);
        let old = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": first, "password": "a fine passphrase"}),
            )
            .await;
        assert_eq!(old.code(), "invalid_token");
        let generated = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "generated"}),
            )
            .await;
        assert_eq!(generated.status, StatusCode::OK);
        let pw = r_str(&generated.body["initial_password"]);
        assert_eq!(
            app.post(
                "/v1/auth/set-password",
                None,
                json!({"token": second, "password": "a fine passphrase"})
            )
            .await
            .code(),
            "invalid_token"
        );
        let s = app.login(&t.slug, "reissue@example.jp", &pw).await;
        assert_eq!(
            app.get("/v1/users", &s).await.code(),
            "password_change_required"
        );
        let nomail = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "N", "login_id": "nomail2", "delivery": "generated"}),
            )
            .await;
        let r = app
            .post(
                &format!(
                    "/v1/users/{}/credentials",
                    r_str(&nomail.body["user"]["id"])
                ),
                Some(&t.admin_token),
                json!({"delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.code(), "delivery_requires_email");
    }
);

fn retry_after(r: &Resp) -> u64 {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits, when the clock is within a minute of the end of a fixed `window_secs` window of the throttle
/// (`app::throttle`: 15-minute and hourly windows starting on the epoch's multiples), until the next one
/// starts: a test that counts up to a limit and then expects a refusal would otherwise see the count start
/// again half-way (it did, once, at 20:00:00 UTC).
async fn away_from_a_window_end(window_secs: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64();
    let left = window_secs as f64 - now.rem_euclid(window_secs as f64);
    if left < 60.0 {
        tokio::time::sleep(std::time::Duration::from_secs_f64(left + 0.5)).await;
    }
}

async fn login_from(app: &App, ip: &str, slug: &str, who: &str, password: &str) -> Resp {
    app.call_from(
        ip,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"tenant": slug, "login": who, "password": password})),
    )
    .await
}

both_backends!(
    forty_parallel_wrong_passwords_run_at_most_ten_password_checks,
    |app: App| async move {
        let t = app.onboard(5).await;
        away_from_a_window_end(900).await;
        let ip = unique("203.0.113.");
        let answers = futures::future::join_all(
            (0..40).map(|_| login_from(&app, &ip, &t.slug, &t.admin_email, "wrong guess")),
        )
        .await;
        // A 401 is a password check that ran; a 429 was refused before any check.
        let checked = answers
            .iter()
            .filter(|r| r.code() == "invalid_credentials")
            .count();
        let refused = answers
            .iter()
            .filter(|r| r.code() == "rate_limited")
            .count();
        assert_eq!(
            (checked, refused),
            (10, 30),
            "40 parallel attempts: checks, refusals"
        );
        let owner = login_from(
            &app,
            "198.51.100.77",
            &t.slug,
            &t.admin_email,
            "Kanri-test-passw0rd!",
        )
        .await;
        assert_eq!(
            owner.status,
            StatusCode::OK,
            "the owner logs in from another address: {owner:?}"
        );
    }
);

both_backends!(
    twenty_parallel_reset_requests_send_at_most_three_mails,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("192.0.2.");
        let answers = futures::future::join_all((0..20).map(|_| {
            app.call_from(
                &ip,
                "POST",
                "/v1/auth/password-reset",
                None,
                Some(json!({"tenant": t.slug, "login": t.admin_email})),
            )
        }))
        .await;
        assert!(answers.iter().all(|r| r.status == StatusCode::ACCEPTED));
        app.settle().await;
        assert_eq!(
            app.mails_to(&t.admin_email).await.len(),
            1 + 3,
            "the invitation and three reset mails, however many requests ran at once"
        );
    }
);

both_backends!(
    an_attack_from_many_addresses_slows_the_account_but_never_locks_its_owner_out,
    |app: App| async move {
        let t = app.onboard(5).await;
        let net = unique("10.");
        for i in 0..20 {
            let r = login_from(
                &app,
                &format!("{net}.{i}"),
                &t.slug,
                &t.admin_email,
                "wrong",
            )
            .await;
            assert_eq!(r.code(), "invalid_credentials", "attempt {i}");
        }
        // Past 20 failures the account takes one check every 2 seconds, whoever asks.
        let ips: Vec<String> = (20..30).map(|i| format!("{net}.{i}")).collect();
        let burst = futures::future::join_all(
            ips.iter()
                .map(|ip| login_from(&app, ip, &t.slug, &t.admin_email, "wrong")),
        )
        .await;
        let checked = burst
            .iter()
            .filter(|r| r.code() == "invalid_credentials")
            .count();
        assert!(
            checked <= 2,
            "a burst of 10 in one or two 2-second windows: {checked} checks"
        );
        for r in burst.iter().filter(|r| r.code() == "rate_limited") {
            assert!(
                (1..=2).contains(&retry_after(r)),
                "slowed, not locked: {r:?}"
            );
        }
        let mut tries = 0;
        let owner = loop {
            tries += 1;
            let r = login_from(
                &app,
                "198.51.100.200",
                &t.slug,
                &t.admin_email,
                "Kanri-test-passw0rd!",
            )
            .await;
            if r.status != StatusCode::TOO_MANY_REQUESTS || tries == 3 {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_secs(retry_after(&r))).await;
        };
        assert_eq!(
            owner.status,
            StatusCode::OK,
            "the owner gets in within {tries} tries: {owner:?}"
        );
    }
);

both_backends!(
    behind_a_trusted_proxy_the_right_most_forwarded_address_is_the_source,
    |app: App| async move {
        let t = app.onboard(5).await;
        away_from_a_window_end(900).await;
        let real = unique("203.0.113.");
        // The client varies what it puts first; the proxy appends the address it saw.
        for i in 0..10 {
            let r = login_from(
                &app,
                &format!("10.9.9.{i}, {real}"),
                &t.slug,
                &t.admin_email,
                "wrong",
            )
            .await;
            assert_eq!(r.code(), "invalid_credentials");
        }
        let spoofed = login_from(
            &app,
            &format!("10.9.9.99, {real}"),
            &t.slug,
            &t.admin_email,
            "wrong",
        )
        .await;
        assert_eq!(
            spoofed.code(),
            "rate_limited",
            "a new first entry is not a new source"
        );
        let other = login_from(
            &app,
            &format!("{real}, 198.51.100.5"),
            &t.slug,
            &t.admin_email,
            "Kanri-test-passw0rd!",
        )
        .await;
        assert_eq!(
            other.status,
            StatusCode::OK,
            "another proxy-seen address is another source"
        );
    }
);

mod expired_tokens {
    use super::*;

    async fn expired_invitation_is_refused(backend: Backend) {
        let app = spawn_app_with(backend, |c| {
            c.settings.invitation_ttl = time::Duration::seconds(1)
        })
        .await;
        // The admin's own invitation expires as fast, so the admin comes in through a reset link (1 hour).
        let slug = unique("t-");
        let email = format!("{}@example.jp", unique("admin-"));
        let created = app
            .post(
                "/v1/ops/tenants",
                Some(&app.operator_token),
                json!({"slug": slug, "name": "T", "seat_limit": 5, "admin": {"name": "A", "email": email}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        app.post(
            "/v1/auth/password-reset",
            None,
            json!({"tenant": slug, "login": email}),
        )
        .await;
        let reset = app.link_token(&email).await;
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": reset, "password": "admin passphrase"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        let admin_token = app.login(&slug, &email, "admin passphrase").await;
        let t = kanri_tests::Tenant {
            id: String::new(),
            slug,
            admin_email: email,
            admin_id: String::new(),
            admin_token,
        };
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "E", "email": "expire@example.jp", "delivery": "invite_link"}),
        )
        .await;
        let token = app.link_token("expire@example.jp").await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": "a fine passphrase"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_token")
        );
    }

    #[tokio::test]
    async fn embedded() {
        expired_invitation_is_refused(Backend::Embedded).await;
    }

    #[tokio::test]
    async fn dynamodb() {
        expired_invitation_is_refused(Backend::Aws).await;
    }
}

/// Sets a password with `token`; the answer's status and code.
async fn use_link(app: &App, token: &str, password: &str) -> (StatusCode, String) {
    let r = app
        .post(
            "/v1/auth/set-password",
            None,
            json!({"token": token, "password": password}),
        )
        .await;
    (r.status, r.code().to_owned())
}

/// Whether `login` gets in with `password`.
async fn logs_in(app: &App, slug: &str, login: &str, password: &str) -> bool {
    app.post(
        "/v1/auth/login",
        None,
        json!({"tenant": slug, "login": login, "password": password}),
    )
    .await
    .status
        == StatusCode::OK
}

both_backends!(
    an_invitation_mailed_to_a_mistyped_address_stops_working_once_the_address_is_corrected,
    |app: App| async move {
        let t = app.onboard(10).await;
        let (wrong, right) = (unique("typo-"), unique("right-"));
        let (wrong, right) = (format!("{wrong}@example.jp"), format!("{right}@example.jp"));
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "宛先 誤り", "email": wrong, "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(u.status, StatusCode::CREATED, "{u:?}");
        let id = r_str(&u.body["user"]["id"]);
        let mailed = app.link_token(&wrong).await;
        let fixed = app
            .patch(
                &format!("/v1/users/{id}"),
                &t.admin_token,
                json!({"email": right}),
            )
            .await;
        assert_eq!(fixed.status, StatusCode::OK, "{fixed:?}");
        // Whoever reads the mistyped mailbox cannot set the password of the corrected account.
        let pw = "chosen by a stranger";
        assert_eq!(
            use_link(&app, &mailed, pw).await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        assert!(!logs_in(&app, &t.slug, &right, pw).await);
        let user = app.get(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert_eq!(user.body["status"], "invited", "{user:?}");
        // A link re-issued to the corrected address works.
        let again = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "invite_link"}),
            )
            .await;
        assert_eq!(again.status, StatusCode::ACCEPTED, "{again:?}");
        let token = app.link_token(&right).await;
        assert_eq!(
            use_link(&app, &token, "chosen by the owner").await.0,
            StatusCode::NO_CONTENT
        );
        assert!(logs_in(&app, &t.slug, &right, "chosen by the owner").await);
    }
);

both_backends!(
    changing_or_clearing_an_address_voids_the_reset_and_invitation_links_sent_to_it,
    |app: App| async move {
        let t = app.onboard(10).await;
        let old = format!("{}@example.jp", unique("old-"));
        let login = unique("acct");
        let u = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "移動 する", "email": old, "login_id": login, "delivery": "generated"}),
            )
            .await;
        assert_eq!(u.status, StatusCode::CREATED, "{u:?}");
        let id = r_str(&u.body["user"]["id"]);
        // A reset link to the old address, then a new address.
        let r = app
            .post(
                "/v1/auth/password-reset",
                None,
                json!({"tenant": t.slug, "login": old}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        let reset = app.link_token(&old).await;
        let new = format!("{}@example.jp", unique("new-"));
        let moved = app
            .patch(
                &format!("/v1/users/{id}"),
                &t.admin_token,
                json!({"email": new}),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
        assert_eq!(
            use_link(&app, &reset, "set through the old mailbox").await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        assert!(!logs_in(&app, &t.slug, &new, "set through the old mailbox").await);
        // An invitation to the new address, then the address cleared: the invitation dies with it.
        let inv = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "invite_link"}),
            )
            .await;
        assert_eq!(inv.status, StatusCode::ACCEPTED, "{inv:?}");
        let invitation = app.link_token(&new).await;
        let cleared = app
            .patch(
                &format!("/v1/users/{id}"),
                &t.admin_token,
                json!({"email": null}),
            )
            .await;
        assert_eq!(cleared.status, StatusCode::OK, "{cleared:?}");
        assert_eq!(
            use_link(&app, &invitation, "set after the address was removed").await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        assert!(!logs_in(&app, &t.slug, &login, "set after the address was removed").await);
        // A change of name only keeps the links: nothing about the address changed.
        let keep = format!("{}@example.jp", unique("keep-"));
        app.patch(
            &format!("/v1/users/{id}"),
            &t.admin_token,
            json!({"email": keep}),
        )
        .await;
        app.post(
            "/v1/auth/password-reset",
            None,
            json!({"tenant": t.slug, "login": keep}),
        )
        .await;
        let link = app.link_token(&keep).await;
        let renamed = app
            .patch(
                &format!("/v1/users/{id}"),
                &t.admin_token,
                json!({"name": "改名 した"}),
            )
            .await;
        assert_eq!(renamed.status, StatusCode::OK);
        assert_eq!(
            use_link(&app, &link, "the owner's new passphrase").await.0,
            StatusCode::NO_CONTENT
        );
        assert!(logs_in(&app, &t.slug, &keep, "the owner's new passphrase").await);
    }
);

both_backends!(
    setting_or_changing_a_password_voids_an_invitation_still_open,
    |app: App| async move {
        let t = app.onboard(10).await;
        // Three accounts, each with a generated password and an invitation re-issued on top of it.
        let mut accounts = Vec::new();
        for _ in 0..3 {
            let email = format!("{}@example.jp", unique("open-"));
            let u = app
                .post(
                    "/v1/users",
                    Some(&t.admin_token),
                    json!({"name": "招待 残り", "email": email, "delivery": "generated"}),
                )
                .await;
            assert_eq!(u.status, StatusCode::CREATED, "{u:?}");
            let id = r_str(&u.body["user"]["id"]);
            let generated = r_str(&u.body["initial_password"]);
            let inv = app
                .post(
                    &format!("/v1/users/{id}/credentials"),
                    Some(&t.admin_token),
                    json!({"delivery": "invite_link"}),
                )
                .await;
            assert_eq!(inv.status, StatusCode::ACCEPTED, "{inv:?}");
            let invitation = app.link_token(&email).await;
            accounts.push((id, email, generated, invitation));
        }
        // 1. The owner changes the password: the invitation no longer sets another one.
        let (_, email, generated, invitation) = &accounts[0];
        let s = app.login(&t.slug, email, generated).await;
        let changed = app
            .post(
                "/v1/me/password",
                Some(&s),
                json!({"current_password": generated, "new_password": "the owner's own passphrase"}),
            )
            .await;
        assert_eq!(changed.status, StatusCode::NO_CONTENT, "{changed:?}");
        assert_eq!(
            use_link(&app, invitation, "an old invitation's passphrase").await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        assert!(logs_in(&app, &t.slug, email, "the owner's own passphrase").await);
        assert!(!logs_in(&app, &t.slug, email, "an old invitation's passphrase").await);
        // 2. The owner sets a password with a reset link: the invitation dies too.
        let (_, email, _, invitation) = &accounts[1];
        app.post(
            "/v1/auth/password-reset",
            None,
            json!({"tenant": t.slug, "login": email}),
        )
        .await;
        let reset = app.link_token(email).await;
        assert_ne!(&reset, invitation);
        assert_eq!(
            use_link(&app, &reset, "reset by the owner").await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            use_link(&app, invitation, "an old invitation's passphrase").await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        // 3. An admin re-issues a generated password: the invitation dies too.
        let (id, email, _, invitation) = &accounts[2];
        let g = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "generated"}),
            )
            .await;
        assert_eq!(g.status, StatusCode::OK, "{g:?}");
        assert_eq!(
            use_link(&app, invitation, "an old invitation's passphrase").await,
            (StatusCode::BAD_REQUEST, "invalid_token".into())
        );
        assert!(logs_in(&app, &t.slug, email, &r_str(&g.body["initial_password"])).await);
    }
);
