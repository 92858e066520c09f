//! Shared by the delivery tests: loopback receivers that record what they are sent, a
//! runtime whose sends count into a recorder of their own, and a sample notification.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use voxscope_alerting::notification::{Notification, NotifiedAlert, Status};

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// The body as sent, for receivers that take a form.
    pub raw: String,
    pub at: tokio::time::Instant,
}

/// What a receiver answers to its nth request (0-based).
pub type Answer = Arc<dyn Fn(usize) -> Response + Send + Sync>;

/// An HTTP receiver on loopback recording every POST on any path.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Serves on 127.0.0.1 (port from the OS), answering with `answer`.
    pub async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, answer)
    }

    /// Serves on `listener`.
    pub fn serve(listener: tokio::net::TcpListener, answer: Answer) -> Self {
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                let answer = answer.clone();
                async move {
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(Received {
                            path: uri.path().to_owned(),
                            headers,
                            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                            raw: String::from_utf8_lossy(&body).into_owned(),
                            at: tokio::time::Instant::now(),
                        });
                        log.len() - 1
                    };
                    answer(n)
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.received.lock().unwrap().iter().map(|r| r.body.clone()).collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

/// Always `status` with `body`.
pub fn answer(status: u16, body: &'static str) -> Answer {
    Arc::new(move |_| (StatusCode::from_u16(status).unwrap(), body).into_response())
}

/// Runs `test` on a current-thread runtime (its clock paused when `paused`) with a
/// fresh metrics recorder; returns `voxscope_notifications_total` by (channel, result).
pub fn run<F, Fut>(paused: bool, test: F) -> Counts
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .expect("runtime");
    counted(|| runtime.block_on(test()))
}

/// Runs `f` with a fresh metrics recorder; returns `voxscope_notifications_total` by
/// (channel, result).
pub fn counted(f: impl FnOnce()) -> Counts {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    let mut counts = Counts::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        if key.name() != "voxscope_notifications_total" {
            continue;
        }
        let label = |name: &str| {
            key.labels().find(|l| l.key() == name).map(|l| l.value().to_owned()).unwrap_or_default()
        };
        if let DebugValue::Counter(n) = value {
            counts.0.push((label("channel"), label("result"), n));
        }
    }
    counts.0.sort();
    counts
}

/// `voxscope_notifications_total` samples: (channel, result, value), sorted.
#[derive(Debug, Default, PartialEq)]
pub struct Counts(pub Vec<(String, String, u64)>);

impl Counts {
    /// The value of one series, 0 when absent.
    pub fn get(&self, channel: &str, result: &str) -> u64 {
        self.0.iter().find(|(c, r, _)| c == channel && r == result).map_or(0, |(_, _, n)| *n)
    }
}

/// A firing ServiceDown notification for `receiver`.
pub fn notification(receiver: &str, status: Status) -> Notification {
    let labels = |pairs: &[(&str, &str)]| {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let alert = NotifiedAlert {
        fingerprint: "5b1c2e0f9d3a7b44".to_owned(),
        status,
        labels: labels(&[
            ("alertname", "ServiceDown"),
            ("category", "availability"),
            ("job", "voice_agent"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[
            ("summary", "voice_agent is down"),
            ("description", "No scrape of voice_agent succeeded for 1m & <nothing> answers."),
            ("runbook_url", "https://runbooks.example.org/ServiceDown.md"),
            ("dashboard", "http://grafana:3000/d/voxscope-overview"),
        ]),
        // 2026-01-02T03:04:05.678Z
        starts_at_ms: 1_767_323_045_678,
        ends_at_ms: (status == Status::Resolved).then_some(1_767_323_345_678),
        generator_url: "http://voice-agent:3000/api/v1/rules".to_owned(),
    };
    Notification {
        receiver: receiver.to_owned(),
        group_key: "{}/{severity=~\"critical|emergency\"}:{alertname=\"ServiceDown\"}".to_owned(),
        group_labels: labels(&[("alertname", "ServiceDown"), ("job", "voice_agent")]),
        status,
        alerts: vec![alert],
        escalation_step: None,
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join(format!("voxscope-alerting-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` inside; returns its path as a string.
    pub fn file(&self, name: &str, contents: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `name` from PATH. Absent, the caller skips with a printed reason, unless `CI` is set,
/// where absence is a failure naming what to install.
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is not on PATH and CI is set: {install}");
        eprintln!("skipped: {name} is not on PATH ({install})");
    }
    found
}

/// Debian's Alertmanager on loopback, killed on drop.
pub struct Alertmanager {
    child: Child,
    /// The port of its API.
    pub port: u16,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Starts `binary` with `config_file`, its data under `dir`, on a free loopback
    /// port, and waits (30 s at most) until it is ready.
    pub async fn start(binary: &Path, config_file: &str, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .arg(format!("--config.file={config_file}"))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager");
        let alertmanager = Self { child, port };
        let client = reqwest::Client::new();
        let ready = format!("http://127.0.0.1:{port}/-/ready");
        let started = Instant::now();
        while !client.get(&ready).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(30), "alertmanager not ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        alertmanager
    }
}
