//! The second factor (issue 22, first slice): TOTP enrolment through the API, the login's code step,
//! recovery codes, replay, challenge lifetime and throttling, on both backends.

use kanri_tests::{App, Resp, StatusCode, Tenant, both_backends, dump_store, r_str, unique};
use serde_json::json;
use totp_rs::{Algorithm, Builder, Secret};

const PASSWORD: &str = "Kanri-test-passw0rd!";

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The code an authenticator app shows at `t` for a base32 secret (SHA-1, 6 digits, 30 s).
pub(crate) fn code_at(secret: &str, t: u64) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("totp")
        .generate(t)
        .to_string()
}

/// Enrols and confirms the session's user: the secret and the recovery codes.
pub(crate) async fn enrol(app: &App, token: &str) -> (String, Vec<String>) {
    let r = app.post("/v1/me/mfa/totp", Some(token), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let secret = r_str(&r.body["secret"]);
    let uri = r_str(&r.body["otpauth_uri"]);
    assert!(
        uri.starts_with("otpauth://totp/Kanri:") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    let r = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(token),
            json!({"code": code_at(&secret, now_secs())}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(r_str)
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn password_step(app: &App, ip: &str, t: &Tenant) -> Resp {
    app.call_from(
        ip,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"tenant": t.slug, "login": t.admin_email, "password": PASSWORD})),
    )
    .await
}

/// The password step for a user with a second factor: its challenge.
async fn challenge(app: &App, ip: &str, t: &Tenant) -> String {
    let r = password_step(app, ip, t).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["mfa_required"], json!(true), "{r:?}");
    assert!(r.body.get("token").is_none(), "no session yet: {r:?}");
    r_str(&r.body["challenge"])
}

async fn code_step(app: &App, ip: &str, challenge: &str, code: &str) -> Resp {
    app.call_from(
        ip,
        "POST",
        "/v1/auth/login/mfa",
        None,
        Some(json!({"challenge": challenge, "code": code})),
    )
    .await
}

async fn audit_actions(app: &App, t: &Tenant) -> Vec<String> {
    let r = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| r_str(&e["action"]))
        .collect()
}

both_backends!(
    mfa_enrolment_makes_login_need_a_code_that_works_once,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("203.0.113.");
        let (secret, _) = enrol(&app, &t.admin_token).await;
        // Enrolling again while a factor is active is refused.
        let again = app
            .post("/v1/me/mfa/totp", Some(&t.admin_token), json!({}))
            .await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "mfa_already_enabled")
        );
        let ch = challenge(&app, &ip, &t).await;
        // A challenge is not a session.
        assert_eq!(
            app.get("/v1/me", &ch).await.status,
            StatusCode::UNAUTHORIZED
        );
        // The confirming code's step is used up; the next step's code (within the skew) signs in.
        let used = code_at(&secret, now_secs());
        let r = code_step(&app, &ip, &ch, &used).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_code")
        );
        let next = code_at(&secret, now_secs() + 30);
        let r = code_step(&app, &ip, &ch, &next).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let token = r_str(&r.body["token"]);
        assert!(r.body["expires_at"].is_string());
        assert_eq!(r.body["user"]["id"], json!(t.admin_id));
        let me = app.get("/v1/me", &token).await;
        assert_eq!(me.status, StatusCode::OK);
        // The challenge was used up by the success.
        let r = code_step(&app, &ip, &ch, &next).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_challenge")
        );
        // The same code again, on a new challenge: refused within its window.
        let ch2 = challenge(&app, &ip, &t).await;
        let r = code_step(&app, &ip, &ch2, &next).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_code")
        );
        // The secret is stored sealed, never as its base32 or raw form.
        let dump = dump_store(&app).await;
        assert!(!dump.contains(&secret));
        let actions = audit_actions(&app, &t).await;
        for a in ["user.mfa_enrol", "user.mfa_enable"] {
            assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
        }
        assert!(app.broken_invariants(&t.id).await.is_empty());
    }
);

both_backends!(
    mfa_a_wrong_confirming_code_activates_nothing,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("203.0.113.");
        // Nothing to confirm yet.
        let r = app
            .post(
                "/v1/me/mfa/totp/confirm",
                Some(&t.admin_token),
                json!({"code": "123456"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "mfa_not_pending")
        );
        let r = app
            .post("/v1/me/mfa/totp", Some(&t.admin_token), json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let secret = r_str(&r.body["secret"]);
        let right = code_at(&secret, now_secs());
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for code in [wrong, "12345", "abcdef"] {
            let r = app
                .post(
                    "/v1/me/mfa/totp/confirm",
                    Some(&t.admin_token),
                    json!({"code": code}),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
            assert_eq!(r.body["error"]["field"], json!("code"));
        }
        // A code of another window (ten minutes ago) is wrong too.
        let old = code_at(&secret, now_secs() - 600);
        if old != right {
            let r = app
                .post(
                    "/v1/me/mfa/totp/confirm",
                    Some(&t.admin_token),
                    json!({"code": old}),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
        }
        // Nothing is active: the password alone still signs in.
        let r = password_step(&app, &ip, &t).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body["token"].is_string() && r.body.get("mfa_required").is_none());
        // An unknown field is refused as everywhere.
        let r = app
            .post(
                "/v1/me/mfa/totp/confirm",
                Some(&t.admin_token),
                json!({"code": right, "extra": 1}),
            )
            .await;
        assert_eq!(r.code(), "invalid_request");
    }
);

both_backends!(
    mfa_a_user_without_a_second_factor_logs_in_as_before,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = password_step(&app, &unique("203.0.113."), &t).await;
        assert_eq!(r.status, StatusCode::OK);
        let mut keys: Vec<&String> = r.body.as_object().expect("object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["expires_at", "token", "user"]);
        let me = app.get("/v1/me", &t.admin_token).await;
        assert_eq!(me.body["mfa_enabled"], json!(false), "{me:?}");
        // The code step needs a challenge from a password step.
        let r = code_step(&app, &unique("203.0.113."), "no-such-challenge", "123456").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "invalid_challenge")
        );
        let r = app
            .call_from(
                &unique("203.0.113."),
                "POST",
                "/v1/auth/login/mfa",
                None,
                Some(json!({"challenge": "x"})),
            )
            .await;
        assert_eq!(r.code(), "invalid_request");
    }
);

both_backends!(
    mfa_a_recovery_code_works_once_and_failures_look_alike,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("203.0.113.");
        let (secret, codes) = enrol(&app, &t.admin_token).await;
        let ch = challenge(&app, &ip, &t).await;
        // Typed in capitals and with spaces, it is the same code.
        let typed = codes[3].replace('-', " ").to_uppercase();
        let r = code_step(&app, &ip, &ch, &typed).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert!(app.get("/v1/me", &r_str(&r.body["token"])).await.status == StatusCode::OK);
        let ch = challenge(&app, &ip, &t).await;
        let used = code_step(&app, &ip, &ch, &codes[3]).await;
        let right = code_at(&secret, now_secs());
        let wrong_totp = if right == "999999" {
            "888888"
        } else {
            "999999"
        };
        let wrong = code_step(&app, &ip, &ch, wrong_totp).await;
        let garbage = code_step(&app, &ip, &ch, "not-a-code").await;
        let other_user_like = code_step(&app, &ip, &ch, "abcd-efgh-jkmn").await;
        for r in [&used, &wrong, &garbage, &other_user_like] {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
            assert_eq!(r.body, used.body);
        }
        assert_eq!(used.code(), "invalid_code");
        // Another code of the set still works on the same challenge.
        let r = code_step(&app, &ip, &ch, &codes[9]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let actions = audit_actions(&app, &t).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "user.mfa_recovery_code_used")
                .count(),
            2,
            "{actions:?}"
        );
        // No code is stored as typed.
        let dump = dump_store(&app).await;
        for c in &codes {
            assert!(!dump.contains(c.as_str()));
        }
    }
);

both_backends!(
    mfa_a_challenge_expires_after_five_minutes,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("203.0.113.");
        let (secret, codes) = enrol(&app, &t.admin_token).await;
        let ch = challenge(&app, &ip, &t).await;
        // Six minutes later (the use case with a later clock), with the code of that moment: expired.
        let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(6);
        let late_code = code_at(&secret, later.unix_timestamp() as u64);
        let r = kanri::app::mfa::login(&app.svc, &ch, &late_code, &ip, later).await;
        assert!(
            matches!(r, Err(kanri::app::AppError::InvalidChallenge)),
            "{:?}",
            r.err()
        );
        let r = kanri::app::mfa::login(&app.svc, &ch, &codes[0], &ip, later).await;
        assert!(matches!(r, Err(kanri::app::AppError::InvalidChallenge)));
        // Four minutes later it is still good.
        let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(4);
        let r = kanri::app::mfa::login(&app.svc, &ch, &codes[0], &ip, soon).await;
        assert!(r.is_ok(), "{:?}", r.err());
        // And then used up.
        let r = code_step(&app, &ip, &ch, &codes[1]).await;
        assert_eq!(r.code(), "invalid_challenge");
    }
);

both_backends!(
    mfa_wrong_codes_are_throttled_per_user,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (secret, codes) = enrol(&app, &t.admin_token).await;
        let ip = unique("203.0.113.");
        let ch = challenge(&app, &ip, &t).await;
        let right = code_at(&secret, now_secs() + 30);
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        // Ten wrong codes, spread over addresses: each an alike 401.
        for _ in 0..10 {
            let r = code_step(&app, &unique("203.0.113."), &ch, wrong).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, "invalid_code"),
                "{r:?}"
            );
        }
        // Then the user is locked for the window, whatever the code or address or challenge.
        let r = code_step(&app, &unique("203.0.113."), &ch, &right).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
        assert!(r.headers.get("retry-after").is_some());
        let ch2 = challenge(&app, &ip, &t).await;
        let r = code_step(&app, &ip, &ch2, &codes[0]).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
        // The lock is the user's: another user of the tenant, from the same address, signs in.
        let other_email = format!("{}@example.co.jp", unique("u-"));
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "二 要素", "email": other_email, "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let other_token = app.accept_invitation(&t.slug, &other_email).await;
        let (other_secret, _) = enrol(&app, &other_token).await;
        let r = app
            .call_from(
                &ip,
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": t.slug, "login": other_email, "password": PASSWORD})),
            )
            .await;
        let other_ch = r_str(&r.body["challenge"]);
        let r = code_step(
            &app,
            &ip,
            &other_ch,
            &code_at(&other_secret, now_secs() + 30),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
);

both_backends!(mfa_removing_it_needs_the_password, |app: App| async move {
    let t = app.onboard(5).await;
    let ip = unique("203.0.113.");
    let (_, codes) = enrol(&app, &t.admin_token).await;
    let remove = |password: &'static str| {
        let app = &app;
        let token = t.admin_token.clone();
        async move {
            app.call(
                "DELETE",
                "/v1/me/mfa",
                Some(&token),
                Some(json!({"password": password})),
            )
            .await
        }
    };
    let r = remove("not the password").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.body["error"]["field"], json!("password"));
    let r = app
        .call(
            "DELETE",
            "/v1/me/mfa",
            Some(&t.admin_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    // Still active.
    let ch = challenge(&app, &ip, &t).await;
    let r = remove(PASSWORD).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    // The open challenge and the recovery codes died with it; the password alone signs in again.
    let r = code_step(&app, &ip, &ch, &codes[0]).await;
    assert_eq!(r.code(), "invalid_challenge");
    let r = password_step(&app, &ip, &t).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["token"].is_string(), "{r:?}");
    let r = remove(PASSWORD).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "mfa_not_enabled")
    );
    let actions = audit_actions(&app, &t).await;
    assert!(
        actions.iter().any(|a| a == "user.mfa_disable"),
        "{actions:?}"
    );
    // A new enrolment gives a new set; the old codes do not come back.
    let (secret, new_codes) = enrol(&app, &t.admin_token).await;
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    let ch = challenge(&app, &ip, &t).await;
    let r = code_step(&app, &ip, &ch, &codes[1]).await;
    assert_eq!(r.code(), "invalid_code");
    let r = code_step(&app, &ip, &ch, &code_at(&secret, now_secs() + 30)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
});

both_backends!(
    mfa_concurrent_confirms_and_code_steps_have_one_winner,
    |app: App| async move {
        let t = app.onboard(5).await;
        let ip = unique("203.0.113.");
        let r = app
            .post("/v1/me/mfa/totp", Some(&t.admin_token), json!({}))
            .await;
        let secret = r_str(&r.body["secret"]);
        let code = code_at(&secret, now_secs());
        let confirm = || {
            app.post(
                "/v1/me/mfa/totp/confirm",
                Some(&t.admin_token),
                json!({"code": code}),
            )
        };
        let (a, b) = tokio::join!(confirm(), confirm());
        let (won, lost) = if a.status == StatusCode::OK {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(won.status, StatusCode::OK, "{won:?}");
        assert_eq!(lost.status, StatusCode::CONFLICT, "{lost:?}");
        let codes: Vec<String> = won.body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(r_str)
            .collect();
        // The winner's codes are the ones stored.
        let ch = challenge(&app, &ip, &t).await;
        let r = code_step(&app, &ip, &ch, &codes[0]).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        // Two code steps with one code: one session.
        let ch1 = challenge(&app, &ip, &t).await;
        let ch2 = challenge(&app, &ip, &t).await;
        let next = code_at(&secret, now_secs() + 30);
        let (a, b) = tokio::join!(
            code_step(&app, &ip, &ch1, &next),
            code_step(&app, &ip, &ch2, &next)
        );
        let oks = [&a, &b]
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(oks, 1, "{a:?} {b:?}");
        let other = if a.status == StatusCode::OK { &b } else { &a };
        assert_eq!(other.code(), "invalid_code", "{other:?}");
        assert!(app.broken_invariants(&t.id).await.is_empty());
    }
);

both_backends!(
    mfa_a_user_disabled_after_the_password_step_cannot_complete_the_login,
    |app: App| async move {
        let t = app.onboard(5).await;
        let email = format!("{}@example.co.jp", unique("mfa-off-"));
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "二段 花子", "email": email, "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let user_id = r_str(&r.body["user"]["id"]);
        let session = app.accept_invitation(&t.slug, &email).await;
        let (secret, codes) = enrol(&app, &session).await;
        let password_step = |ip: &'static str| {
            let (app, slug, email) = (&app, t.slug.clone(), email.clone());
            async move {
                let r = app
                    .call_from(
                        ip,
                        "POST",
                        "/v1/auth/login",
                        None,
                        Some(json!({"tenant": slug, "login": email, "password": PASSWORD})),
                    )
                    .await;
                assert_eq!(r.body["mfa_required"], json!(true), "{r:?}");
                r_str(&r.body["challenge"])
            }
        };
        let by_code = password_step("198.51.100.71").await;
        let by_recovery = password_step("198.51.100.72").await;
        let r = app
            .post(
                &format!("/v1/users/{user_id}/disable"),
                Some(&t.admin_token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        // Neither a TOTP code nor a recovery code completes a challenge of a disabled user.
        let r = code_step(
            &app,
            "198.51.100.71",
            &by_code,
            &code_at(&secret, now_secs()),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        let r = code_step(&app, "198.51.100.72", &by_recovery, &codes[0]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        assert!(r.body.get("token").is_none(), "{r:?}");
    }
);
