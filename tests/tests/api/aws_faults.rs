//! Faults of the AWS backend, injected by a proxy in front of moto: a throttled DynamoDB or KMS answers 503
//! `unavailable` with `Retry-After` (never 500), a hung endpoint is answered 503 within the documented
//! bound (the SDK's operation timeout, or the HTTP layer's request timeout), and SQS tasks held by a
//! worker that stops heartbeating come back within their lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use kanri::adapters::aws::{SqsQueue, Timeouts};
use kanri::config::Backend;
use kanri::ports::{Task, TaskQueue};
use kanri_tests::{App, StatusCode, unique};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const PASS: u8 = 0;
const THROTTLE_DYNAMODB: u8 = 1;
const THROTTLE_KMS: u8 = 2;
const HANG_DYNAMODB: u8 = 3;

/// An HTTP proxy in front of moto that passes requests through, or throttles or hangs some of them.
struct Proxy {
    url: String,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mode = Arc::new(AtomicU8::new(PASS));
        let upstream = kanri_tests::aws().endpoint.clone();
        let m = mode.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (m, http, upstream) = (m.clone(), http.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, m, http, upstream).await;
                });
            }
        });
        Proxy { url, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// One connection: requests one after the other (the SDK keeps connections alive).
async fn serve(
    sock: tokio::net::TcpStream,
    mode: Arc<AtomicU8>,
    http: reqwest::Client,
    upstream: String,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut head = String::new();
        if r.read_line(&mut head).await? == 0 {
            return Ok(());
        }
        let mut parts = head.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("GET").to_owned(),
            parts.next().unwrap_or("/").to_owned(),
        );
        let mut headers = vec![];
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; length];
        r.read_exact(&mut body).await?;
        let target = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let dynamodb = target.starts_with("DynamoDB_");
        let kms = target.starts_with("TrentService.");
        let (status, ctype, extra, payload) = match mode.load(Ordering::SeqCst) {
            THROTTLE_DYNAMODB if dynamodb => (
                400,
                "application/x-amz-json-1.0".to_owned(),
                vec![],
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded (injected)"}"#.to_vec(),
            ),
            THROTTLE_KMS if kms => (
                400,
                "application/x-amz-json-1.1".to_owned(),
                vec![("x-amzn-ErrorType".to_owned(), "ThrottlingException".to_owned())],
                br#"{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}"#.to_vec(),
            ),
            HANG_DYNAMODB if dynamodb => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Ok(());
            }
            _ => {
                let mut req = http.request(
                    method.parse().unwrap_or(reqwest::Method::GET),
                    format!("{upstream}{path}"),
                );
                for (k, v) in &headers {
                    if !["host", "content-length", "connection", "transfer-encoding"]
                        .contains(&k.to_ascii_lowercase().as_str())
                    {
                        req = req.header(k, v);
                    }
                }
                let resp = req.body(body).send().await.map_err(std::io::Error::other)?;
                let status = resp.status().as_u16();
                let mut ctype = String::new();
                let mut extra = vec![];
                for (k, v) in resp.headers() {
                    let k = k.as_str().to_ascii_lowercase();
                    let v = v.to_str().unwrap_or_default().to_owned();
                    match k.as_str() {
                        "content-type" => ctype = v,
                        "content-length" | "connection" | "transfer-encoding" | "date"
                        | "server" => {}
                        _ => extra.push((k, v)),
                    }
                }
                let payload = resp.bytes().await.map_err(std::io::Error::other)?.to_vec();
                (status, ctype, extra, payload)
            }
        };
        let mut out = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n",
            payload.len()
        );
        for (k, v) in extra {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        w.write_all(out.as_bytes()).await?;
        w.write_all(&payload).await?;
        w.flush().await?;
    }
}

async fn app_behind(proxy: &Proxy, adjust: impl FnOnce(&mut kanri::config::Config)) -> App {
    let url = proxy.url.clone();
    kanri_tests::spawn_app_with(Backend::Aws, move |c| {
        c.aws_emulator = Some(url);
        // As deployed: the limits the documentation promises.
        c.aws_timeouts = Some(Timeouts::AWS);
        adjust(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttled_store_or_key_service_answers_503_with_retry_after() {
    let proxy = Proxy::start().await;
    let app = app_behind(&proxy, |_| {}).await;
    let t = app.onboard(5).await;

    proxy.set(THROTTLE_DYNAMODB);
    for (method, path, body) in [
        ("GET", "/v1/users", None),
        (
            "POST",
            "/v1/users",
            Some(
                json!({"name": "絞り", "email": format!("{}@example.jp", unique("thr")), "delivery": "invite_link"}),
            ),
        ),
    ] {
        let r = app.call(method, path, Some(&t.admin_token), body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{method} {path}: {r:?}"
        );
        assert!(r.headers.contains_key("retry-after"), "{r:?}");
    }
    // Readiness says so too.
    let r = app.call("GET", "/v1/health", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    proxy.set(PASS);
    assert_eq!(
        app.get("/v1/users", &t.admin_token).await.status,
        StatusCode::OK
    );
    let r = app.call("GET", "/v1/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // KMS: a fresh process must unwrap the tenant's key first.
    let cold = app_behind(&proxy, |_| {}).await;
    proxy.set(THROTTLE_KMS);
    let r = cold.get("/v1/users", &t.admin_token).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{r:?}"
    );
    assert!(r.headers.contains_key("retry-after"), "{r:?}");
    proxy.set(PASS);
    assert_eq!(
        cold.get("/v1/users", &t.admin_token).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_dependency_is_answered_503_within_the_documented_bound() {
    let proxy = Proxy::start().await;
    let app = app_behind(&proxy, |_| {}).await;
    let t = app.onboard(5).await;
    proxy.set(HANG_DYNAMODB);
    let started = Instant::now();
    let r = app.get("/v1/users", &t.admin_token).await;
    let took = started.elapsed();
    println!(
        "hung DynamoDB: answered {} after {:.1} s",
        r.status,
        took.as_secs_f64()
    );
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{r:?}"
    );
    // The SDK's operation timeout (8 s), with a second for the rest of the request.
    assert!(
        took <= Timeouts::AWS.operation + Duration::from_secs(1),
        "{took:?}"
    );

    // The HTTP layer's own limit, when the calls inside take longer than it (here: AWS calls allowed
    // minutes, the request two seconds).
    proxy.set(PASS);
    let slow = app_behind(&proxy, |c| {
        c.aws_timeouts = Some(Timeouts::EMULATOR);
        c.settings.request_timeout = Duration::from_secs(2);
    })
    .await;
    proxy.set(HANG_DYNAMODB);
    let started = Instant::now();
    let r = slow.get("/v1/users", &t.admin_token).await;
    let took = started.elapsed();
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{r:?}"
    );
    assert!(r.headers.contains_key("retry-after"), "{r:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    proxy.set(PASS);
}

/// A queue in moto with moto's default visibility timeout (30 s), so only the lease can bring a task
/// back sooner.
async fn moto_queue() -> String {
    let endpoint = kanri_tests::aws().endpoint.clone();
    let created = reqwest::Client::new()
        .post(&endpoint)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261126/ap-northeast-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&[
            ("Action", "CreateQueue"),
            ("QueueName", unique("kanri-lease-").as_str()),
            ("Version", "2012-11-05"),
        ])
        .send()
        .await
        .expect("moto answers")
        .text()
        .await
        .expect("body");
    created
        .split("<QueueUrl>")
        .nth(1)
        .and_then(|r| r.split("</QueueUrl>").next())
        .unwrap_or_else(|| panic!("no queue url in {created}"))
        .to_owned()
}

async fn sqs(url: &str, lease: Duration) -> SqsQueue {
    let sdk = kanri::adapters::aws::sdk_config(Some(&kanri_tests::aws().endpoint)).await;
    SqsQueue::new(
        kanri::adapters::aws::metrics::sqs_client(&sdk),
        url.to_owned(),
    )
    .with_lease(lease)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sqs_task_whose_worker_stops_comes_back_within_its_lease_and_heartbeats_keep_it() {
    let lease = Duration::from_secs(2);
    let queue = sqs(&moto_queue().await, lease).await;
    let task = Task::Import {
        tenant: "T".into(),
        import: unique("i"),
    };
    queue.enqueue(vec![task.clone()]).await.unwrap();
    // A worker takes it and dies (never deletes it, never extends it).
    let taken = queue.receive(0).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(queue.receive(0).await.unwrap().is_empty());
    tokio::time::sleep(lease + Duration::from_millis(700)).await;
    let back = queue.receive(0).await.unwrap();
    assert_eq!(back.len(), 1, "the task came back within its lease");
    assert_eq!(back[0].task.as_ref().ok(), Some(&task));
    // A worker that is alive extends the lease: nobody else gets the task meanwhile.
    for _ in 0..4 {
        queue.extend(&[back[0].receipt.clone()]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(queue.receive(0).await.unwrap().is_empty());
    }
    tokio::time::sleep(lease + Duration::from_millis(700)).await;
    assert_eq!(queue.receive(0).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_lambda_leases_its_batch_so_a_failed_task_comes_back_soon() {
    let app = kanri_tests::spawn_app(Backend::Aws).await;
    let lease = Duration::from_secs(2);
    let url = moto_queue().await;
    let queue = Arc::new(sqs(&url, lease).await);
    // The event source mapping receives with the queue's own visibility timeout (moto's 30 s; 300 s
    // in template.yaml).
    let event_source = sqs(&url, Duration::from_secs(30)).await;
    let s = &app.svc;
    let svc = kanri::app::Services {
        store: s.store.clone(),
        keys: s.keys.clone(),
        mailer: s.mailer.clone(),
        backups: s.backups.clone(),
        queue: queue.clone(),
        files: s.files.clone(),
        web: s.web.clone(),
        keyring: Default::default(),
        settings: s.settings.clone(),
    };
    queue
        .enqueue(vec![Task::NoticeFanout {
            notice: unique("n"),
        }])
        .await
        .unwrap();
    let msg = event_source.receive(0).await.unwrap().pop().unwrap();
    let event = serde_json::from_value(json!({"Records": [
        {"messageId": "m-bad", "receiptHandle": msg.receipt, "body": "{\"task\": \"unknown\"}"},
    ]}))
    .unwrap();
    let answer = kanri::worker::handle_sqs_event(&svc, Some(&queue), event).await;
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );
    // Reported failed, it is back within the lease the handler set, not the queue's 30 s.
    let started = Instant::now();
    loop {
        if !queue.receive(0).await.unwrap().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "not back within the lease"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
