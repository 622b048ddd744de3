//! Faults of the local server, as a process: `kill -9` in the middle of a background import and of a
//! notice mailing (restarted on the same data dir, the work finishes with every row created once and
//! every mail sent once), a full disk (a small tmpfs, where the machine lets us mount one: writes answer
//! 503 while it is full and recover without a restart once it has room), a backup killed half-way, and
//! servers racing to start on one data dir. They run `kanri-local` as built by `cargo build` (the newer of
//! the debug and release binaries, or `KANRI_LOCAL_BIN`).
//!
//! The figures (time to resume, mails lost or doubled, memory of a backup) are printed; run with
//! `--nocapture` to see them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kanri_tests::{StatusCode, outbox_mails, r_str, repo_root, unique};
use serde_json::{Value, json};

const OPERATOR: &str = "op-faults-test-token";

fn kanri_local() -> PathBuf {
    if let Some(bin) = std::env::var_os("KANRI_LOCAL_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    ["debug", "release"]
        .iter()
        .map(|p| target.join(p).join("kanri-local"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p)
        .expect("kanri-local is built (cargo build --workspace --bins)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `kanri-local` process on a data dir and port that survive its restarts.
struct Server {
    child: Option<Child>,
    base: String,
    port: u16,
    dir: PathBuf,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Server {
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            child: None,
            base: String::new(),
            port: free_port(),
            dir: dir.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            http: reqwest::Client::new(),
        };
        s.base = format!("http://127.0.0.1:{}", s.port);
        s.restart().await;
        s
    }

    fn spawn(&self, token: Option<&str>, port: u16) -> Child {
        let mut cmd = Command::new(kanri_local());
        cmd.env("KANRI_DATA_DIR", &self.dir)
            .env("KANRI_ADDR", format!("127.0.0.1:{port}"))
            .env("KANRI_PUBLIC_URL", "http://kanri.test")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(t) = token {
            cmd.env("KANRI_OPERATOR_TOKEN", t);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("kanri-local starts")
    }

    /// Starts the process (again) and waits until it answers.
    async fn restart(&mut self) {
        self.child = Some(self.spawn(Some(OPERATOR), self.port));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = self.http.get(self.url("/v1/health")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("kanri-local exited at start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("kanri-local did not answer within 30 s");
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// `kill -9`: no shutdown of any kind.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and wait for the process to end.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .http
            .request(method.parse().expect("method"), self.url(path))
            .timeout(Duration::from_secs(60));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = r.json().await.unwrap_or(Value::Null);
                Resp {
                    status,
                    body,
                    retry_after,
                }
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    async fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// A tenant whose admin has set a password and signed in: (tenant id, slug, session).
    async fn onboard(&self, seats: i64) -> (String, String, String) {
        let slug = unique("f-");
        let email = format!("{}@example.co.jp", unique("admin-"));
        let r = self
            .post(
                "/v1/ops/tenants",
                OPERATOR,
                json!({"slug": slug, "name": "障害テスト", "seat_limit": seats, "admin": {"name": "管理 太郎", "email": email}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r_str(&r.body["tenant"]["id"]);
        let body = outbox_mails(&self.dir)
            .into_iter()
            .rev()
            .find(|(to, _)| *to == email)
            .map(|(_, b)| b)
            .expect("the admin's invitation");
        let start = body.find("token=").expect("link") + "token=".len();
        let token: String = body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let password = "Kanri-faults-passw0rd!";
        let r = self
            .call(
                "POST",
                "/v1/auth/set-password",
                None,
                Some(json!({"token": token, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        let r = self
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": slug, "login": email, "password": password})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        (id, slug, r_str(&r.body["token"]))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[derive(Debug)]
struct Resp {
    status: StatusCode,
    body: Value,
    retry_after: Option<String>,
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("kanri-{name}-")));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn users_csv(prefix: &str, n: usize) -> String {
    let mut s = String::from("name,email,login_id,role,groups\n");
    for i in 0..n {
        s.push_str(&format!("利用者 {i},{prefix}-{i}@example.jp,,,\n"));
    }
    s
}

/// Mails in the outbox per recipient whose address starts with `prefix` and whose text holds `needle`.
fn mail_counts(dir: &Path, prefix: &str, needle: &str) -> std::collections::HashMap<String, usize> {
    let mut per = std::collections::HashMap::new();
    for (to, body) in outbox_mails(dir) {
        if to.starts_with(prefix) && body.contains(needle) {
            *per.entry(to).or_insert(0) += 1;
        }
    }
    per
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_background_import_killed_half_way_resumes_after_a_restart_with_every_row_and_mail_once()
{
    let dir = scratch("crash-import");
    let mut srv = Server::start(&dir, &[]).await;
    let rows = 8000;
    let (_, _, session) = srv.onboard(rows as i64 + 10).await;
    let prefix = unique("ci");
    let csv = users_csv(&prefix, rows).into_bytes();
    let r = srv
        .post(
            "/v1/uploads",
            &session,
            json!({"purpose": "user_import", "filename": "users.csv", "content_type": "text/csv", "size": csv.len()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let up = r_str(&r.body["id"]);
    let url = r_str(&r.body["upload_url"]).replace("http://kanri.test", &srv.base);
    let mut put = srv.http.put(url);
    for (k, v) in r.body["upload_headers"].as_object().expect("headers") {
        put = put.header(k, v.as_str().expect("header"));
    }
    assert!(
        put.body(csv)
            .send()
            .await
            .expect("PUT")
            .status()
            .is_success()
    );
    let r = srv
        .post(
            "/v1/imports",
            &session,
            json!({"upload_id": up, "kind": "users"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let id = r_str(&r.body["id"]);
    let path = format!("/v1/imports/{id}");

    // kill -9 once a good part of the rows is in.
    let (at_kill, updated_at_kill) = loop {
        let r = srv.get(&path, &session).await;
        let processed = r.body["processed"].as_i64().unwrap_or(0);
        assert_ne!(
            r.body["status"], "done",
            "the import ended before the kill: {r:?}"
        );
        if processed >= 1500 {
            srv.kill9();
            break (processed, r_str(&r.body["updated_at"]));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Restarted on the same data dir, the import resumes by itself.
    let restarted = Instant::now();
    srv.restart().await;
    let mut resumed = None;
    let done = loop {
        let r = srv.get(&path, &session).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        if resumed.is_none() && r.body["processed"].as_i64().unwrap_or(0) > at_kill {
            resumed = Some(restarted.elapsed());
            assert!(r_str(&r.body["updated_at"]) >= updated_at_kill, "{r:?}");
        }
        if r.body["status"] != "running" && r.body["status"] != "queued" {
            break r.body;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(120),
            "no end 120 s after the restart: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let finished = restarted.elapsed();
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (done["processed"].as_i64(), done["created"].as_i64()),
        (Some(rows as i64), Some(rows as i64)),
        "{done}"
    );
    // Every row created exactly once: the seat counter and the user list agree.
    let tenant = srv.get("/v1/tenant", &session).await.body;
    assert_eq!(tenant["seats_used"], rows + 1, "{tenant}");
    let mut listed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let p = match &cursor {
            Some(c) => format!("/v1/users?limit=200&cursor={c}"),
            None => "/v1/users?limit=200".into(),
        };
        let page = srv.get(&p, &session).await.body;
        listed += page["items"].as_array().expect("items").len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed, rows + 1);
    // Every invitation mailed exactly once, those of the rows in flight at the kill too.
    let mails = mail_counts(&dir, &prefix, "/set-password?token=");
    let lost = (0..rows)
        .filter(|i| !mails.contains_key(&format!("{prefix}-{i}@example.jp")))
        .count();
    let doubled = mails.values().filter(|n| **n > 1).count();
    println!(
        "import crash: killed at {at_kill} of {rows} rows; after the restart the import moved on in {:.1} s \
         and was done in {:.1} s; invitations lost {lost}, doubled {doubled}",
        resumed.unwrap_or_default().as_secs_f64(),
        finished.as_secs_f64()
    );
    assert_eq!((lost, doubled), (0, 0));
    // The file went with the import's end.
    assert_eq!(
        srv.get(&format!("/v1/uploads/{up}"), &session).await.status,
        StatusCode::NOT_FOUND
    );
    srv.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notice_mailing_killed_half_way_reaches_every_subscriber_exactly_once_after_a_restart() {
    let dir = scratch("crash-notice");
    // Paced, so the kill lands in the middle of the mailing.
    let mut srv = Server::start(&dir, &[("KANRI_MAIL_RATE", "25")]).await;
    let n = 300;
    let (tenant, _, session) = srv.onboard(n as i64 + 10).await;
    let prefix = unique("cn");
    let r = srv
        .http
        .post(srv.url("/v1/users/import?delivery=invite_link"))
        .bearer_auth(&session)
        .header("content-type", "text/csv")
        .body(users_csv(&prefix, n))
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.expect("report");
    let ids: Vec<String> = report["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| r_str(&u["id"]))
        .collect();
    assert_eq!(ids.len(), n);
    // Their subscriptions, written into the store while the server is down (300 sign-ins would take
    // minutes of argon2).
    srv.stop();
    {
        use kanri::ports::{BatchWrite, Item, ItemStore, Table, Value as V};
        let store = kanri::adapters::embedded::EmbeddedStore::open(&dir.join("kanri.redb"))
            .expect("the store, with the server stopped");
        let writes = ids
            .iter()
            .map(|id| {
                let u = kanri::domain::ids::UserId::from_stored(id.clone());
                BatchWrite::Put(
                    Item::new(
                        format!("T#{tenant}"),
                        kanri::app::layout::subscription_sk("release", &u),
                    )
                    .with("user", V::S(id.clone())),
                )
            })
            .collect();
        store
            .batch_write(Table::Data, writes)
            .await
            .expect("subscriptions");
    }
    srv.restart().await;
    let title = format!("停止テスト {}", unique("r"));
    let r = srv
        .post(
            "/v1/ops/notices",
            OPERATOR,
            json!({"kind": "release", "title": title, "body": "本文"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let notice = r_str(&r.body["id"]);

    let at_kill = loop {
        let sent = mail_counts(&dir, &prefix, &title).len();
        if sent >= 100 {
            srv.kill9();
            break mail_counts(&dir, &prefix, &title).len();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(at_kill < n, "the mailing ended before the kill");
    let restarted = Instant::now();
    srv.restart().await;
    let mut resumed = None;
    let view = loop {
        let got = mail_counts(&dir, &prefix, &title).len();
        if resumed.is_none() && got > at_kill {
            resumed = Some(restarted.elapsed());
        }
        let list = srv.get("/v1/ops/notices?limit=200", OPERATOR).await;
        let item = list.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["id"] == notice.as_str())
            .cloned()
            .expect("the notice");
        if got == n && item["mails_remaining"] == 0 {
            break item;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(90),
            "{got} of {n} mailed 90 s after the restart: {item}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let finished = restarted.elapsed();
    let mails = mail_counts(&dir, &prefix, &title);
    let lost = n - mails.len();
    let doubled = mails.values().filter(|c| **c > 1).count();
    println!(
        "notice crash: killed after {at_kill} of {n} mails; after the restart mails went on in {:.1} s, all \
         done in {:.1} s; lost {lost}, doubled {doubled}; the operator saw {view}",
        resumed.unwrap_or_default().as_secs_f64(),
        finished.as_secs_f64()
    );
    assert_eq!((lost, doubled), (0, 0));
    assert_eq!(view["mails_sent"], n, "{view}");
    srv.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tmpfs mounted for the test, unmounted when it ends.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(size_mb: u32) -> Option<Mount> {
        let dir = scratch("tmpfs");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Mount(dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_and_writes_recover_without_a_restart() {
    let Some(mount) = Mount::tmpfs(24) else {
        // The embedded store's unit test `after_a_full_disk_writes_recover_without_a_restart` injects
        // the same I/O error into redb wherever this cannot run.
        eprintln!("skipped: this machine does not let the test mount a tmpfs");
        return;
    };
    let dir = mount.0.join("data");
    let mut srv = Server::start(&dir, &[("KANRI_STORE_CACHE_MB", "4")]).await;
    let (_, _, session) = srv.onboard(10_000).await;
    let create = |i: usize| {
        let (srv, session) = (&srv, &session);
        async move {
            srv.post(
                "/v1/users",
                session,
                json!({"name": format!("満杯 {i}"), "login_id": format!("full{i}-{}", unique("u")), "delivery": "invite_link", "email": format!("full{i}@example.jp")}),
            )
            .await
        }
    };
    assert_eq!(create(0).await.status, StatusCode::CREATED);

    // Fill the disk.
    let filler = mount.0.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let block = vec![7u8; 256 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    let mut unavailable = None;
    for i in 1..400 {
        let r = create(i).await;
        assert_ne!(
            r.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "a full disk is not an internal error: {r:?}"
        );
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            unavailable = Some(r);
            break;
        }
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    }
    let r = unavailable.expect("a write fails once the disk is full");
    assert_eq!(r.body["error"]["code"], "unavailable", "{r:?}");
    assert!(r.retry_after.is_some(), "{r:?}");
    let health = srv.call("GET", "/v1/health", None, None).await;
    println!(
        "full disk: write answered {}, health {}",
        r.status, health.status
    );
    assert_ne!(health.status, StatusCode::INTERNAL_SERVER_ERROR);

    // Room again: writes go through, with no restart.
    std::fs::remove_file(&filler).expect("filler removed");
    let mut recovered = None;
    for i in 400..450 {
        let r = create(i).await;
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{r:?}");
        if r.status == StatusCode::CREATED {
            recovered = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered.is_some(), "writes did not recover");
    let health = srv.call("GET", "/v1/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK, "{health:?}");
    assert_eq!(health.body["status"], "ok");
    srv.kill9();
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_streams_in_bounded_memory_and_a_killed_one_leaves_no_partial_file() {
    let dir = scratch("backup");
    // An 80 MB store, written before the server starts.
    {
        use kanri::ports::{BatchWrite, Item, ItemStore, Table, Value as V};
        let store =
            kanri::adapters::embedded::EmbeddedStore::open(&dir.join("kanri.redb")).expect("store");
        for part in 0..20 {
            let writes = (0..1000)
                .map(|i| {
                    let bytes: Vec<u8> = (0..4096)
                        .map(|b| ((b * 31 + i + part) % 251) as u8)
                        .collect();
                    BatchWrite::Put(
                        Item::new(format!("FILLER#{part}"), format!("{i:06}"))
                            .with("b", V::B(bytes)),
                    )
                })
                .collect();
            store.batch_write(Table::Log, writes).await.expect("filler");
        }
    }
    // A backup that a killed process left half-written.
    std::fs::create_dir_all(dir.join("backups")).expect("backups dir");
    std::fs::write(dir.join("backups/20260101T000000Z.partial"), b"half").expect("partial");

    let mut srv = Server::start(&dir, &[("KANRI_STORE_CACHE_MB", "16")]).await;
    let partials = |dir: &Path| {
        std::fs::read_dir(dir.join("backups"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        partials(&dir),
        0,
        "a stale partial file is removed at start"
    );

    let before = status_kib(srv.pid(), "VmRSS");
    let r = srv.post("/v1/ops/jobs/backup", OPERATOR, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let peak = status_kib(srv.pid(), "VmHWM");
    let grew_mib = peak.saturating_sub(before) as f64 / 1024.0;
    let size = std::fs::metadata(dir.join("kanri.redb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "backup of a {:.0} MiB store: RSS {:.0} MiB before, peak {:.0} MiB ({grew_mib:.0} MiB more)",
        size as f64 / 1048576.0,
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert!(
        grew_mib < 60.0,
        "a backup grew the server by {grew_mib:.0} MiB"
    );

    // A backup killed half-way leaves its partial file; the next start removes it.
    let backup = srv
        .http
        .post(srv.url("/v1/ops/jobs/backup"))
        .bearer_auth(OPERATOR)
        .json(&json!({}))
        .send();
    let killer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    tokio::select! {
        _ = backup => {},
        _ = killer => {},
    }
    let during = partials(&dir);
    srv.kill9();
    srv.restart().await;
    println!(
        "backup killed: {during} partial file(s) during it, {} after the restart",
        partials(&dir)
    );
    assert_eq!(partials(&dir), 0);
    srv.kill9();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_racing_to_start_on_one_data_dir_leave_the_token_the_survivor_accepts() {
    for round in 0..3 {
        let dir = scratch("race");
        let probe = Server {
            child: None,
            base: String::new(),
            port: 0,
            dir: dir.clone(),
            env: vec![],
            http: reqwest::Client::new(),
        };
        let ports: Vec<u16> = (0..10).map(|_| free_port()).collect();
        let mut children: Vec<Child> = ports.iter().map(|p| probe.spawn(None, *p)).collect();
        // The losers exit at once; the one that holds the store serves.
        let started = Instant::now();
        let survivor = loop {
            let mut alive = vec![];
            for (i, c) in children.iter_mut().enumerate() {
                if matches!(c.try_wait(), Ok(None)) {
                    alive.push(i);
                }
            }
            let mut serving = None;
            for &i in &alive {
                if let Ok(r) = probe
                    .http
                    .get(format!("http://127.0.0.1:{}/v1/health", ports[i]))
                    .send()
                    .await
                    && r.status() == StatusCode::OK
                {
                    serving = Some(i);
                }
            }
            if let (Some(i), 1) = (serving, alive.len()) {
                break i;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round}: {alive:?} alive"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let token = std::fs::read_to_string(dir.join("operator-token")).expect("token file");
        let r = probe
            .http
            .get(format!(
                "http://127.0.0.1:{}/v1/ops/notices",
                ports[survivor]
            ))
            .bearer_auth(token.trim())
            .send()
            .await
            .expect("ops call");
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "round {round}: the token file is not the survivor's"
        );
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The same race made certain: a start that finds the store taken writes no token file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_start_that_finds_the_store_taken_writes_no_token() {
    let dir = scratch("token");
    let mut first = kanri_tests::config(kanri::config::Backend::Embedded, dir.clone());
    first.operator_token = Some("op-first".into());
    let held = kanri::http::local::app_with_services(&first).await;
    assert!(held.is_ok());
    let mut second = kanri_tests::config(kanri::config::Backend::Embedded, dir.clone());
    second.operator_token = None;
    let refused = kanri::http::local::app_with_services(&second).await;
    assert!(refused.is_err());
    assert!(
        !dir.join("operator-token").exists(),
        "the refused start wrote a token the running server does not know"
    );
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
