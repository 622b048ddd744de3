//! The in-process parts of `make bench` (bench/run.sh drives everything; see BENCHMARKS.md):
//!
//!   kanri-bench argon2 [N]    N timings (ms) of one argon2id hash with the production parameters
//!                             (`kanri::crypto::hash_password_blocking`), as JSON.
//!   kanri-bench aws-requests  starts the app in this process on the AWS backend against an emulator
//!                             (moto), calls every route of the route table on a warm tenant (the pages as
//!                             a browser, SCIM with a SCIM token: bench/src/every_route.rs) and prints, as
//!                             JSON, the AWS requests each call sent (counted by
//!                             `kanri::adapters::aws::metrics`, a call's background tasks with it); fails,
//!                             naming them, when routes of `kanri::http::routes::table()` were not called.
//!   kanri-bench bulk-requests [USERS] [MEMBERS] [GROUPS]
//!                             the same counting for the bulk operations of one tenant: a CSV import of
//!                             USERS rows (default 10000), adding MEMBERS of them to one group (1000),
//!                             creating GROUPS groups in one request (1000), then the contract ended today
//!                             and `POST /v1/ops/jobs/purge` as of 100 days later, repeated until it is gone.
//!   kanri-bench notice-fanout aws|embedded [SUBSCRIBERS] [TENANTS]
//!                             a release notice mailed to SUBSCRIBERS users (default 10000) spread over
//!                             TENANTS tenants (4), users and subscriptions written straight into the store;
//!                             this process plays the worker (`kanri::worker::run_task`, 4 tasks at once as
//!                             the local server's worker) from `notices::publish` until no task is left:
//!                             wall time and, on aws, the AWS requests. `embedded` runs on the local
//!                             server's store and outbox in a fresh data dir.
//!   kanri-bench import-requests [ROWS]
//!                             a background import (`POST /v1/uploads`, PUT, `import_jobs::start`) of ROWS
//!                             short user rows (2000) on aws, this process playing the worker: the AWS
//!                             requests from the start of the import to its end.
//!
//! `aws-requests`, `bulk-requests`, `import-requests` and `notice-fanout aws` need KANRI_COUNT_AWS_REQUESTS=1, KANRI_BENCH_AWS_ENDPOINT (moto's URL) and the
//! provisioned KANRI_TABLE, KANRI_LOG_TABLE, KANRI_KEYS_TABLE, KANRI_KMS_KEY_ID (infra/provision.py prints them).

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;

mod every_route;

use base64::Engine as _;
use kanri::adapters::aws::metrics;
use kanri::config::{Backend, Config};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, Error>;

fn err(msg: impl Into<String>) -> Error {
    msg.into().into()
}

fn var(name: &str) -> Res<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| err(format!("{name} is not set")))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("argon2") => argon2(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(30)),
        Some("aws-requests") => aws_requests().await,
        Some("bulk-requests") => {
            let n = |i: usize, default: usize| {
                args.get(i).and_then(|n| n.parse().ok()).unwrap_or(default)
            };
            bulk_requests(n(1, 10_000), n(2, 1000), n(3, 1000)).await
        }
        Some("notice-fanout") => {
            let n = |i: usize, default: usize| {
                args.get(i).and_then(|n| n.parse().ok()).unwrap_or(default)
            };
            notice_fanout(args.get(1).map(String::as_str), n(2, 10_000), n(3, 4)).await
        }
        Some("import-requests") => {
            import_requests(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(2000)).await
        }
        _ => Err(err(
            "usage: kanri-bench argon2 [N] | kanri-bench aws-requests \
             | kanri-bench bulk-requests [USERS] [MEMBERS] [GROUPS] \
             | kanri-bench notice-fanout aws|embedded [SUBSCRIBERS] [TENANTS] \
             | kanri-bench import-requests [ROWS]",
        )),
    };
    match result {
        Ok(out) => {
            println!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kanri-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

// ---- argon2 ----------------------------------------------------------------------------------------------

fn argon2(n: usize) -> Res<Value> {
    let password = secrecy::SecretString::from("correct horse battery staple 42".to_owned());
    // Warm-up: page in the 19 MiB the first hashes allocate.
    for _ in 0..3 {
        kanri::crypto::hash_password_blocking(&password).map_err(|e| err(e.to_string()))?;
    }
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let t = Instant::now();
        kanri::crypto::hash_password_blocking(&password).map_err(|e| err(e.to_string()))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(json!({
        "m_kib": kanri::crypto::ARGON2_M_KIB,
        "t": kanri::crypto::ARGON2_T,
        "p": kanri::crypto::ARGON2_P,
        "ms": ms,
    }))
}

// ---- AWS requests per endpoint ---------------------------------------------------------------------------

struct Api {
    base: String,
    http: reqwest::Client,
    operator: String,
    /// Requests sent through this client (measured or not).
    sent: std::sync::atomic::AtomicU64,
}

struct Resp {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

/// A request body: none, JSON, a CSV file (`text/csv`), a SCIM document (`application/scim+json`), a
/// browser's form (urlencoded), or a browser's file upload (multipart: text fields, then the file).
enum Body {
    Empty,
    Json(Value),
    Csv(String),
    Scim(Value),
    Form(Vec<(String, String)>),
    Multipart {
        fields: Vec<(String, String)>,
        filename: String,
        bytes: Vec<u8>,
    },
}

/// Who a request is from: nobody, a bearer token (a session, the operator, a SCIM token), or a browser's
/// cookies (`kanri_session=…; kanri_csrf=…`).
#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    Cookie(String),
}

impl From<Option<&str>> for Auth {
    fn from(t: Option<&str>) -> Self {
        t.map_or(Auth::None, |t| Auth::Bearer(t.to_owned()))
    }
}

impl From<Option<Value>> for Body {
    fn from(b: Option<Value>) -> Self {
        b.map_or(Body::Empty, Body::Json)
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res<Resp> {
        self.send(method, path, token, body.into()).await
    }

    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Res<Resp> {
        self.send_as(method, path, &token.into(), body).await
    }

    async fn send_as(&self, method: &str, path: &str, auth: &Auth, body: Body) -> Res<Resp> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.bearer_auth(t),
            Auth::Cookie(c) => req = req.header("cookie", c),
        }
        match body {
            Body::Empty => {}
            Body::Json(b) => req = req.json(&b),
            Body::Csv(text) => req = req.header("content-type", "text/csv").body(text),
            Body::Scim(b) => {
                req = req
                    .header("content-type", "application/scim+json")
                    .body(b.to_string())
            }
            Body::Form(fields) => {
                req = req
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form_encode(&fields))
            }
            Body::Multipart {
                fields,
                filename,
                bytes,
            } => {
                let b = "kanri-bench-boundary-7f3a9c";
                let mut out = Vec::new();
                for (k, v) in &fields {
                    out.extend_from_slice(
                        format!(
                            "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                        )
                        .as_bytes(),
                    );
                }
                // No file name: a form of text fields only (the import's confirm form).
                if !filename.is_empty() {
                    out.extend_from_slice(
                        format!(
                            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                             Content-Type: text/csv\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&bytes);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
                req = req
                    .header("content-type", format!("multipart/form-data; boundary={b}"))
                    .body(out)
            }
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Resp {
            status,
            body,
            headers,
        })
    }
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn form_encode(fields: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Waits until no AWS request has been sent for [`QUIET`] (the in-process worker is idle).
async fn quiet() {
    quiet_for(QUIET).await
}

async fn quiet_for(quiet: std::time::Duration) {
    let mut last = metrics::snapshot();
    let mut still = std::time::Duration::ZERO;
    let step = std::time::Duration::from_millis(25);
    while still < quiet {
        tokio::time::sleep(step).await;
        let now = metrics::snapshot();
        if now == last {
            still += step;
        } else {
            still = std::time::Duration::ZERO;
            last = now;
        }
    }
}

/// How long no AWS request must be sent for the worker to count as idle (its tasks start at once when
/// queued, so a call's tasks send their first request well within this).
const QUIET: std::time::Duration = std::time::Duration::from_millis(75);

/// The method and documented status of route `id` in the route table.
fn route_of(id: &str) -> Res<(String, u16)> {
    kanri::http::routes::table()
        .iter()
        .find(|r| r.id == id)
        .map(|r| (r.method.as_str().to_owned(), r.doc.status))
        .ok_or_else(|| err(format!("no route {id} in the route table")))
}

/// One measured call: what it was, what it answered, which AWS requests it sent.
struct Recorder {
    /// Where the last call left off: its client, that client's count of requests sent, and the AWS
    /// requests counted once the worker was idle. The next call needs no wait when nothing happened since.
    idle_after: Option<(String, u64, metrics::Counts)>,
    /// How long the worker must stay idle after the next call (then back to [`QUIET`]): longer for a
    /// call whose task waits on the mail rate before its first request.
    settle: Option<std::time::Duration>,
    rows: Vec<Value>,
    measured: BTreeSet<String>,
    failures: Vec<String>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            idle_after: None,
            settle: None,
            rows: vec![],
            measured: BTreeSet::new(),
            failures: vec![],
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn measure(
        &mut self,
        api: &Api,
        route: &str,
        label: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        expect: u16,
    ) -> Res<Value> {
        self.measure_body(api, route, label, method, path, token, body.into(), expect)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn measure_body(
        &mut self,
        api: &Api,
        route: &str,
        label: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Body,
        expect: u16,
    ) -> Res<Value> {
        let r = self
            .record(api, route, label, method, path, &token.into(), body, expect)
            .await?;
        Ok(r.body)
    }

    /// One call of route `route` (method from the route table), expecting its documented status.
    async fn hit(
        &mut self,
        api: &Api,
        route: &str,
        label: &str,
        path: &str,
        auth: &Auth,
        body: Body,
    ) -> Res<Resp> {
        let (method, status) = route_of(route)?;
        self.record(api, route, label, &method, path, auth, body, status)
            .await
    }

    /// As `hit`, expecting `expect` (a page that answers a form with its page, a refusal path).
    #[allow(clippy::too_many_arguments)]
    async fn hit_expect(
        &mut self,
        api: &Api,
        route: &str,
        label: &str,
        path: &str,
        auth: &Auth,
        body: Body,
        expect: u16,
    ) -> Res<Resp> {
        let (method, _) = route_of(route)?;
        self.record(api, route, label, &method, path, auth, body, expect)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &mut self,
        api: &Api,
        route: &str,
        label: &str,
        method: &str,
        path: &str,
        auth: &Auth,
        body: Body,
        expect: u16,
    ) -> Res<Resp> {
        // The background tasks of earlier calls (the in-process worker) are done before this call starts,
        // and this call's own tasks are counted with it: no AWS request for a while on either side.
        let sent = api.sent.load(std::sync::atomic::Ordering::Relaxed);
        let unchanged = self.idle_after.as_ref().is_some_and(|(base, n, counts)| {
            *base == api.base && *n == sent && *counts == metrics::snapshot()
        });
        if !unchanged {
            quiet().await;
        }
        let before = metrics::snapshot();
        let waited = metrics::waited();
        let t = Instant::now();
        let r = api.send_as(method, path, auth, body).await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let aws_ms = metrics::waited().saturating_sub(waited).as_secs_f64() * 1000.0;
        quiet_for(self.settle.take().unwrap_or(QUIET)).await;
        let after = metrics::snapshot();
        let d = metrics::delta(&before, &after);
        self.idle_after = Some((
            api.base.clone(),
            api.sent.load(std::sync::atomic::Ordering::Relaxed),
            after,
        ));
        let mut services = serde_json::Map::new();
        for s in ["DynamoDB", "KMS", "S3", "SES"] {
            let n: u64 = d
                .iter()
                .filter(|((svc, _), _)| svc == s)
                .map(|(_, n)| n)
                .sum();
            services.insert(s.into(), json!(n));
        }
        let ops: Vec<Value> = d
            .iter()
            .map(|((svc, op), n)| json!({"service": svc, "operation": op, "count": n}))
            .collect();
        if r.status != expect {
            self.failures.push(format!(
                "{route} ({label}): expected {expect}, got {} {}",
                r.status, r.body
            ));
        }
        // Progress on stderr (bench.py shows it when a run fails).
        eprintln!(
            "kanri-bench: {route} ({label}): {} in {ms:.0} ms, {}",
            r.status,
            ops.iter()
                .map(|o| format!("{} {}", o["count"], o["operation"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.measured.insert(route.to_owned());
        self.rows.push(json!({
            "route": route,
            "label": label,
            "request": format!("{method} {path}"),
            "status": r.status,
            "ms_on_emulator": ms,
            "ms_waiting_on_emulator": aws_ms,
            "services": services,
            "operations": ops,
        }));
        Ok(r)
    }
}

/// The set-password token of the newest mail SES (the emulator) recorded for `to`.
async fn invitation_token(moto: &str, to: &str) -> Res<String> {
    for _ in 0..50 {
        let data: Value = reqwest::get(format!("{moto}/moto-api/data.json"))
            .await?
            .json()
            .await?;
        let msgs = data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in msgs.iter().rev() {
            let to_us = m["destinations"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x.as_str() == Some(to)));
            let raw = m["raw_data"].as_str().unwrap_or_default();
            if !to_us {
                continue;
            }
            let body = raw
                .split_once("\r\n\r\n")
                .or_else(|| raw.split_once("\n\n"))
                .map(|(_, b)| b)
                .unwrap_or_default();
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let text = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            if let Some((_, rest)) = text.split_once("set-password?token=") {
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if !token.is_empty() {
                    return Ok(token);
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(err(format!(
        "no invitation mail to {to} recorded by the emulator"
    )))
}

async fn start(config: &Config) -> Res<Api> {
    let (router, operator) = kanri::http::local::app(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(kanri::http::local::serve_listener(
        listener,
        router,
        std::future::pending(),
    ));
    Ok(Api {
        base: format!("http://{addr}"),
        // A browser's client for the pages: redirects are answers to count, not to follow.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        operator,
        sent: Default::default(),
    })
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Res<&'a str> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .ok_or_else(|| err(format!("no {} in {v}", path.join("."))))
}

/// The app's configuration on the AWS backend against the emulator named by the environment, with a
/// fresh data dir; the emulator's URL; a short unique run id.
fn aws_setup() -> Res<(Config, String, String)> {
    if !metrics::enabled() {
        return Err(err(format!("set {}=1", metrics::ENV)));
    }
    let moto = var("KANRI_BENCH_AWS_ENDPOINT")?;
    let run = kanri::domain::ids::new_id()[16..].to_lowercase();
    let data_dir = std::env::temp_dir().join(format!("kanri-bench-{run}"));
    let config = Config {
        backend: Backend::Aws,
        addr: "127.0.0.1:0".parse()?,
        data_dir,
        operator_token: Some(format!("op-bench-{run}")),
        settings: kanri::app::Settings {
            public_url: "http://kanri.bench".into(),
            // moto answers a batch write in tens of milliseconds where DynamoDB takes a few: a purge run
            // (up to `retention::PURGE_BUDGET` items) outlasts the 30 s request deadline on the emulator.
            // These runs count requests, not time.
            request_timeout: std::time::Duration::from_secs(300),
            ..Default::default()
        },
        table: var("KANRI_TABLE")?,
        log_table: var("KANRI_LOG_TABLE")?,
        keys_table: var("KANRI_KEYS_TABLE")?,
        kms_key_id: var("KANRI_KMS_KEY_ID")?,
        aws_emulator: Some(moto.clone()),
        queue_url: None,
        bucket: std::env::var("KANRI_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "kanri-files".into()),
        store_cache_bytes: kanri::adapters::embedded::store::DEFAULT_CACHE_BYTES,
        aws_timeouts: None,
    };
    Ok((config, moto, run))
}

/// The first admin's session: the password set from the invitation the emulator recorded, then a login.
/// Not measured (it also warms the tenant's keys, as any earlier request of a running process would).
async fn admin_session(api: &Api, moto: &str, slug: &str, email: &str, pw: &str) -> Res<String> {
    let token = invitation_token(moto, email).await?;
    let r = api
        .call(
            "POST",
            "/v1/auth/set-password",
            None,
            Some(json!({"token": token, "password": pw})),
        )
        .await?;
    if r.status != 204 {
        return Err(err(format!("admin set-password: {} {}", r.status, r.body)));
    }
    let login = json!({"tenant": slug, "login": email, "password": pw});
    let r = api
        .call("POST", "/v1/auth/login", None, Some(login))
        .await?;
    Ok(str_at(&r.body, &["token"])?.to_owned())
}

async fn aws_requests() -> Res<Value> {
    let (config, moto, run) = aws_setup()?;
    let data_dir = config.data_dir.clone();
    let api = start(&config).await?;
    let op = api.operator.clone();
    let mut rec = Recorder::new();
    let slug = format!("bench-{run}");
    let domain = format!("{slug}.example.com");
    let admin_email = format!("admin@{domain}");
    let pw = format!("Bench-{run}-passphrase");

    rec.measure(&api, "health", "", "GET", "/v1/health", None, None, 200)
        .await?;
    rec.measure(
        &api,
        "openapi",
        "",
        "GET",
        "/v1/openapi.json",
        None,
        None,
        200,
    )
    .await?;
    let created = rec
        .measure(
            &api,
            "ops-tenants-create",
            "new tenant, admin invited by link",
            "POST",
            "/v1/ops/tenants",
            Some(&op),
            Some(
                json!({"slug": slug, "name": "Bench KK", "seat_limit": 1_000_000,
                        "admin": {"name": "Bench Admin", "email": admin_email}}),
            ),
            201,
        )
        .await?;
    let tenant_id = str_at(&created, &["tenant", "id"])?.to_owned();

    let session = admin_session(&api, &moto, &slug, &admin_email, &pw).await?;
    let s = Some(session.as_str());

    rec.measure(&api, "me-get", "", "GET", "/v1/me", s, None, 200)
        .await?;
    rec.measure(&api, "tenant-get", "", "GET", "/v1/tenant", s, None, 200)
        .await?;
    rec.measure(&api, "roles-list", "", "GET", "/v1/roles", s, None, 200)
        .await?;
    rec.measure(
        &api,
        "permissions",
        "",
        "GET",
        "/v1/permissions",
        s,
        None,
        200,
    )
    .await?;
    let u1_email = format!("user1@{domain}");
    let u1 = rec
        .measure(
            &api,
            "users-create",
            "delivery invite_link",
            "POST",
            "/v1/users",
            s,
            Some(json!({"name": "Bench User 1", "email": u1_email, "delivery": "invite_link"})),
            201,
        )
        .await?;
    let u1 = str_at(&u1, &["user", "id"])?.to_owned();
    rec.measure(
        &api,
        "users-create",
        "delivery generated (login id, no e-mail)",
        "POST",
        "/v1/users",
        s,
        Some(json!({"name": "Bench Generated", "login_id": format!("gen-{run}"), "delivery": "generated"})),
        201,
    )
    .await?;
    // Enough users for a full page of 50, and spares to delete.
    let mut spare = Vec::new();
    for i in 0..60 {
        let r = api
            .call(
                "POST",
                "/v1/users",
                s,
                Some(
                    json!({"name": format!("Filler {i:02}"), "email": format!("filler{i}@{domain}"),
                            "delivery": "invite_link"}),
                ),
            )
            .await?;
        spare.push(str_at(&r.body, &["user", "id"])?.to_owned());
    }
    rec.measure(
        &api,
        "users-list",
        "page of 50",
        "GET",
        "/v1/users?limit=50",
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        &api,
        "users-list",
        "q= search over 63 users (decrypt and filter)",
        "GET",
        "/v1/users?limit=50&q=bench%20user",
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        &api,
        "users-get",
        "warm (tenant key cached)",
        "GET",
        &format!("/v1/users/{u1}"),
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        &api,
        "users-update",
        "name",
        "PATCH",
        &format!("/v1/users/{u1}"),
        s,
        Some(json!({"name": "Bench User 1 (renamed)"})),
        200,
    )
    .await?;
    // The tenant's sign-in policy (issue 22) travels with the tenant item every request already reads: the
    // same read under a policy costs the same requests (the allow-list covers every address, so the bench's
    // own address is in it whatever it is; no idle timeout, whose last-seen write is counted apart).
    rec.measure(
        &api,
        "tenant-sign-in-policy-put",
        "IP allow-list, session lifetime, password length",
        "PUT",
        "/v1/tenant/sign-in-policy",
        s,
        Some(json!({"second_factor": "off", "password_min_length": 12,
                    "session_lifetime_minutes": 600, "idle_timeout_minutes": null,
                    "ip_allowlist": ["0.0.0.0/0", "::/0"]})),
        200,
    )
    .await?;
    rec.measure(
        &api,
        "tenant-sign-in-policy-get",
        "",
        "GET",
        "/v1/tenant/sign-in-policy",
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        &api,
        "users-get",
        "warm, under a sign-in policy (IP allow-list, lifetime)",
        "GET",
        &format!("/v1/users/{u1}"),
        s,
        None,
        200,
    )
    .await?;
    let t1 = invitation_token(&moto, &u1_email).await?;
    let pw1 = format!("User1-{run}-passphrase");
    rec.measure(
        &api,
        "auth-set-password",
        "invitation",
        "POST",
        "/v1/auth/set-password",
        None,
        Some(json!({"token": t1, "password": pw1})),
        204,
    )
    .await?;
    let s1 = rec
        .measure(
            &api,
            "auth-login",
            "e-mail and password",
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"tenant": slug, "login": u1_email, "password": pw1})),
            200,
        )
        .await?;
    let s1 = str_at(&s1, &["token"])?.to_owned();
    rec.measure(
        &api,
        "me-password",
        "",
        "POST",
        "/v1/me/password",
        Some(&s1),
        Some(json!({"current_password": pw1, "new_password": format!("{pw1}-new")})),
        204,
    )
    .await?;
    rec.measure(
        &api,
        "auth-logout",
        "",
        "POST",
        "/v1/auth/logout",
        Some(&s1),
        None,
        204,
    )
    .await?;
    let victim = spare.pop().ok_or_else(|| err("no spare user"))?;
    rec.measure(
        &api,
        "users-delete",
        "invited user (one invitation token)",
        "DELETE",
        &format!("/v1/users/{victim}"),
        s,
        None,
        204,
    )
    .await?;
    let one = spare.pop().ok_or_else(|| err("no spare user"))?;
    rec.measure(
        &api,
        "users-bulk-delete",
        "1 id",
        "POST",
        "/v1/users/bulk-delete",
        s,
        Some(json!({"ids": [one]})),
        200,
    )
    .await?;
    let ten: Vec<String> = spare.drain(spare.len() - 10..).collect();
    rec.measure(
        &api,
        "users-bulk-delete",
        "10 ids",
        "POST",
        "/v1/users/bulk-delete",
        s,
        Some(json!({"ids": ten})),
        200,
    )
    .await?;
    groups_and_logs(&mut rec, &api, s, &op, &tenant_id, &domain, &spare[..3]).await?;
    rec.measure(
        &api,
        "ops-tenants-get",
        "",
        "GET",
        &format!("/v1/ops/tenants/{tenant_id}"),
        Some(&op),
        None,
        200,
    )
    .await?;
    rec.measure(
        &api,
        "ops-tenants-update",
        "seat_limit",
        "PATCH",
        &format!("/v1/ops/tenants/{tenant_id}"),
        Some(&op),
        Some(json!({"seat_limit": 999_999})),
        200,
    )
    .await?;

    // Every other route of the route table, once each.
    every_route::every_route(
        &mut rec,
        every_route::Ctx {
            api: &api,
            moto: &moto,
            slug: &slug,
            domain: &domain,
            tenant_id: &tenant_id,
            admin: &session,
            admin_email: &admin_email,
            admin_pw: &pw,
            spare: spare.clone(),
        },
    )
    .await?;

    // A second app on the same tables: a new process (a Lambda cold start) has no key cached.
    let cold = start(&config).await?;
    let path = format!("/v1/users/{u1}");
    rec.measure(
        &cold,
        "users-get",
        "first request of a new process (tenant key not cached)",
        "GET",
        &path,
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        &cold,
        "users-get",
        "second request of that process",
        "GET",
        &path,
        s,
        None,
        200,
    )
    .await?;

    // The bench fails when a route of the table is not called (its cost would go unmeasured).
    let not_measured = every_route::check_covered(&rec)?;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(json!({
        "rows": rec.rows,
        "routes_not_measured": not_measured,
        "routes_counted_in_bulk": every_route::COUNTED_IN_BULK,
        "failures": rec.failures,
    }))
}

/// One call of every group route on small inputs, a small CSV import, and the log reads. `users` are
/// three users of the tenant, none of them in a group, named `filler<i>@domain` for i = 0, 1, 2.
#[allow(clippy::too_many_arguments)]
async fn groups_and_logs(
    rec: &mut Recorder,
    api: &Api,
    s: Option<&str>,
    op: &str,
    tenant_id: &str,
    domain: &str,
    users: &[String],
) -> Res<()> {
    let g = rec
        .measure(
            api,
            "groups-create",
            "no members",
            "POST",
            "/v1/groups",
            s,
            Some(json!({"name": "Bench Group A"})),
            201,
        )
        .await?;
    let g = str_at(&g, &["id"])?.to_owned();
    let gp = format!("/v1/groups/{g}");
    rec.measure(api, "groups-list", "", "GET", "/v1/groups", s, None, 200)
        .await?;
    rec.measure(api, "groups-get", "", "GET", &gp, s, None, 200)
        .await?;
    rec.measure(
        api,
        "groups-rename",
        "",
        "PATCH",
        &gp,
        s,
        Some(json!({"name": "Bench Group A (renamed)"})),
        200,
    )
    .await?;
    rec.measure(
        api,
        "groups-members-add",
        "3 ids",
        "POST",
        &format!("{gp}/members"),
        s,
        Some(json!({"user_ids": users})),
        200,
    )
    .await?;
    rec.measure(
        api,
        "groups-members-list",
        "3 members",
        "GET",
        &format!("{gp}/members"),
        s,
        None,
        200,
    )
    .await?;
    rec.measure(
        api,
        "groups-members-remove",
        "1 id",
        "POST",
        &format!("{gp}/members/remove"),
        s,
        Some(json!({"user_ids": [users[0]]})),
        200,
    )
    .await?;
    rec.measure(
        api,
        "groups-member-delete",
        "",
        "DELETE",
        &format!("{gp}/members/{}", users[1]),
        s,
        None,
        204,
    )
    .await?;
    rec.measure(
        api,
        "groups-delete",
        "1 member left",
        "DELETE",
        &gp,
        s,
        None,
        204,
    )
    .await?;
    let made = rec
        .measure(
            api,
            "groups-bulk-create",
            "3 names",
            "POST",
            "/v1/groups/bulk",
            s,
            Some(json!({"names": ["Bench Bulk 1", "Bench Bulk 2", "Bench Bulk 3"]})),
            200,
        )
        .await?;
    let ids: Vec<&str> = made["created"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["id"].as_str()).take(2).collect())
        .unwrap_or_default();
    rec.measure(
        api,
        "groups-bulk-delete",
        "2 ids",
        "POST",
        "/v1/groups/bulk-delete",
        s,
        Some(json!({ "ids": ids })),
        200,
    )
    .await?;
    rec.measure_body(
        api,
        "groups-import",
        "1 new group with 2 members",
        "POST",
        "/v1/groups/import",
        s,
        Body::Csv(format!(
            "group_name,members\nBench Imported,filler0@{domain};filler1@{domain}\n"
        )),
        200,
    )
    .await?;
    rec.measure_body(
        api,
        "users-import",
        "3 rows, delivery invite_link",
        "POST",
        "/v1/users/import?delivery=invite_link",
        s,
        Body::Csv(users_csv(0..3, domain)),
        200,
    )
    .await?;
    for (route, path) in [("audit-log", "/v1/audit-log"), ("mail-log", "/v1/mail-log")] {
        rec.measure(
            api,
            route,
            "page of 50",
            "GET",
            &format!("{path}?limit=50"),
            s,
            None,
            200,
        )
        .await?;
    }
    rec.measure(
        api,
        "ops-tenants-audit-log",
        "",
        "GET",
        &format!("/v1/ops/tenants/{tenant_id}/audit-log"),
        Some(op),
        None,
        200,
    )
    .await?;
    Ok(())
}

/// A users CSV (`name,email,login_id,role,groups`) with short rows: `I<i>,i<i>@domain,,,`.
fn users_csv(rows: std::ops::Range<usize>, domain: &str) -> String {
    let mut csv = String::from("name,email,login_id,role,groups\n");
    for i in rows {
        csv.push_str(&format!("I{i},i{i}@{domain},,,\n"));
    }
    csv
}

/// The DynamoDB cost of the bulk operations on one tenant (see the top of this file).
async fn bulk_requests(users: usize, members: usize, groups: usize) -> Res<Value> {
    let (config, moto, run) = aws_setup()?;
    let api = start(&config).await?;
    let op = api.operator.clone();
    let mut rec = Recorder::new();
    let slug = format!("bulk-{run}");
    let domain = format!("{slug}.example.com");
    let admin_email = format!("admin@{domain}");
    let pw = format!("Bulk-{run}-passphrase");
    let r = api
        .call(
            "POST",
            "/v1/ops/tenants",
            Some(&op),
            Some(
                json!({"slug": slug, "name": "Bulk KK", "seat_limit": users + 10,
                        "admin": {"name": "Bulk Admin", "email": admin_email}}),
            ),
        )
        .await?;
    if r.status != 201 {
        return Err(err(format!("tenant create: {} {}", r.status, r.body)));
    }
    let tenant_id = str_at(&r.body, &["tenant", "id"])?.to_owned();
    let session = admin_session(&api, &moto, &slug, &admin_email, &pw).await?;
    let s = Some(session.as_str());

    // The groups first: moto copies every table a transaction touches, so its time grows with the table.
    let names: Vec<String> = (0..groups).map(|i| format!("Bulk {i:04}")).collect();
    let made = rec
        .measure(
            &api,
            "groups-bulk-create",
            &format!("{groups} names"),
            "POST",
            "/v1/groups/bulk",
            s,
            Some(json!({ "names": names })),
            200,
        )
        .await?;
    let n_made = made["created"].as_array().map_or(0, Vec::len);
    if n_made != groups {
        rec.failures
            .push(format!("groups-bulk-create: {n_made} of {groups} created"));
    }

    let csv = users_csv(0..users, &domain);
    let csv_bytes = csv.len();
    let report = rec
        .measure_body(
            &api,
            "users-import",
            &format!("{users} rows, delivery invite_link"),
            "POST",
            "/v1/users/import?delivery=invite_link",
            s,
            Body::Csv(csv),
            200,
        )
        .await?;
    let created = report["created"].as_u64().unwrap_or(0) as usize;
    let failed = report["failed"].as_array().map_or(0, Vec::len);
    if created != users {
        rec.failures.push(format!(
            "users-import: {created} of {users} rows created, {failed} failed: {}",
            report["failed"]
                .to_string()
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    let ids: Vec<String> = report["users"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

    let g = api
        .call(
            "POST",
            "/v1/groups",
            s,
            Some(json!({"name": "Bulk Members"})),
        )
        .await?;
    let g = str_at(&g.body, &["id"])?.to_owned();
    let chosen = &ids[..members.min(ids.len())];
    let added = rec
        .measure(
            &api,
            "groups-members-add",
            &format!("{} ids into one group", chosen.len()),
            "POST",
            &format!("/v1/groups/{g}/members"),
            s,
            Some(json!({ "user_ids": chosen })),
            200,
        )
        .await?;
    let n_added = added["added"].as_array().map_or(0, Vec::len);
    if n_added != members {
        rec.failures
            .push(format!("groups-members-add: {n_added} of {members} added"));
    }
    // The purge: the contract ends today, and the job runs as of 100 days later (`as_of` stands in for the
    // clock). An end date already past would also end every user's sessions now, one Query per user.
    let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+9));
    rec.measure(
        &api,
        "ops-tenants-terminate",
        "contract end today",
        "POST",
        &format!("/v1/ops/tenants/{tenant_id}/terminate"),
        Some(&op),
        Some(json!({"contract_end": now.date().to_string()})),
        200,
    )
    .await?;
    let as_of = (now + time::Duration::days(100))
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| err(e.to_string()))?;
    let mut purge_runs = Vec::new();
    for k in 1..=100 {
        let r = rec
            .measure(
                &api,
                "ops-jobs-purge",
                &format!("run {k}"),
                "POST",
                "/v1/ops/jobs/purge",
                Some(&op),
                Some(json!({ "as_of": as_of })),
                200,
            )
            .await?;
        let done = r["purged"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t.as_str() == Some(tenant_id.as_str())));
        purge_runs.push(json!({
            "items_deleted": r["items_deleted"],
            "purged": r["purged"],
            "in_progress": r["in_progress"],
        }));
        if done {
            break;
        }
        if r["items_deleted"].as_u64().unwrap_or(0) == 0 {
            rec.failures
                .push(format!("ops-jobs-purge: run {k} deleted nothing: {r}"));
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&config.data_dir);
    Ok(json!({
        "users": users,
        "csv_bytes": csv_bytes,
        "created": created,
        "failed": failed,
        "members": members,
        "groups": groups,
        "purge_runs": purge_runs,
        "rows": rec.rows,
        "routes_measured": rec.measured,
        "failures": rec.failures,
    }))
}

// ---- background tasks: notice fan-out, background import -------------------------------------------------

/// A task queue that only holds what is queued, so that this process plays the worker and knows when the
/// work is done (no polling requests mixed into the counts).
#[derive(Default)]
struct Held(Mutex<VecDeque<kanri::ports::Task>>);

impl Held {
    fn tasks(&self) -> std::sync::MutexGuard<'_, VecDeque<kanri::ports::Task>> {
        // A panic while holding the lock leaves a plain queue behind: keep using it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl kanri::ports::TaskQueue for Held {
    async fn enqueue(
        &self,
        tasks: Vec<kanri::ports::Task>,
    ) -> Result<(), kanri::ports::QueueError> {
        self.tasks().extend(tasks);
        Ok(())
    }
}

/// Tasks run at once, as the local server's worker (`kanri::worker`) runs them.
const WORKER_CONCURRENCY: usize = 4;

/// The services of `config` with their task queue held by this process.
async fn held_services(config: &Config) -> Res<(Arc<kanri::app::Services>, Arc<Held>)> {
    let held = Arc::new(Held::default());
    let mut svc = config.services().await?;
    svc.queue = held.clone();
    Ok((Arc::new(svc), held))
}

/// Plays the worker: runs the held tasks with `kanri::worker::run_task`, up to WORKER_CONCURRENCY at once,
/// until none is left. A failing task fails the run (the real worker would retry it). Returns the tasks run.
async fn drain(svc: &Arc<kanri::app::Services>, held: &Held) -> Res<usize> {
    let mut running = tokio::task::JoinSet::new();
    let mut ran = 0;
    loop {
        while running.len() < WORKER_CONCURRENCY {
            let Some(task) = held.tasks().pop_front() else {
                break;
            };
            let svc = svc.clone();
            ran += 1;
            running.spawn(async move {
                kanri::worker::run_task(&svc, &task)
                    .await
                    .map_err(|e| format!("{task:?}: {e}"))
            });
        }
        match running.join_next().await {
            None => return Ok(ran),
            Some(r) => r?.map_err(err)?,
        }
    }
}

/// The counter delta as JSON: requests per service, and per service and operation.
fn counted(before: &metrics::Counts, after: &metrics::Counts) -> (Value, Vec<Value>) {
    // S3 operations are counted as `METHOD /bucket/key`: one line per method here.
    let mut d = metrics::Counts::new();
    for ((svc, op), n) in metrics::delta(before, after) {
        let op = match svc.as_str() {
            "S3" => op.split_whitespace().next().unwrap_or_default().to_owned(),
            _ => op,
        };
        *d.entry((svc, op)).or_default() += n;
    }
    let mut services = serde_json::Map::new();
    for s in ["DynamoDB", "KMS", "S3", "SES", "SQS"] {
        let n: u64 = d
            .iter()
            .filter(|((svc, _), _)| svc == s)
            .map(|(_, n)| n)
            .sum();
        services.insert(s.into(), json!(n));
    }
    let ops = d
        .iter()
        .map(|((svc, op), n)| json!({"service": svc, "operation": op, "count": n}))
        .collect();
    (Value::Object(services), ops)
}

/// A config on the embedded store (the local server's) in a fresh data dir.
fn embedded_setup() -> Res<(Config, String)> {
    let run = kanri::domain::ids::new_id()[16..].to_lowercase();
    let data_dir = std::env::temp_dir().join(format!("kanri-bench-{run}"));
    let config = Config {
        backend: Backend::Embedded,
        addr: "127.0.0.1:0".parse()?,
        data_dir,
        operator_token: Some(format!("op-bench-{run}")),
        settings: kanri::app::Settings {
            public_url: "http://kanri.bench".into(),
            ..Default::default()
        },
        table: String::new(),
        log_table: String::new(),
        keys_table: String::new(),
        kms_key_id: String::new(),
        aws_emulator: None,
        queue_url: None,
        bucket: String::new(),
        store_cache_bytes: kanri::adapters::embedded::store::DEFAULT_CACHE_BYTES,
        aws_timeouts: None,
    };
    Ok((config, run))
}

/// Notice fan-out (see the top of this file).
async fn notice_fanout(backend: Option<&str>, subscribers: usize, tenants: usize) -> Res<Value> {
    use kanri::app::layout::{self, attr};
    use kanri::app::records::user::{Status, UserRecord, email_index};
    use kanri::domain::values::{Email, Name, Slug};
    use kanri::ports::{BatchWrite, Item, Table};

    let (config, run) = match backend {
        Some("aws") => {
            let (c, _, run) = aws_setup()?;
            (c, run)
        }
        Some("embedded") => embedded_setup()?,
        _ => return Err(err("notice-fanout: the backend is aws or embedded")),
    };
    let (svc, held) = held_services(&config).await?;
    let tenants = tenants.max(1);
    let now = time::OffsetDateTime::now_utc();
    let ts = now.unix_timestamp();
    let t_setup = Instant::now();
    let mut written = 0;
    for t in 0..tenants {
        let per = subscribers / tenants + usize::from(t < subscribers % tenants);
        let slug = format!("fan{t}-{run}");
        let domain = format!("{slug}.example.com");
        let created = kanri::app::tenants::create(
            &svc,
            kanri::app::tenants::NewTenant {
                slug: Slug::parse(&slug).map_err(|e| err(format!("{e:?}")))?,
                name: Name::parse("name", "Fan-out KK").map_err(|e| err(format!("{e:?}")))?,
                seat_limit: per as i64 + 10,
                admin_name: Name::parse("name", "Fan-out Admin")
                    .map_err(|e| err(format!("{e:?}")))?,
                admin_email: Email::parse(&format!("admin@{domain}"))
                    .map_err(|e| err(format!("{e:?}")))?,
            },
            now,
        )
        .await?;
        let scope = svc.scope(&created.tenant.id).await?;
        // Users with an e-mail address, each subscribed to release notes (the e-mail guard items, which
        // only logins and uniqueness checks read, are left out).
        let mut writes = Vec::with_capacity(2 * per);
        for i in 0..per {
            let addr = format!("s{i}@{domain}");
            let email = Email::parse(&addr).map_err(|e| err(format!("{e:?}")))?;
            let user = UserRecord {
                id: kanri::domain::ids::UserId::generate(),
                name: format!("Subscriber {i}"),
                email: Some(addr),
                login_id: None,
                email_index: Some(email_index(&scope.key, &email)),
                login_index: None,
                role_id: created.tenant.default_role_id.clone(),
                org_admin: false,
                group_ids: vec![],
                status: Status::Invited,
                must_change_password: false,
                mfa: false,
                password_hash: None,
                created: ts,
                updated: ts,
            };
            writes.push(BatchWrite::Put(
                Item::new(scope.pk(), layout::subscription_sk("release", &user.id))
                    .with(attr::USER, kanri::ports::Value::S(user.id.to_string())),
            ));
            writes.push(BatchWrite::Put(user.to_item(&scope)));
        }
        for chunk in writes.chunks(2000) {
            svc.store.batch_write(Table::Data, chunk.to_vec()).await?;
        }
        written += per;
    }
    let setup_s = t_setup.elapsed().as_secs_f64();
    eprintln!(
        "kanri-bench: {written} subscribers in {tenants} tenant(s) written in {setup_s:.1} s"
    );
    // The invitation mails of the tenants' admins went out above; only the notice's mails count.
    held.tasks().clear();

    let before = metrics::snapshot();
    let waited = metrics::waited();
    let t = Instant::now();
    let notice = kanri::app::notices::publish(
        &svc,
        kanri::app::notices::NewNotice {
            kind: kanri::app::notices::Kind::Release,
            title: format!("Bench release {run}"),
            body: "A release note mailed to every subscriber, for make bench.".into(),
            occurred: None,
        },
        now,
    )
    .await?;
    let tasks = drain(&svc, &held).await?;
    let seconds = t.elapsed().as_secs_f64();
    let waited_s = metrics::waited().saturating_sub(waited).as_secs_f64();
    let (services, operations) = counted(&before, &metrics::snapshot());
    let stored = kanri::app::notices::load(&svc, &notice.id)
        .await?
        .ok_or_else(|| err("the notice is gone"))?;
    let mut failures = vec![];
    if stored.mails_sent != written as i64 {
        failures.push(format!(
            "notice-fanout: {} of {written} mails sent ({} failed)",
            stored.mails_sent, stored.mails_failed
        ));
    }
    let outbox = std::fs::read_dir(config.data_dir.join("outbox"))
        .map(|d| d.count())
        .ok();
    let _ = std::fs::remove_dir_all(&config.data_dir);
    Ok(json!({
        "backend": backend,
        "subscribers": written,
        "tenants": tenants,
        "setup_seconds": setup_s,
        "seconds": seconds,
        "seconds_waiting_on_emulator": waited_s,
        "tasks_run": tasks,
        "worker_concurrency": WORKER_CONCURRENCY,
        "mails_sent": stored.mails_sent,
        "mails_failed": stored.mails_failed,
        // The outbox also holds the tenants' admin invitations.
        "outbox_files": outbox,
        "services": services,
        "operations": operations,
        "failures": failures,
    }))
}

/// Background import's AWS requests (see the top of this file).
async fn import_requests(rows: usize) -> Res<Value> {
    let (config, moto, run) = aws_setup()?;
    let api = start(&config).await?;
    let (svc, held) = held_services(&config).await?;
    let op = api.operator.clone();
    let slug = format!("imp-{run}");
    let domain = format!("{slug}.example.com");
    let admin_email = format!("admin@{domain}");
    let r = api
        .call(
            "POST",
            "/v1/ops/tenants",
            Some(&op),
            Some(
                json!({"slug": slug, "name": "Import KK", "seat_limit": rows + 10,
                        "admin": {"name": "Import Admin", "email": admin_email}}),
            ),
        )
        .await?;
    if r.status != 201 {
        return Err(err(format!("tenant create: {} {}", r.status, r.body)));
    }
    let session = admin_session(
        &api,
        &moto,
        &slug,
        &admin_email,
        &format!("Imp-{run}-passphrase"),
    )
    .await?;
    let csv = users_csv(0..rows, &domain);
    let csv_bytes = csv.len();
    let up = api
        .call(
            "POST",
            "/v1/uploads",
            Some(&session),
            Some(json!({"purpose": "user_import", "filename": "users.csv",
                        "content_type": "text/csv", "size": csv_bytes})),
        )
        .await?;
    if up.status != 201 {
        return Err(err(format!("POST /v1/uploads: {} {}", up.status, up.body)));
    }
    // The client's PUT to the presigned URL goes to S3 (moto) from outside the app: not counted.
    let mut put = api.http.put(str_at(&up.body, &["upload_url"])?);
    for (k, v) in up.body["upload_headers"].as_object().into_iter().flatten() {
        put = put.header(k, v.as_str().unwrap_or_default());
    }
    let put = put.body(csv).send().await?;
    if !put.status().is_success() {
        return Err(err(format!("PUT upload_url: {}", put.status())));
    }
    let upload_id = str_at(&up.body, &["id"])?.to_owned();

    // From here counted: POST /v1/imports's work (the session, the import's start) and every task.
    let now = time::OffsetDateTime::now_utc();
    let before = metrics::snapshot();
    let waited = metrics::waited();
    let t = Instant::now();
    let principal = kanri::app::principal::authenticate(&svc, &session, now).await?;
    let id = kanri::app::imports::job::start(
        &svc,
        &principal,
        &upload_id,
        kanri::app::imports::job::Kind::Users,
        None,
        now,
    )
    .await?;
    let (start_services, _) = counted(&before, &metrics::snapshot());
    let tasks = drain(&svc, &held).await?;
    let seconds = t.elapsed().as_secs_f64();
    let waited_s = metrics::waited().saturating_sub(waited).as_secs_f64();
    let (services, operations) = counted(&before, &metrics::snapshot());
    let view = kanri::app::imports::job::view(
        &svc,
        &principal.scope,
        &kanri::domain::ids::ImportId::from_stored(id.as_str()),
    )
    .await?;
    let view = serde_json::to_value(&view)?;
    let created = view["created"].as_u64().unwrap_or(0) as usize;
    let mut failures = vec![];
    if view["status"] != "done" || created != rows {
        failures.push(format!(
            "import-requests: status {}, {created} of {rows} created: {}",
            view["status"],
            view.to_string().chars().take(300).collect::<String>()
        ));
    }
    let _ = std::fs::remove_dir_all(&config.data_dir);
    Ok(json!({
        "rows": rows,
        "csv_bytes": csv_bytes,
        "created": created,
        "status": view["status"],
        "seconds": seconds,
        "seconds_waiting_on_emulator": waited_s,
        "tasks_run": tasks,
        "start_services": start_services,
        "services": services,
        "operations": operations,
        "failures": failures,
    }))
}
