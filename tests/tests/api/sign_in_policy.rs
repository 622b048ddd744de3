//! The tenant's sign-in policy (issue 22, second half): only org admins read and change it, bad input
//! changes nothing, and each setting is enforced at login and on the next request of sessions already open
//! (IP allow-list, second factor, session lifetime, idle timeout, password length), on both backends.

use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret};

use kanri::app::AppError;
use kanri::app::principal;
use kanri_tests::{App, Resp, StatusCode, Tenant, both_backends, r_str, unique};

const PASSWORD: &str = "Kanri-test-passw0rd!";
/// The address every request of the test client comes from unless it says otherwise.
const HOME: &str = "198.51.100.1";

const POLICY: &str = "/v1/tenant/sign-in-policy";

fn policy(overrides: Value) -> Value {
    let mut p = json!({
        "second_factor": "off",
        "password_min_length": 8,
        "session_lifetime_minutes": null,
        "idle_timeout_minutes": null,
        "ip_allowlist": [],
    });
    for (k, v) in overrides.as_object().expect("object") {
        p[k] = v.clone();
    }
    p
}

async fn put_policy(app: &App, token: &str, body: Value) -> Resp {
    app.call("PUT", POLICY, Some(token), Some(body)).await
}

async fn put_from(app: &App, ip: &str, token: &str, body: Value) -> Resp {
    app.call_from(ip, "PUT", POLICY, Some(token), Some(body))
        .await
}

async fn get_from(app: &App, ip: &str, path: &str, token: &str) -> Resp {
    app.call_from(ip, "GET", path, Some(token), None).await
}

async fn login_from(app: &App, ip: &str, slug: &str, login: &str, password: &str) -> Resp {
    app.call_from(
        ip,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"tenant": slug, "login": login, "password": password})),
    )
    .await
}

/// A user with `role_id` who has set their password: (id, login id, session token).
async fn member(app: &App, t: &Tenant, role_id: &str) -> (String, String, String) {
    let login_id = unique("m-");
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "社員 花子", "login_id": login_id, "delivery": "generated", "role_id": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r_str(&r.body["user"]["id"]);
    let first = r_str(&r.body["initial_password"]);
    let token = app.login(&t.slug, &login_id, &first).await;
    let r = app
        .post(
            "/v1/me/password",
            Some(&token),
            json!({"current_password": first, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    (id, login_id, token)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn code_at(secret: &str, t: u64) -> String {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(Secret::try_from_base32(secret).expect("base32 secret"))
        .build()
        .expect("totp")
        .generate(t)
        .to_string()
}

/// Enrols and confirms a TOTP factor with the session's user.
async fn enrol(app: &App, token: &str) {
    let r = app.post("/v1/me/mfa/totp", Some(token), json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let secret = r_str(&r.body["secret"]);
    let r = app
        .post(
            "/v1/me/mfa/totp/confirm",
            Some(token),
            json!({"code": code_at(&secret, now_secs())}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

both_backends!(
    sign_in_policy_only_org_admins_read_and_change_it_and_bad_input_changes_nothing,
    |app: App| async move {
        let t = app.onboard(5).await;
        let r = app.get(POLICY, &t.admin_token).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["second_factor"], "off");
        assert_eq!(r.body["password_min_length"], 8);
        assert_eq!(r.body["session_lifetime_minutes"], Value::Null);
        assert_eq!(r.body["idle_timeout_minutes"], Value::Null);
        assert_eq!(r.body["ip_allowlist"], json!([]));
        assert_eq!(r.body["service_session_lifetime_minutes"], 720);
        let before = r.body;

        // A user with every feature but not an org admin may neither read nor change it.
        let (_, _, admin_role) = member(&app, &t, "admin").await;
        let r = app.get(POLICY, &admin_role).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
        let r = put_policy(
            &app,
            &admin_role,
            policy(json!({"second_factor": "everyone"})),
        )
        .await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));

        for (body, field) in [
            (
                policy(json!({"second_factor": "sometimes"})),
                "second_factor",
            ),
            (
                policy(json!({"password_min_length": 7})),
                "password_min_length",
            ),
            (
                policy(json!({"password_min_length": 65})),
                "password_min_length",
            ),
            (
                policy(json!({"session_lifetime_minutes": 14})),
                "session_lifetime_minutes",
            ),
            (
                policy(json!({"session_lifetime_minutes": 43_201})),
                "session_lifetime_minutes",
            ),
            (
                policy(json!({"idle_timeout_minutes": 4})),
                "idle_timeout_minutes",
            ),
            (
                policy(json!({"session_lifetime_minutes": 30, "idle_timeout_minutes": 30})),
                "idle_timeout_minutes",
            ),
            (
                policy(json!({"ip_allowlist": ["10.0.0.1/8"]})),
                "ip_allowlist",
            ),
            (
                policy(json!({"ip_allowlist": ["198.51.100.0/24", "intranet"]})),
                "ip_allowlist",
            ),
            (
                policy(json!({"ip_allowlist": ["2001:db8::/129"]})),
                "ip_allowlist",
            ),
            (
                policy(json!({"ip_allowlist": vec!["198.51.100.1"; 101]})),
                "ip_allowlist",
            ),
        ] {
            let r = put_policy(&app, &t.admin_token, body.clone()).await;
            assert_eq!(
                (r.status, r.code(), r.body["error"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, "invalid_request", Some(field)),
                "{body}: {r:?}"
            );
        }
        // Malformed bodies: a missing field, a wrong type, an unknown key.
        for body in [
            json!({"second_factor": "off", "password_min_length": 8}),
            policy(json!({"password_min_length": "twelve"})),
            policy(json!({"remember_me": true})),
        ] {
            let r = put_policy(&app, &t.admin_token, body.clone()).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{body}: {r:?}"
            );
        }
        assert_eq!(app.get(POLICY, &t.admin_token).await.body, before);

        let wanted = policy(json!({
            "second_factor": "admins",
            "password_min_length": 12,
            "session_lifetime_minutes": 480,
            "idle_timeout_minutes": 30,
            "ip_allowlist": ["198.51.100.0/24", " 2001:DB8::/32 ", "203.0.113.7", "198.51.100.0/24"],
        }));
        let r = put_policy(&app, &t.admin_token, wanted).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        // In force at once: this admin has no second factor yet, so the session may only enrol one.
        let refused = app.get(POLICY, &t.admin_token).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "mfa_enrolment_required")
        );
        enrol(&app, &t.admin_token).await;
        let saved = app.get(POLICY, &t.admin_token).await.body;
        assert_eq!(saved, r.body);
        assert_eq!(saved["second_factor"], "admins");
        assert_eq!(saved["password_min_length"], 12);
        assert_eq!(saved["session_lifetime_minutes"], 480);
        assert_eq!(saved["idle_timeout_minutes"], 30);
        assert_eq!(
            saved["ip_allowlist"],
            json!(["198.51.100.0/24", "2001:db8::/32", "203.0.113.7/32"])
        );
        let log = app.get("/v1/audit-log?limit=200", &t.admin_token).await;
        let changes = log.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["action"] == "tenant.sign_in_policy")
            .count();
        assert_eq!(changes, 1, "{log:?}");
    }
);

both_backends!(
    sign_in_policy_ip_allowlist_is_enforced_at_login_and_on_the_next_request_of_every_session,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (_, login_id, token) = member(&app, &t, "member").await;
        let away = "203.0.113.5";
        assert_eq!(
            get_from(&app, away, "/v1/me", &token).await.status,
            StatusCode::OK
        );

        // A list without the admin's own address is refused unless confirmed; nothing changes.
        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"ip_allowlist": ["203.0.113.0/24"]})),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "self_lockout"),
            "{r:?}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(HOME),
            "{r:?}"
        );
        assert_eq!(
            app.get(POLICY, &t.admin_token).await.body["ip_allowlist"],
            json!([])
        );

        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"ip_allowlist": ["198.51.100.0/24", "2001:db8::/32"]})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");

        // The session opened from outside is refused on its very next request, wherever it goes.
        for path in ["/v1/me", "/v1/tenant"] {
            let r = get_from(&app, away, path, &token).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "ip_not_allowed"),
                "{r:?}"
            );
        }
        // The same session from inside the list (IPv4 and IPv6) works.
        assert_eq!(
            get_from(&app, "198.51.100.200", "/v1/me", &token)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            get_from(&app, "2001:db8:0:1::9", "/v1/me", &token)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            get_from(&app, "2001:db9::1", "/v1/me", &token).await.code(),
            "ip_not_allowed"
        );

        // At login from outside: refused before the password is looked at, known account or not.
        for (login, password) in [
            (login_id.as_str(), PASSWORD),
            (login_id.as_str(), "wrong-password-1"),
            ("nobody-here", PASSWORD),
        ] {
            let r = login_from(&app, away, &t.slug, login, password).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "ip_not_allowed"),
                "{login}: {r:?}"
            );
            assert!(r.body.get("token").is_none());
        }
        let r = login_from(&app, "2001:db8::1", &t.slug, &login_id, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");

        // Confirmed, the admin may shut themselves out: their next request is refused too.
        let r = put_from(
            &app,
            HOME,
            &t.admin_token,
            policy(json!({"ip_allowlist": ["203.0.113.0/24"], "confirm_self_lockout": true})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.code(),
            "ip_not_allowed"
        );
        assert_eq!(
            get_from(&app, away, "/v1/me", &token).await.status,
            StatusCode::OK
        );
        // And from the allowed network the admin can open it up again.
        let r = put_from(&app, away, &t.admin_token, policy(json!({}))).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.status,
            StatusCode::OK
        );
    }
);

both_backends!(
    sign_in_policy_second_factor_requirement_limits_sessions_to_enrolment_until_one_is_enrolled,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (_, login_id, token) = member(&app, &t, "member").await;
        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"second_factor": "admins"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");

        // The admin's open session, on its next request, may only enrol.
        let r = app.get("/v1/users", &t.admin_token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "mfa_enrolment_required"),
            "{r:?}"
        );
        let r = app.get(POLICY, &t.admin_token).await;
        assert_eq!(r.code(), "mfa_enrolment_required");
        let me = app.get("/v1/me", &t.admin_token).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["mfa_enrolment_required"], true);
        // A member is not concerned by `admins`.
        let me = app.get("/v1/me", &token).await;
        assert_eq!(me.body["mfa_enrolment_required"], false);
        assert_eq!(app.get("/v1/tenant", &token).await.status, StatusCode::OK);

        // Once enrolled, the same session goes on.
        enrol(&app, &t.admin_token).await;
        assert_eq!(
            app.get("/v1/users", &t.admin_token).await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.get("/v1/me", &t.admin_token).await.body["mfa_enrolment_required"],
            false
        );

        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"second_factor": "everyone"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let r = app.get("/v1/tenant", &token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "mfa_enrolment_required"),
            "{r:?}"
        );
        // A new login answers a session limited to enrolment.
        let r = login_from(&app, HOME, &t.slug, &login_id, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["mfa_enrolment_required"], true, "{r:?}");
        let limited = r_str(&r.body["token"]);
        for (method, path) in [
            ("GET", "/v1/tenant"),
            ("GET", "/v1/groups"),
            ("GET", "/v1/notices"),
            ("DELETE", "/v1/me/mfa"),
        ] {
            let r = app.call(method, path, Some(&limited), None).await;
            assert_eq!(r.code(), "mfa_enrolment_required", "{method} {path}: {r:?}");
        }
        let r = app.post("/v1/me/mfa/totp", Some(&limited), json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let r = app.post("/v1/auth/logout", Some(&limited), json!({})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        assert_eq!(
            app.get("/v1/me", &limited).await.status,
            StatusCode::UNAUTHORIZED
        );

        // Switched off again, the old session is a full one at its next request.
        let r = put_policy(&app, &t.admin_token, policy(json!({}))).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(app.get("/v1/tenant", &token).await.status, StatusCode::OK);
    }
);

both_backends!(
    sign_in_policy_session_lifetime_and_idle_timeout_end_sessions_already_open,
    |app: App| async move {
        let t = app.onboard(5).await;
        let (_, login_id, token) = member(&app, &t, "member").await;
        let now = kanri::domain::time::now();
        let min = time::Duration::minutes;
        let dead =
            |r: Result<principal::Principal, AppError>| matches!(r, Err(AppError::Unauthenticated));
        // The service's 12 hours.
        assert!(
            principal::authenticate(&app.svc, &token, now + min(60))
                .await
                .is_ok()
        );

        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"session_lifetime_minutes": 15})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        // The session opened before the change is held to it from its next request.
        assert_eq!(app.get("/v1/me", &token).await.status, StatusCode::OK);
        assert!(
            principal::authenticate(&app.svc, &token, now + min(14))
                .await
                .is_ok()
        );
        assert!(dead(
            principal::authenticate(&app.svc, &token, now + min(16)).await
        ));
        // A new login says so.
        let r = login_from(&app, HOME, &t.slug, &login_id, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let expires = time::OffsetDateTime::parse(
            r.body["expires_at"].as_str().expect("expires_at"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("rfc 3339");
        let left = expires - kanri::domain::time::now();
        assert!(left <= min(15) && left > min(14), "{left}");

        // Idle timeout of 10 minutes: a session used within it goes on, one left alone ends.
        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"idle_timeout_minutes": 10})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let used = token.clone();
        let idle = app.login(&t.slug, &login_id, PASSWORD).await;
        let now = kanri::domain::time::now();
        assert!(
            principal::authenticate(&app.svc, &used, now + min(9))
                .await
                .is_ok()
        );
        assert!(
            principal::authenticate(&app.svc, &used, now + min(18))
                .await
                .is_ok()
        );
        assert!(dead(
            principal::authenticate(&app.svc, &used, now + min(29)).await
        ));
        assert!(dead(
            principal::authenticate(&app.svc, &idle, now + min(11)).await
        ));
        // Within a tenth of the timeout nothing is written: the last-seen time stays where it was.
        let fresh = app.login(&t.slug, &login_id, PASSWORD).await;
        let now = kanri::domain::time::now();
        assert!(
            principal::authenticate(&app.svc, &fresh, now + time::Duration::seconds(50))
                .await
                .is_ok()
        );
        assert!(dead(
            principal::authenticate(&app.svc, &fresh, now + min(10) + time::Duration::seconds(5))
                .await
        ));
    }
);

both_backends!(
    sign_in_policy_minimum_password_length_holds_wherever_a_password_is_set,
    |app: App| async move {
        let t = app.onboard(6).await;
        let (id, _, token) = member(&app, &t, "member").await;
        let r = put_policy(
            &app,
            &t.admin_token,
            policy(json!({"password_min_length": 20})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let short = "Kanri-short-pw-19ch";
        assert_eq!(short.chars().count(), 19);
        let long = "Kanri-longer-passw0rd!";

        // Changing one's password.
        let r = app
            .post(
                "/v1/me/password",
                Some(&token),
                json!({"current_password": PASSWORD, "new_password": short}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "weak_password"),
            "{r:?}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("at least 20"),
            "{r:?}"
        );
        let r = app
            .post(
                "/v1/me/password",
                Some(&token),
                json!({"current_password": PASSWORD, "new_password": long}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        // The common-password check stays.
        let r = app
            .post(
                "/v1/me/password",
                Some(&token),
                json!({"current_password": long, "new_password": "q1w2e3r4t5y6u7i8o9p0"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "weak_password"),
            "{r:?}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("common"),
            "{r:?}"
        );

        // An invitation link.
        let email = format!("{}@example.jp", unique("inv-"));
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "招待 一郎", "email": email, "delivery": "invite_link"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let link = app.link_token(&email).await;
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": link, "password": short}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "weak_password"),
            "{r:?}"
        );
        let r = app
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": link, "password": long}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

        // Generated passwords are made long enough: at registration, re-issue and CSV import.
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "発行 次郎", "login_id": unique("g-"), "delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(
            r_str(&r.body["initial_password"]).chars().count(),
            20,
            "{r:?}"
        );
        let r = app
            .post(
                &format!("/v1/users/{id}/credentials"),
                Some(&t.admin_token),
                json!({"delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            r_str(&r.body["initial_password"]).chars().count(),
            20,
            "{r:?}"
        );
        let csv = format!(
            "name,email,login_id,role,groups\r\n取込 三郎,,{},,\r\n",
            unique("c-")
        );
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv",
                csv.into_bytes(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            r_str(&r.body["users"][0]["initial_password"])
                .chars()
                .count(),
            20,
            "{r:?}"
        );

        // Below the global floor nothing changes: 8 stays the least.
        let r = put_policy(&app, &t.admin_token, policy(json!({}))).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "発行 四郎", "login_id": unique("g-"), "delivery": "generated"}),
            )
            .await;
        assert_eq!(
            r_str(&r.body["initial_password"]).chars().count(),
            16,
            "{r:?}"
        );
    }
);
