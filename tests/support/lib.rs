//! Helpers for voxscope's end-to-end tests: real servers on loopback, a parser for the
//! Prometheus text exposition, and promtool.

pub mod fake_provider;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use voxscope::{MetricsHandle, PrometheusInstaller};

/// Serves `app` on 127.0.0.1, port chosen by the OS, on the current runtime.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server");
    });
    addr
}

/// Starts the demo voice service through `voice_agent::start`, which
/// `voice_agent::run` (what its `main` calls) awaits, and serves it in a task, with
/// `args` as its command line after the program name and `env` as its environment,
/// recording into `metrics`, on 127.0.0.1 port 0. Unless `args` say otherwise, the
/// built-in callers are off (`--callers 0`) and the incident timeline too
/// (`--timeline off`), so a test counts only the traffic it makes; tests/demo_story.rs
/// runs the story itself. It serves until the test ends; [`start_stoppable_demo`]
/// returns a handle that shuts it down.
pub async fn start_demo(
    args: &[&str],
    env: impl Fn(&str) -> Option<String>,
    metrics: &MetricsHandle,
) -> SocketAddr {
    let (addr, serving) = spawn_demo(args, env, metrics, std::future::pending()).await;
    tokio::spawn(async move { serving.await.expect("demo task").expect("demo serving") });
    addr
}

/// [`start_demo`], with a handle that shuts the demo down as its `main` does on a
/// signal and checks that it served without error.
///
/// ```no_run
/// # async fn f(metrics: &voxscope::MetricsHandle) {
/// let demo = voxscope_tests::start_stoppable_demo(&[], |_| None, metrics).await;
/// let _media = format!("ws://{}/media", demo.addr);
/// demo.stop().await;
/// # }
/// ```
pub async fn start_stoppable_demo(
    args: &[&str],
    env: impl Fn(&str) -> Option<String>,
    metrics: &MetricsHandle,
) -> RunningDemo {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let (addr, serving) = spawn_demo(args, env, metrics, shutdown).await;
    RunningDemo { addr, stop, serving }
}

/// The demo of [`start_stoppable_demo`], serving until [`RunningDemo::stop`].
#[derive(Debug)]
pub struct RunningDemo {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), String>>,
}

impl RunningDemo {
    /// Shuts the demo down and waits until it stopped serving; panics if it failed.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.serving.await.expect("demo task").expect("demo serving");
    }
}

/// The demo's command line as [`start_demo`] describes it, started through
/// `voice_agent::start` and served in a task until `shutdown`.
async fn spawn_demo(
    args: &[&str],
    env: impl Fn(&str) -> Option<String>,
    metrics: &MetricsHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (SocketAddr, tokio::task::JoinHandle<Result<(), String>>) {
    let said = |flag: &str| args.iter().any(|arg| arg.split('=').next() == Some(flag));
    let quiet = [("--callers", "0"), ("--timeline", "off")]
        .into_iter()
        .filter(|(flag, _)| !said(flag))
        .flat_map(|(flag, value)| [flag, value]);
    let args = std::iter::once("voice_agent").chain(quiet).chain(args.iter().copied());
    let config = voice_agent::config::Config::parse(args, env).expect("demo config");
    let tracing =
        voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("voice_agent"))
            .expect("trace pipeline");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let serving =
        voice_agent::start(&config, metrics, &tracing, listener, shutdown).expect("demo service");
    (addr, tokio::spawn(async move { serving.await.map_err(|error| format!("{error:#}")) }))
}

/// Runs `test` on a current-thread runtime with a fresh Prometheus recorder as the
/// thread's local recorder: server, client and layer all record into it, and nothing
/// leaks between tests. Returns the handle for a final render.
pub fn with_local_prometheus<F, Fut>(test: F) -> MetricsHandle
where
    F: FnOnce(MetricsHandle) -> Fut,
    Fut: Future<Output = ()>,
{
    on_local_prometheus(tokio::runtime::Builder::new_current_thread().enable_all(), test)
}

/// [`with_local_prometheus`] on a runtime whose clock starts paused: when every task
/// waits, time jumps to the next timer, so minutes of a call pass in milliseconds and
/// timers fire at exact instants. Loopback IO still runs for real: a write is readable
/// at once, before the clock may move.
pub fn with_local_prometheus_paused<F, Fut>(test: F) -> MetricsHandle
where
    F: FnOnce(MetricsHandle) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut builder = tokio::runtime::Builder::new_current_thread();
    on_local_prometheus(builder.enable_all().start_paused(true), test)
}

fn on_local_prometheus<F, Fut>(builder: &mut tokio::runtime::Builder, test: F) -> MetricsHandle
where
    F: FnOnce(MetricsHandle) -> Fut,
    Fut: Future<Output = ()>,
{
    let (recorder, handle) = PrometheusInstaller::new().build().expect("recorder");
    let runtime = builder.build().expect("runtime");
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(handle.clone())));
    handle
}

/// Polls `condition` every 20 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One sample line of the exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Series name, with any `_bucket`/`_sum`/`_count` suffix.
    pub name: String,
    /// Labels in exposition order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn matches(&self, wanted: &[(&str, &str)]) -> bool {
        wanted.iter().all(|(k, v)| self.label(k) == Some(v))
    }
}

/// A parsed Prometheus text exposition.
#[derive(Clone, Debug)]
pub struct Exposition {
    /// The raw text.
    pub text: String,
    /// Every sample line.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses `text`; panics on a line that is not valid exposition.
    pub fn parse(text: impl Into<String>) -> Self {
        let text = text.into();
        let samples = text
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                parse_sample(line).unwrap_or_else(|| panic!("bad exposition line {line:?}"))
            })
            .collect();
        Self { text, samples }
    }

    /// Renders `handle` after upkeep and parses it.
    pub fn render(handle: &MetricsHandle) -> Self {
        handle.run_upkeep();
        Self::parse(handle.render())
    }

    /// Samples named exactly `name` whose labels include `wanted`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        wanted: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name && s.matches(wanted))
    }

    /// Sum of `name` over the series whose labels include `wanted`.
    pub fn sum(&self, name: &str, wanted: &[(&str, &str)]) -> f64 {
        self.find(name, wanted).map(|s| s.value).sum()
    }

    /// Observations of histogram `name` whose labels include `wanted`.
    pub fn count(&self, histogram: &str, wanted: &[(&str, &str)]) -> u64 {
        self.sum(&format!("{histogram}_count"), wanted) as u64
    }

    /// The distinct values of label `key` on series `name`.
    pub fn label_values(&self, name: &str, key: &str) -> Vec<String> {
        let mut values: Vec<String> =
            self.find(name, &[]).filter_map(|s| s.label(key)).map(str::to_owned).collect();
        values.sort();
        values.dedup();
        values
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Some(Sample { name: series.to_owned(), labels: Vec::new(), value });
    };
    let body = rest.strip_suffix('}')?;
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key, value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some(Sample { name: name.to_owned(), labels, value })
}

/// promtool from PATH. Absent, the caller skips with a printed reason, unless `CI` is
/// set, where absence is a failure.
pub fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("promtool")).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is not on PATH and CI is set: install Debian's prometheus package"
        );
        eprintln!("skipped: promtool is not on PATH (apt-get install prometheus)");
    }
    found
}

/// Runs `promtool check metrics` on `exposition`; `Err` holds its findings.
pub fn promtool_check_metrics(promtool: &PathBuf, exposition: &str) -> Result<(), String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run promtool: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(exposition.as_bytes())
        .map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && findings.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("promtool check metrics ({}): {findings}", output.status))
    }
}
