//! Single sign-on (issue 21) at the API level, on both backends: the configuration routes (org admins only,
//! the secret sealed and never answered, an http issuer only on loopback), `required` mode, and the flow
//! against a fake identity provider in this process (discovery, JWKS, a token endpoint that checks the
//! client secret and the PKCE verifier) whose ID tokens the test signs, so that each part can be tampered
//! with: state, nonce, audience, issuer, signature, algorithm, expiry, a user of another tenant, a domain
//! not allowed, an unverified e-mail, a disabled user. Each gets its refusal, a 4xx page naming its code,
//! and no session.

use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::State;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kanri_tests::{App, Tenant, both_backends, dump_store, r_str};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "kanri-client";
const CLIENT_SECRET: &str = "the-client-secret-4711";
const DOMAIN: &str = "sso.example.co.jp";

/// An EC P-256 key: PKCS#8 for signing, and its public JWK.
struct TestKey {
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn test_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .unwrap()
        .as_ref()
        .to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
    let point = pair.public_key().as_ref();
    TestKey {
        jwk: json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
        pkcs8,
    }
}

fn sign(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(
        &h,
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.pkcs8),
    )
    .unwrap()
}

/// What the fake provider answers next, and what it saw.
#[derive(Default)]
struct Idp {
    issuer: String,
    jwks: Value,
    /// The ID token the token endpoint answers next.
    id_token: String,
    /// The code and PKCE challenge the next exchange must match.
    code: String,
    challenge: String,
    exchanges: usize,
}

type Shared = Arc<Mutex<Idp>>;

async fn discovery(State(s): State<Shared>) -> axum::Json<Value> {
    let iss = s.lock().unwrap().issuer.clone();
    axum::Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "jwks_uri": format!("{iss}/jwks"),
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
    }))
}

async fn jwks(State(s): State<Shared>) -> axum::Json<Value> {
    axum::Json(s.lock().unwrap().jwks.clone())
}

async fn token(
    State(s): State<Shared>,
    body: String,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let f: std::collections::HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut idp = s.lock().unwrap();
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let ok = f.get("grant_type").map(String::as_str) == Some("authorization_code")
        && f.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && f.get("code") == Some(&idp.code)
        && !idp.code.is_empty()
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == idp.challenge;
    if !ok {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        );
    }
    // A code is used once.
    idp.code.clear();
    idp.exchanges += 1;
    (
        axum::http::StatusCode::OK,
        axum::Json(json!({"id_token": idp.id_token, "access_token": "at", "token_type": "Bearer"})),
    )
}

/// Starts the fake provider on a loopback port; its issuer is its base URL.
async fn start_idp(key: &TestKey) -> Shared {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    {
        let mut idp = shared.lock().unwrap();
        idp.issuer = format!("http://{addr}");
        idp.jwks = json!({"keys": [key.jwk.clone()]});
    }
    shared
}

/// A client that does not follow redirects (the test reads each Location).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Started {
    state: String,
    nonce: String,
}

/// `GET /sso/start`: the provider's authorization URL, its state (also set as the cookie), nonce and PKCE
/// challenge (handed to the fake provider with a fresh code).
async fn start(app: &App, idp: &Shared, slug: &str) -> Started {
    let res = client()
        .get(format!("{}/sso/start?tenant={slug}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("kanri_sso="))
        .expect("the state cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let iss = idp.lock().unwrap().issuer.clone();
    assert!(
        location.starts_with(&format!("{iss}/authorize?")),
        "{location}"
    );
    let q: std::collections::HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], "http://kanri.test/sso/callback");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let state = q["state"].clone();
    assert_eq!(
        cookie,
        format!("kanri_sso={state}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax")
    );
    let mut i = idp.lock().unwrap();
    i.code = format!("code-{}", kanri_tests::unique(""));
    i.challenge = q["code_challenge"].clone();
    Started {
        state,
        nonce: q["nonce"].clone(),
    }
}

/// What a callback answered: the status, the page or the redirect, the session cookie if any.
struct Answer {
    status: StatusCode,
    location: String,
    body: String,
    session: Option<String>,
}

async fn callback(app: &App, idp: &Shared, state: &str, cookie: &str) -> Answer {
    let code = idp.lock().unwrap().code.clone();
    let res = client()
        .get(format!(
            "{}/sso/callback?code={code}&state={state}",
            app.base
        ))
        .header("cookie", format!("kanri_sso={cookie}"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find_map(|c| {
            c.strip_prefix("kanri_session=")
                .and_then(|r| r.split(';').next())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        });
    Answer {
        status,
        location,
        body: res.text().await.unwrap(),
        session,
    }
}

/// The claims of a good ID token for `email`.
fn claims(idp: &Shared, nonce: &str, email: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "iss": idp.lock().unwrap().issuer, "aud": CLIENT_ID, "sub": format!("sub-{email}"),
        "iat": now, "exp": now + 300, "nonce": nonce, "email": email, "email_verified": true,
    })
}

/// One sign-in whose ID token is `claims` after `tamper`, signed by `key` (the provider's unless a test
/// says otherwise).
async fn attempt(
    app: &App,
    idp: &Shared,
    key: &TestKey,
    slug: &str,
    email: &str,
    tamper: impl FnOnce(&mut Value),
) -> Answer {
    let s = start(app, idp, slug).await;
    let mut c = claims(idp, &s.nonce, email);
    tamper(&mut c);
    idp.lock().unwrap().id_token = sign(key, "k1", &c);
    callback(app, idp, &s.state, &s.state).await
}

fn refused(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{code}: {}", a.body);
    assert!(
        a.body.contains(&format!("エラーコード: {code}")),
        "{code}: {}",
        a.body
    );
    assert!(a.session.is_none(), "{code}: no session");
}

async fn user(app: &App, t: &Tenant, email: &str) -> String {
    let r = app
        .post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "社員 太郎", "email": email, "delivery": "invite_link"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r_str(&r.body["user"]["id"])
}

async fn configure(app: &App, t: &Tenant, idp: &Shared, mode: &str) {
    let iss = idp.lock().unwrap().issuer.clone();
    let r = app
        .call(
            "PUT",
            "/v1/tenant/sso",
            Some(&t.admin_token),
            Some(
                json!({"issuer": iss, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "display_name": "Entra ID", "allowed_domains": [DOMAIN], "mode": mode}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

both_backends!(
    configuration_is_for_org_admins_and_never_answers_the_secret,
    |app: App| async move {
        let t = app.onboard(5).await;
        let idp = start_idp(&test_key("k1")).await;
        let iss = idp.lock().unwrap().issuer.clone();
        let r = app.get("/v1/tenant/sso", &t.admin_token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        // The secret is required the first time.
        let body = json!({"issuer": iss, "client_id": CLIENT_ID, "display_name": "Okta"});
        let r = app
            .call(
                "PUT",
                "/v1/tenant/sso",
                Some(&t.admin_token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("client_secret")),
            "{r:?}"
        );
        // http only to a loopback address; no other scheme.
        for bad in [
            "http://idp.example.com",
            "ftp://127.0.0.1",
            "not a url",
            "https://",
        ] {
            let mut b = body.clone();
            b["issuer"] = json!(bad);
            b["client_secret"] = json!(CLIENT_SECRET);
            let r = app
                .call("PUT", "/v1/tenant/sso", Some(&t.admin_token), Some(b))
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::BAD_REQUEST, "invalid_request"),
                "{bad}: {r:?}"
            );
        }
        let mut b = body.clone();
        b["client_secret"] = json!(CLIENT_SECRET);
        b["mode"] = json!("sometimes");
        let r = app
            .call("PUT", "/v1/tenant/sso", Some(&t.admin_token), Some(b))
            .await;
        assert_eq!(r.body["error"]["field"], "mode", "{r:?}");
        assert_eq!(
            app.get("/v1/tenant/sso", &t.admin_token).await.status,
            StatusCode::NOT_FOUND
        );

        configure(&app, &t, &idp, "optional").await;
        let r = app.get("/v1/tenant/sso", &t.admin_token).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["client_secret_set"], true);
        assert_eq!(r.body["redirect_uri"], "http://kanri.test/sso/callback");
        assert_eq!(r.body["allowed_domains"], json!([DOMAIN]));
        assert!(!r.body.to_string().contains(CLIENT_SECRET));
        // Saved again without a secret: the stored one stays.
        let r = app
            .call(
                "PUT",
                "/v1/tenant/sso",
                Some(&t.admin_token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["claim"], "email");
        // Sealed at rest.
        assert!(
            !dump_store(&app).await.contains(CLIENT_SECRET),
            "the secret is stored sealed"
        );

        // Not for a user who may edit settings but is no org admin.
        let r = app
        .post("/v1/users", Some(&t.admin_token),
            json!({"name": "設定 係", "login_id": "settings-clerk", "delivery": "generated", "role_id": "admin"}))
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let pw = r_str(&r.body["initial_password"]);
        let clerk = app.login(&t.slug, "settings-clerk", &pw).await;
        let c = app
            .post(
                "/v1/me/password",
                Some(&clerk),
                json!({"current_password": pw, "new_password": "settings clerk passphrase"}),
            )
            .await;
        assert_eq!(c.status, StatusCode::NO_CONTENT, "{c:?}");
        assert_eq!(
            app.get("/v1/users", &clerk).await.status,
            StatusCode::OK,
            "the clerk may edit settings"
        );
        let r = app.call("PUT", "/v1/tenant/sso", Some(&clerk),
        Some(json!({"issuer": iss, "client_id": "x", "client_secret": "y", "display_name": "z"}))).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{r:?}"
        );
        assert_eq!(
            app.get("/v1/tenant/sso", &clerk).await.status,
            StatusCode::FORBIDDEN
        );
        let r = app
            .call("DELETE", "/v1/tenant/sso", Some(&clerk), None)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // In the operation log.
        let log = app.get("/v1/audit-log?limit=100", &t.admin_token).await;
        let actions: Vec<&str> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "tenant.sso_update")
                .count(),
            2,
            "{actions:?}"
        );
        let r = app
            .call("DELETE", "/v1/tenant/sso", Some(&t.admin_token), None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = app
            .call("DELETE", "/v1/tenant/sso", Some(&t.admin_token), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let log = app.get("/v1/audit-log?limit=100", &t.admin_token).await;
        assert!(
            log.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "tenant.sso_delete")
        );
    }
);

both_backends!(
    required_mode_refuses_a_non_admin_password_login,
    |app: App| async move {
        let t = app.onboard(5).await;
        let idp = start_idp(&test_key("k1")).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "社員 一郎", "login_id": "ichiro", "delivery": "generated"}),
            )
            .await;
        let password = r_str(&r.body["initial_password"]);
        configure(&app, &t, &idp, "optional").await;
        app.login(&t.slug, "ichiro", &password).await;
        configure(&app, &t, &idp, "required").await;
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": "ichiro", "password": password}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "sso_required"),
            "{r:?}"
        );
        // A wrong password still answers as before: only the password's holder learns of the mode.
        let r = app
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": t.slug, "login": "ichiro", "password": "wrong password 1"}),
            )
            .await;
        assert_eq!(r.code(), "invalid_credentials");
        // Org admins keep their password.
        app.login(&t.slug, &t.admin_email, "Kanri-test-passw0rd!")
            .await;
    }
);

both_backends!(
    the_flow_signs_in_and_each_tampered_part_is_refused,
    |app: App| async move {
        let t = app.onboard(10).await;
        let other = app.onboard(5).await;
        let key = test_key("k1");
        let idp = start_idp(&key).await;
        configure(&app, &t, &idp, "optional").await;
        let taro = format!("taro@{DOMAIN}");
        let taro_id = user(&app, &t, &taro).await;
        let saburo = format!("saburo@{DOMAIN}");
        let saburo_id = user(&app, &t, &saburo).await;
        let r = app
            .post(
                &format!("/v1/users/{saburo_id}/disable"),
                Some(&t.admin_token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        user(&app, &other, &format!("jiro@{DOMAIN}")).await;
        user(&app, &t, "outsider@elsewhere.example.com").await;

        // The good path: a session as after a password login.
        let a = attempt(&app, &idp, &key, &t.slug, &taro, |_| {}).await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (StatusCode::SEE_OTHER, "/account"),
            "{}",
            a.body
        );
        let session = a.session.expect("a session cookie");
        let me = app.get("/v1/me", &session).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(r_str(&me.body["id"]), taro_id);

        // Wrong state, a state not this browser's, a replayed state.
        let s = start(&app, &idp, &t.slug).await;
        idp.lock().unwrap().id_token = sign(&key, "k1", &claims(&idp, &s.nonce, &taro));
        refused(
            &callback(&app, &idp, "bogus-state", "bogus-state").await,
            StatusCode::BAD_REQUEST,
            "sso_state_invalid",
        );
        refused(
            &callback(&app, &idp, &s.state, "another-browser").await,
            StatusCode::BAD_REQUEST,
            "sso_state_invalid",
        );
        let first = callback(&app, &idp, &s.state, &s.state).await;
        assert!(first.session.is_some(), "{}", first.body);
        idp.lock().unwrap().code = "code-again".into();
        refused(
            &callback(&app, &idp, &s.state, &s.state).await,
            StatusCode::BAD_REQUEST,
            "sso_state_invalid",
        );
        assert_eq!(
            idp.lock().unwrap().exchanges,
            2,
            "a refused state exchanges no code"
        );

        // The provider's error, and a code it will not exchange.
        let s = start(&app, &idp, &t.slug).await;
        let res = client()
            .get(format!(
                "{}/sso/callback?error=access_denied&state={}",
                app.base, s.state
            ))
            .header("cookie", format!("kanri_sso={}", s.state))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().await.unwrap().contains("access_denied"));
        let s = start(&app, &idp, &t.slug).await;
        idp.lock().unwrap().code = "another-code".into();
        let res = client()
            .get(format!(
                "{}/sso/callback?code=stolen&state={}",
                app.base, s.state
            ))
            .header("cookie", format!("kanri_sso={}", s.state))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("sso_code_exchange_failed")
        );

        // The ID token's checks.
        let slug = t.slug.as_str();
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["nonce"] = json!("another-nonce")
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_nonce");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c.as_object_mut().unwrap().remove("nonce");
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_nonce");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["aud"] = json!("another-client")
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_audience");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["aud"] = json!([CLIENT_ID, "another-client"]);
            c["azp"] = json!("another-client");
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_audience");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["iss"] = json!("https://evil.example.com")
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_issuer");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["iat"] = json!(now - 7200);
            c["exp"] = json!(now - 3600);
        })
        .await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_expired");
        // Signed by another key under the provider's key id.
        let forger = test_key("k1");
        let a = attempt(&app, &idp, &forger, slug, &taro, |_| {}).await;
        refused(&a, StatusCode::UNAUTHORIZED, "sso_token_signature");
        // HS256 keyed with the client secret (an algorithm confusion): refused before any key is tried.
        let s = start(&app, &idp, slug).await;
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims(&idp, &s.nonce, &taro),
            &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        )
        .unwrap();
        idp.lock().unwrap().id_token = hs;
        refused(
            &callback(&app, &idp, &s.state, &s.state).await,
            StatusCode::UNAUTHORIZED,
            "sso_token_signature",
        );

        // The account: of another tenant, outside the domains, unverified, disabled.
        let a = attempt(&app, &idp, &key, slug, &format!("jiro@{DOMAIN}"), |_| {}).await;
        refused(&a, StatusCode::FORBIDDEN, "sso_no_account");
        let a = attempt(
            &app,
            &idp,
            &key,
            slug,
            "outsider@elsewhere.example.com",
            |_| {},
        )
        .await;
        refused(&a, StatusCode::FORBIDDEN, "sso_domain_not_allowed");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c["email_verified"] = json!(false)
        })
        .await;
        refused(&a, StatusCode::FORBIDDEN, "sso_email_unverified");
        let a = attempt(&app, &idp, &key, slug, &taro, |c| {
            c.as_object_mut().unwrap().remove("email_verified");
        })
        .await;
        refused(&a, StatusCode::FORBIDDEN, "sso_email_unverified");
        let a = attempt(&app, &idp, &key, slug, &saburo, |_| {}).await;
        refused(&a, StatusCode::FORBIDDEN, "sso_user_disabled");

        // A tenant without single sign-on, and an unknown one, answer alike.
        let r = client()
            .get(format!("{}/sso/start?tenant={}", app.base, other.slug))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = client()
            .get(format!("{}/sso/start?tenant=no-such-tenant", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // Every refusal once the tenant was known is in its operation log, and the successes too.
        let log = app.get("/v1/audit-log?limit=100", &t.admin_token).await;
        let items = log.body["items"].as_array().unwrap();
        let failed: Vec<&str> = items
            .iter()
            .filter(|e| e["action"] == "sso.login_failed")
            .map(|e| e["target"]["id"].as_str().unwrap())
            .collect();
        for code in [
            "sso_provider_error",
            "sso_code_exchange_failed",
            "sso_token_nonce",
            "sso_token_audience",
            "sso_token_issuer",
            "sso_token_expired",
            "sso_token_signature",
            "sso_no_account",
            "sso_domain_not_allowed",
            "sso_email_unverified",
            "sso_user_disabled",
        ] {
            assert!(failed.contains(&code), "{code} in {failed:?}");
        }
        assert!(
            items
                .iter()
                .filter(|e| e["action"] == "sso.login_failed")
                .all(|e| e["result"] == "failure")
        );
        assert_eq!(
            items
                .iter()
                .filter(|e| e["action"] == "user.sso_login")
                .count(),
            2
        );
    }
);
