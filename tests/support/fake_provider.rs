//! A fake streaming provider with scripted faults, and a paused-clock runtime with a
//! local recorder and captured logs, for the fallback chain tests.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::{Stream, StreamExt, stream};
use voxscope::{MetricsHandle, PrometheusInstaller};

/// What a fake provider does with one request.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers `chunks` chunks.
    None,
    /// Fails before the first chunk.
    Fail(StatusCode),
    /// Sends nothing for this long, then answers.
    Stall(Duration),
    /// Sends `n` chunks, then fails.
    FailAfter(usize, StatusCode),
    /// Sends `n` chunks, then stalls for this long before the rest.
    StallAfter(usize, Duration),
    /// Opens a stream that ends without an item.
    Empty,
    /// Sends a `meta` item at once, the first chunk after `first`, and each of the
    /// others `gap` after the one before.
    MetadataFirst {
        /// Until the first chunk.
        first: Duration,
        /// Between chunks.
        gap: Duration,
    },
    /// Sends the first chunk at once and each of the others this long after the one
    /// before.
    Paced(Duration),
}

/// A fake streaming provider: faults from a script, then the default.
pub struct Fake {
    name: &'static str,
    calls: AtomicUsize,
    script: Mutex<VecDeque<Fault>>,
    default: Mutex<Fault>,
}

/// What a fake provider streams.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<String, StatusCode>> + Send>>;

impl Fake {
    /// A provider named `name` that does `default` unless scripted otherwise.
    pub fn new(name: &'static str, default: Fault) -> Arc<Self> {
        Arc::new(Self {
            name,
            calls: AtomicUsize::new(0),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(default),
        })
    }

    /// Faults for the next requests, in order.
    pub fn script(self: &Arc<Self>, faults: impl IntoIterator<Item = Fault>) -> Arc<Self> {
        self.script.lock().unwrap().extend(faults);
        Arc::clone(self)
    }

    /// What the provider does once the script is used up.
    pub fn set_default(&self, fault: Fault) {
        *self.default.lock().unwrap() = fault;
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The provider function a chain calls.
    pub fn provider(
        self: &Arc<Self>,
    ) -> impl Fn(String) -> Pin<Box<dyn Future<Output = Result<Chunks, StatusCode>> + Send>>
    + Send
    + Sync
    + 'static {
        let fake = Arc::clone(self);
        move |text: String| {
            fake.calls.fetch_add(1, Ordering::SeqCst);
            let fault =
                fake.script.lock().unwrap().pop_front().unwrap_or(*fake.default.lock().unwrap());
            let name = fake.name;
            Box::pin(async move {
                let chunk = move |i: usize| Ok(format!("{name}:{text}:{i}"));
                let chunks: Chunks = match fault {
                    Fault::None => Box::pin(stream::iter((0..3).map(chunk))),
                    Fault::Fail(status) => return Err(status),
                    Fault::Stall(pause) => {
                        tokio::time::sleep(pause).await;
                        Box::pin(stream::iter((0..3).map(chunk)))
                    }
                    Fault::FailAfter(n, status) => {
                        Box::pin(stream::iter((0..n).map(chunk).chain([Err(status)])))
                    }
                    Fault::Empty => Box::pin(stream::empty()),
                    Fault::MetadataFirst { first, gap } => {
                        let chunks = stream::iter(0..3).then(move |i| {
                            let chunk = chunk.clone();
                            async move {
                                tokio::time::sleep(if i == 0 { first } else { gap }).await;
                                chunk(i)
                            }
                        });
                        Box::pin(stream::once(async { Ok("meta".to_owned()) }).chain(chunks))
                    }
                    Fault::Paced(pause) => Box::pin(stream::iter(0..3).then(move |i| {
                        let chunk = chunk.clone();
                        async move {
                            if i > 0 {
                                tokio::time::sleep(pause).await;
                            }
                            chunk(i)
                        }
                    })),
                    Fault::StallAfter(n, pause) => {
                        let last = chunk(n);
                        Box::pin(stream::iter((0..n).map(chunk)).chain(stream::once(async move {
                            tokio::time::sleep(pause).await;
                            last
                        })))
                    }
                };
                Ok(chunks)
            })
        }
    }
}

/// A current-thread runtime on tokio's paused clock, with a fresh local recorder.
pub fn paused<F, Fut>(test: F) -> MetricsHandle
where
    F: FnOnce(MetricsHandle) -> Fut,
    Fut: Future<Output = ()>,
{
    paused_with_logs(test).0
}

/// As [`paused`], and the INFO log lines the test wrote.
///
/// Every test of this binary logs under its own subscriber: tracing caches a callsite's
/// interest globally, and a test thread without one could register a callsite as
/// "never" while another test is capturing its lines.
pub fn paused_with_logs<F, Fut>(test: F) -> (MetricsHandle, String)
where
    F: FnOnce(MetricsHandle) -> Fut,
    Fut: Future<Output = ()>,
{
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let (recorder, handle) = PrometheusInstaller::new().build().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || runtime.block_on(test(handle.clone())));
    });
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    (handle, text)
}

/// Log lines written by the fmt subscriber, shared with the test.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
