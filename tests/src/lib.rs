//! Test support: start the app on either backend (moto for AWS, started once per test binary), drive it
//! over HTTP like a client, read the mail it sent.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use kanri::config::{Backend, Config};
use serde_json::{Value, json};

pub use reqwest::StatusCode;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &kanri::domain::ids::new_id()[14..]).to_lowercase()
}

/// The AWS emulator for this test binary: `KANRI_TEST_AWS_ENDPOINT` when set (the Makefile starts one),
/// otherwise moto (infra/moto_server.py, one request at a time like DynamoDB's atomic transactions) started
/// here, which dies with this process.
pub struct AwsEmulator {
    pub endpoint: String,
    pub table: String,
    pub log_table: String,
    pub keys_table: String,
    pub kms_key_id: String,
    pub bucket: String,
    _child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

pub fn aws() -> &'static AwsEmulator {
    static AWS: OnceLock<AwsEmulator> = OnceLock::new();
    AWS.get_or_init(|| {
        let (endpoint, child) = match std::env::var("KANRI_TEST_AWS_ENDPOINT") {
            Ok(e) if !e.is_empty() => (e, None),
            _ => {
                let port = free_port();
                // moto_server runs until our stdin pipe closes, i.e. until this test process exits.
                let child = Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "python3 {} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; read _; kill $pid",
                        repo_root().join("infra/moto_server.py").display()
                    ))
                    .stdin(Stdio::piped())
                    .spawn()
                    .expect("moto starts (pip install 'moto[server]')");
                let endpoint = format!("http://127.0.0.1:{port}");
                for _ in 0..100 {
                    if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                (endpoint, Some(child))
            }
        };
        let table = unique("kanri-data-");
        let log_table = unique("kanri-log-");
        let keys_table = unique("kanri-keys-");
        let bucket = unique("kanri-files-");
        let out = Command::new("python3")
            .arg(repo_root().join("infra/provision.py"))
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("KANRI_TABLE", &table)
            .env("KANRI_LOG_TABLE", &log_table)
            .env("KANRI_KEYS_TABLE", &keys_table)
            .env("KANRI_BUCKET", &bucket)
            .output()
            .expect("infra/provision.py runs");
        assert!(out.status.success(), "provisioning failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let kms_key_id = stdout
            .lines()
            .find_map(|l| l.strip_prefix("KANRI_KMS_KEY_ID="))
            .unwrap_or("alias/kanri-data")
            .to_owned();
        AwsEmulator { endpoint, table, log_table, keys_table, kms_key_id, bucket, _child: child }
    })
}

/// A running app on a free port, with its own data dir (embedded) and the operator token.
pub struct App {
    pub base: String,
    pub backend: Backend,
    pub operator_token: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    /// The services behind the server, for tests that run use cases or tasks directly.
    pub svc: std::sync::Arc<kanri::app::Services>,
    /// Where the server's worker takes its tasks from.
    pub tasks: kanri::worker::TaskSource,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn config(backend: Backend, data_dir: PathBuf) -> Config {
    let mut c = Config {
        backend,
        addr: "127.0.0.1:0".parse().expect("addr"),
        data_dir,
        operator_token: Some(unique("op-test-")),
        settings: kanri::app::Settings {
            public_url: "http://kanri.test".into(),
            // Tests stand behind a "proxy": each names its own client address, so per-source limits of one
            // test never touch another sharing the same DynamoDB tables.
            client_ip_header: Some("x-forwarded-for".into()),
            // moto answers one request at a time: under a parallel test run a request may queue for a
            // while. The fault tests set their own limits.
            request_timeout: std::time::Duration::from_secs(300),
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
    if backend == Backend::Aws {
        let aws = aws();
        c.table = aws.table.clone();
        c.log_table = aws.log_table.clone();
        c.keys_table = aws.keys_table.clone();
        c.kms_key_id = aws.kms_key_id.clone();
        c.bucket = aws.bucket.clone();
        c.aws_emulator = Some(aws.endpoint.clone());
    }
    c
}

pub async fn spawn_app(backend: Backend) -> App {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app after `adjust` changed its configuration (short token lifetimes, say).
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> App {
    let data_dir = std::env::temp_dir().join(unique("kanri-test-"));
    let mut config = config(backend, data_dir.clone());
    adjust(&mut config);
    let local = kanri::http::local::app_with_services(&config)
        .await
        .expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(kanri::http::local::serve_listener(
        listener,
        local.router,
        std::future::pending(),
    ));
    App {
        base: format!("http://{addr}"),
        backend,
        operator_token: local.operator_token,
        data_dir,
        http: reqwest::Client::new(),
        svc: local.svc,
        tasks: local.tasks,
    }
}

/// A response as a client sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl App {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_from("198.51.100.1", method, path, token, body)
            .await
    }

    /// A call from a given client address (sent as X-Forwarded-For, which the test config trusts).
    pub async fn call_from(
        &self,
        ip: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.base))
            .header("x-forwarded-for", ip);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }
    /// Posts raw bytes with a content type (CSV uploads).
    pub async fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Resp {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .header("x-forwarded-for", "198.51.100.1")
            .body(bytes)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call("POST", path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call("DELETE", path, Some(token), None).await
    }

    /// A URL the server built from its public URL (`http://kanri.test` in tests), pointed at this server.
    pub fn reachable(&self, url: &str) -> String {
        match url.strip_prefix("http://kanri.test") {
            Some(rest) => format!("{}{rest}", self.base),
            None => url.to_owned(),
        }
    }

    /// Waits until the background tasks queued so far have run (the in-process queue is empty); panics
    /// after 60 s. Mails sent by tasks (password resets, notices) are there once this returns. An app on SQS
    /// (the tests of the SQS path) is not waited for: those tests wait for the mails they expect.
    pub async fn settle(&self) {
        let kanri::worker::TaskSource::InProcess(queue) = &self.tasks else {
            return;
        };
        for _ in 0..1200 {
            if queue.counts().await.expect("queue counts").0 == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("background tasks still queued after 60 s");
    }

    /// Every mail sent to `to`, oldest first, as decoded text bodies.
    pub async fn mails_to(&self, to: &str) -> Vec<String> {
        self.mails()
            .await
            .into_iter()
            .filter(|(t, _)| t == to)
            .map(|(_, body)| body)
            .collect()
    }

    /// Every mail sent (in the outbox, or to moto's SES), oldest first: (recipient, decoded text body).
    pub async fn mails(&self) -> Vec<(String, String)> {
        let raws: Vec<String> = match self.backend {
            Backend::Embedded => return outbox_mails(&self.data_dir),
            Backend::Aws => {
                let data: Value = self
                    .http
                    .get(format!("{}/_kanri/ses/raw", aws().endpoint))
                    .send()
                    .await
                    .expect("moto data")
                    .json()
                    .await
                    .expect("moto json");
                data.as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
                    .collect()
            }
        };
        raws.iter()
            .map(|raw| (recipient(raw), decode_body(raw)))
            .collect()
    }

    /// The token of the newest set-password link mailed to `to` (after the queued tasks ran: reset links are
    /// mailed by a task).
    pub async fn link_token(&self, to: &str) -> String {
        self.settle().await;
        let mails = self.mails_to(to).await;
        let body = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
        let start = body.find("token=").expect("link in mail") + "token=".len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Creates a tenant with `seats` seats, completes its admin's invitation and logs the admin in.
    pub async fn onboard(&self, seats: i64) -> Tenant {
        let slug = unique("t-");
        let email = format!("{}@example.co.jp", unique("admin-"));
        let r = self
            .post(
                "/v1/ops/tenants",
                Some(&self.operator_token),
                json!({"slug": slug, "name": "株式会社テスト", "seat_limit": seats, "admin": {"name": "管理 太郎", "email": email}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let session = self.accept_invitation(&slug, &email).await;
        Tenant {
            id: r_str(&self.get("/v1/tenant", &session).await.body["id"]),
            slug,
            admin_email: email,
            admin_id: String::new(),
            admin_token: session,
        }
        .with_admin_id(self)
        .await
    }

    /// Sets a password with the newest link mailed to `email` and signs in; returns the session token.
    pub async fn accept_invitation(&self, slug: &str, email: &str) -> String {
        let token = self.link_token(email).await;
        let password = "Kanri-test-passw0rd!";
        let r = self
            .post(
                "/v1/auth/set-password",
                None,
                json!({"token": token, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        self.login(slug, email, password).await
    }

    pub async fn login(&self, slug: &str, login: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/auth/login",
                None,
                json!({"tenant": slug, "login": login, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        r_str(&r.body["token"])
    }
}

pub fn r_str(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Every mail in a data dir's outbox, oldest first: (recipient, decoded text body).
pub fn outbox_mails(data_dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("outbox"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|raw| (recipient(&raw), decode_body(&raw)))
        .collect()
}

/// The `To:` address of a raw mail.
pub fn recipient(raw: &str) -> String {
    raw.split("\r\n")
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap_or_default()
        .to_owned()
}

fn decode_body(raw: &str) -> String {
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
    let b64: String = body.split("\r\n").collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub admin_email: String,
    pub admin_id: String,
    pub admin_token: String,
}

impl Tenant {
    async fn with_admin_id(mut self, app: &App) -> Self {
        self.admin_id = r_str(&app.get("/v1/me", &self.admin_token).await.body["id"]);
        self
    }
}

/// Runs a test body once per backend: `both_backends!(name, |app| async move { ... })`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                let app = $crate::spawn_app(kanri::config::Backend::Embedded).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb() {
                let app = $crate::spawn_app(kanri::config::Backend::Aws).await;
                ($body)(app).await;
            }
        }
    };
}

/// Every stored item of both tables, as text (for checks that no plaintext PII is stored).
pub async fn dump_store(app: &App) -> String {
    use kanri::ports::Table;
    match app.backend {
        Backend::Embedded => {
            // The app holds the database open; read a copy of the file.
            let copy = app.data_dir.join("copy.redb");
            std::fs::copy(app.data_dir.join("kanri.redb"), &copy).expect("copy");
            let store = kanri::adapters::embedded::EmbeddedStore::open(&copy).expect("open copy");
            let mut out = String::new();
            for t in [Table::Data, Table::Log] {
                for item in store.scan_all(t).await.expect("scan") {
                    out.push_str(&format!("{item:?}\n"));
                    for v in item.attrs.values() {
                        if let kanri::ports::Value::B(b) = v {
                            out.push_str(&String::from_utf8_lossy(b));
                        }
                    }
                }
            }
            out
        }
        Backend::Aws => {
            let a = aws();
            let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            let mut out = String::new();
            for table in [&a.table, &a.log_table] {
                let pages = client
                    .scan()
                    .table_name(table)
                    .into_paginator()
                    .items()
                    .send();
                let items: Vec<_> = pages.collect::<Vec<_>>().await;
                for item in items {
                    let item = item.expect("scan");
                    out.push_str(&format!("{item:?}\n"));
                    for v in item.values() {
                        if let Ok(b) = v.as_b() {
                            out.push_str(&String::from_utf8_lossy(b.as_ref()));
                        }
                    }
                }
            }
            out
        }
    }
}

/// Whether the keys table still holds a tenant's wrapped data key.
pub async fn key_exists(app: &App, tenant: &str) -> bool {
    use kanri::ports::{ItemStore, Table};
    let pk = format!("T#{tenant}");
    match app.backend {
        Backend::Embedded => {
            let copy = app.data_dir.join("keys-copy.redb");
            let _ = std::fs::remove_file(&copy);
            std::fs::copy(app.data_dir.join("kanri.redb"), &copy).expect("copy");
            let store = kanri::adapters::embedded::EmbeddedStore::open(&copy).expect("open copy");
            store
                .get(Table::Keys, &pk, "DEK")
                .await
                .expect("get")
                .is_some()
        }
        Backend::Aws => {
            let a = aws();
            let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
            let store = kanri::adapters::aws::DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                a.table.clone(),
                a.log_table.clone(),
                a.keys_table.clone(),
            );
            store
                .get(Table::Keys, &pk, "DEK")
                .await
                .expect("get")
                .is_some()
        }
    }
}

/// A task queue that keeps what it is given, so a test runs the tasks itself (as a worker would).
#[derive(Default)]
pub struct HeldQueue(pub std::sync::Mutex<Vec<kanri::ports::Task>>);

#[async_trait::async_trait]
impl kanri::ports::TaskQueue for HeldQueue {
    async fn enqueue(
        &self,
        tasks: Vec<kanri::ports::Task>,
    ) -> Result<(), kanri::ports::QueueError> {
        self.0.lock().expect("queue lock").extend(tasks);
        Ok(())
    }
}

impl App {
    /// The app's services with another store, mailer or queue (failures injected, tasks held).
    pub fn services_with(
        &self,
        store: Option<std::sync::Arc<dyn kanri::ports::ItemStore>>,
        mailer: Option<std::sync::Arc<dyn kanri::ports::Mailer>>,
        queue: Option<std::sync::Arc<dyn kanri::ports::TaskQueue>>,
    ) -> kanri::app::Services {
        let s = &self.svc;
        kanri::app::Services {
            store: store.unwrap_or_else(|| s.store.clone()),
            keys: s.keys.clone(),
            mailer: mailer.unwrap_or_else(|| s.mailer.clone()),
            backups: s.backups.clone(),
            queue: queue.unwrap_or_else(|| s.queue.clone()),
            files: s.files.clone(),
            web: s.web.clone(),
            keyring: Default::default(),
            settings: s.settings.clone(),
        }
    }
}

impl App {
    /// The integrity check of `kanri-ops check` on one tenant: each broken invariant as text (none when the
    /// tenant's derived state is sound).
    pub async fn broken_invariants(&self, tenant_id: &str) -> Vec<String> {
        let tenant = kanri::domain::ids::TenantId::from_stored(tenant_id);
        kanri::app::integrity::check_tenant(&self.svc, &tenant)
            .await
            .expect("the integrity check runs")
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}
