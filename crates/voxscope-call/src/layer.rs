//! [`CallLayer`] and its builder.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use tower::Layer;
use voxscope_core::{ConfigError, validate_nonzero};

use crate::admission::Admission;
use crate::call::Call;
use crate::handles::Instruments;
use crate::keepalive::KeepaliveSettings;
use crate::protocol::Protocol;
use crate::service::CallMetrics;
use crate::state::CallState;

/// Opens a [`Call`] for each WebSocket upgrade request on the route(s) it wraps, and
/// ends it exactly once; optionally sheds calls beyond a capacity with `503` and
/// `Retry-After`. Requests that are not upgrades pass through uncounted.
///
/// ```
/// use axum::{Router, routing::any};
/// use voxscope_call::{CallLayer, Protocol};
///
/// let layer = CallLayer::builder(Protocol::Twilio)
///     .max_calls(200)
///     .call_id_query("callSid")
///     .build()?;
/// let app: Router = Router::new()
///     .route("/media", any(|| async { "upgrade here" }))
///     .route_layer(layer);
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CallLayer {
    shared: Arc<Shared>,
}

impl CallLayer {
    /// A layer for `protocol` with default settings; fails only for a `RawPcm` with a
    /// zero sample rate or a sample width outside 1..=4.
    ///
    /// ```
    /// let layer = voxscope_call::CallLayer::new(voxscope_call::Protocol::Vonage)?;
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn new(protocol: Protocol) -> Result<Self, ConfigError> {
        Self::builder(protocol).build()
    }

    /// A builder for a customised layer.
    pub fn builder(protocol: Protocol) -> CallLayerBuilder {
        CallLayerBuilder::new(protocol)
    }

    /// Opens a call without an HTTP request (another transport, a test): admitted
    /// against the same capacity. `None` when it was shed, which counts as `rejected`.
    ///
    /// ```
    /// let layer = voxscope_call::CallLayer::new(voxscope_call::Protocol::Twilio)?;
    /// let call = layer.open_call(Some("CA123")).expect("no capacity set");
    /// assert_eq!(call.id(), "CA123");
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn open_call(&self, id: Option<&str>) -> Option<Call> {
        self.shared.admit(id.filter(|id| valid_id(id)).map(str::to_owned))
    }

    /// Calls admitted and not yet ended.
    pub fn active_calls(&self) -> usize {
        self.shared.admission.active.load(Ordering::Acquire)
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallMetrics::new(inner, Arc::clone(&self.shared))
    }
}

/// Settings of a [`CallLayer`], validated by [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct CallLayerBuilder {
    protocol: Protocol,
    transport: Option<&'static str>,
    max_calls: Option<usize>,
    count_only: bool,
    retry_after: Duration,
    id_header: Option<String>,
    id_query: Option<String>,
    gap_factor: f64,
    idle_timeout: Option<Duration>,
    keepalive: Option<KeepaliveSettings>,
}

impl CallLayerBuilder {
    fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            transport: None,
            max_calls: None,
            count_only: false,
            retry_after: Duration::from_secs(5),
            id_header: None,
            id_query: None,
            gap_factor: 3.0,
            idle_timeout: None,
            keepalive: None,
        }
    }

    /// The `transport` label, instead of the protocol's name (say `browser` for
    /// raw PCM from web clients). Lowercase letters, digits and `_`.
    pub fn transport(mut self, label: &'static str) -> Self {
        self.transport = Some(label);
        self
    }

    /// At most `max` concurrent calls; exported as `voice_calls_capacity` from the moment
    /// the layer is built (and again at the first call). Beyond it,
    /// requests get `503 Service Unavailable` with `Retry-After` before any upgrade.
    pub fn max_calls(mut self, max: usize) -> Self {
        self.max_calls = Some(max);
        self
    }

    /// With a capacity: record it and the load, but never refuse a call.
    pub fn count_only(mut self, count_only: bool) -> Self {
        self.count_only = count_only;
        self
    }

    /// The `Retry-After` of a shed call, in whole seconds (default 5 s).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Takes the call id from this request header when present and sane.
    pub fn call_id_header(mut self, name: impl Into<String>) -> Self {
        self.id_header = Some(name.into());
        self
    }

    /// Takes the call id from this query parameter when present and sane.
    pub fn call_id_query(mut self, name: impl Into<String>) -> Self {
        self.id_query = Some(name.into());
        self
    }

    /// An inbound media frame that follows the previous one by more than `factor`
    /// times its audio length (by arrival or by the protocol's timestamps) closes a gap
    /// (default 3: 60 ms for 20 ms frames); the frames that would have filled the gap
    /// count as missing in `voice_call_audio_quality`.
    pub fn gap_factor(mut self, factor: f64) -> Self {
        self.gap_factor = factor;
        self
    }

    /// Ends a call whose peer has sent nothing for `timeout` as `dropped`, with
    /// `end=idle_timeout` in its end-of-call log line: a caller whose network vanished
    /// without a FIN or RST would otherwise hold its call and capacity slot forever.
    /// Media streams send a frame every 20 ms, so a few seconds is ample. Off by default.
    ///
    /// The tracked socket's stream then ends (`None`), so a handler's read loop returns;
    /// the call ends when the handler drops the socket. Measured while the handler reads
    /// the socket, on tokio's timer (the runtime needs its time driver, as
    /// `#[tokio::main]` enables).
    ///
    /// ```
    /// use std::time::Duration;
    /// use voxscope_call::{CallLayer, Protocol};
    ///
    /// let layer = CallLayer::builder(Protocol::Twilio).idle_timeout(Duration::from_secs(10)).build()?;
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Pings the peer every `interval` and ends a call that leaves `misses` pings in a
    /// row unanswered as `dropped`, with `end=ping_timeout` in its end-of-call log line:
    /// a caller whose network vanished, or a client that stopped reading (and so stopped
    /// answering) while it still sends. Each answered ping observes its round trip in
    /// `voice_call_ping_rtt_seconds`; the end-of-call log line has the call's mean,
    /// `mean_ping_rtt_s`. Off by default, and then no ping is sent and the histogram is
    /// not registered.
    ///
    /// A ping is answered when the pong carrying its payload arrives before the next
    /// ping is due (browsers and WebSocket libraries answer pings by themselves, while
    /// they read): a peer gone silent is dropped `interval * (misses + 1)` after the last
    /// ping it answered. A pong answering a ping is not activity for
    /// [`idle_timeout`](Self::idle_timeout), which keeps meaning "no frame from the
    /// peer".
    ///
    /// Pings are sent, and pongs read, while the handler reads the tracked socket (or
    /// the stream half of its `split`), on tokio's timer: the first ping goes one
    /// interval after the handler first waits for a frame, and a round trip includes
    /// how late the handler reads and how long the ping waited behind audio already
    /// queued for the peer. A writer task waiting on the socket's back-pressure is not
    /// held up by them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use voxscope_call::{CallLayer, Protocol};
    ///
    /// let layer = CallLayer::builder(Protocol::Twilio)
    ///     .ping_keepalive(Duration::from_secs(10), 2)
    ///     .build()?;
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn ping_keepalive(mut self, interval: Duration, misses: u32) -> Self {
        self.keepalive = Some(KeepaliveSettings { interval, misses });
        self
    }

    /// Validates the settings and builds the layer.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: a zero `max_calls`, a `retry_after` under one
    /// second, an `idle_timeout` of zero or over a day, a keepalive `ping_interval`
    /// under a millisecond or over a day or zero `ping_misses`, a `gap_factor` that is
    /// not a finite number of at least 1, a header name that is not one, an empty query
    /// name, a `transport` outside `[a-z0-9_]+`, or a `RawPcm` protocol with a zero rate
    /// or a width outside 1..=4.
    pub fn build(self) -> Result<CallLayer, ConfigError> {
        self.protocol.validate()?;
        if let Some(max) = self.max_calls {
            validate_nonzero("max_calls", max)?;
        }
        let invalid = |field: &str, value: String, reason| ConfigError::Invalid {
            field: field.to_owned(),
            value,
            reason,
        };
        let retry_secs = self.retry_after.as_secs();
        if retry_secs == 0 {
            let value = format!("{:?}", self.retry_after);
            return Err(invalid("retry_after", value, "at least one second"));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::Zero { field: "idle_timeout".to_owned() });
        }
        if let Some(timeout) = self.idle_timeout.filter(|timeout| *timeout > ONE_DAY) {
            return Err(invalid("idle_timeout", format!("{timeout:?}"), "at most one day"));
        }
        if let Some(keepalive) = self.keepalive {
            let min = Duration::from_millis(1);
            if !(min..=ONE_DAY).contains(&keepalive.interval) {
                let value = format!("{:?}", keepalive.interval);
                return Err(invalid("ping_interval", value, "from one millisecond to one day"));
            }
            validate_nonzero("ping_misses", keepalive.misses as usize)?;
        }
        if !(self.gap_factor.is_finite() && self.gap_factor >= 1.0) {
            let value = self.gap_factor.to_string();
            return Err(invalid("gap_factor", value, "a finite multiple of at least 1"));
        }
        let transport = self.transport.unwrap_or(self.protocol.label());
        let label_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if transport.is_empty() || !transport.chars().all(label_ok) {
            let reason = "a label value of lowercase letters, digits and '_'";
            return Err(invalid("transport", transport.to_owned(), reason));
        }
        let id_header = match self.id_header {
            Some(name) => Some(
                HeaderName::try_from(name.as_str())
                    .map_err(|_| invalid("call_id_header", name.clone(), "an HTTP header name"))?,
            ),
            None => None,
        };
        if self.id_query.as_deref() == Some("") {
            return Err(invalid("call_id_query", String::new(), "a query parameter name"));
        }
        let settings = CallSettings {
            protocol: self.protocol,
            gap_factor: self.gap_factor,
            idle_timeout: self.idle_timeout,
            keepalive: self.keepalive,
        };
        let shared = Shared {
            settings,
            instruments: Instruments::new(transport, self.max_calls, self.keepalive.is_some()),
            admission: Admission::new(self.max_calls.filter(|_| !self.count_only)),
            retry_after: HeaderValue::from(retry_secs),
            id_header,
            id_query: self.id_query.map(Into::into),
        };
        crate::handles::publish_capacity(transport, self.max_calls);
        Ok(CallLayer { shared: Arc::new(shared) })
    }
}

/// The longest idle timeout or ping interval: timers far beyond it would overflow the
/// clock, and no call waits that long for a frame.
const ONE_DAY: Duration = Duration::from_secs(86_400);

/// What every service built by one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    settings: CallSettings,
    instruments: Instruments,
    admission: Admission,
    pub(crate) retry_after: HeaderValue,
    pub(crate) id_header: Option<HeaderName>,
    pub(crate) id_query: Option<Box<str>>,
}

/// What each call of a layer is told about its stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallSettings {
    pub(crate) protocol: Protocol,
    pub(crate) gap_factor: f64,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) keepalive: Option<KeepaliveSettings>,
}

impl Shared {
    /// Opens a call, or counts one `rejected` when at capacity.
    pub(crate) fn admit(&self, id: Option<String>) -> Option<Call> {
        let handles = Arc::clone(self.instruments.get());
        if !self.admission.try_acquire() {
            self.admission.shed(&handles);
            return None;
        }
        let id = id.unwrap_or_else(generate_id);
        let slot = Arc::clone(&self.admission.active);
        Some(Call { state: CallState::start(handles, self.settings, slot, id) })
    }
}

/// Client-supplied ids go to logs and spans: short, and nothing that could forge a
/// log line.
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// 16 random hex digits: a counter hashed with std's randomly keyed SipHash.
fn generate_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", RandomState::new().hash_one(n))
}
