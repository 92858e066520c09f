//! The per-provider circuit breaker of a fallback chain.
//!
//! Closed, it counts failures; past a threshold of consecutive failures, or a failure
//! ratio within a window, it opens and the chain skips the provider for a cool-down.
//! Then one request probes it (half-open): success closes the breaker, failure opens it
//! for another cool-down, and so does a probe that has not settled within the probe
//! timeout (its late verdict is then ignored). Bad requests are the caller's fault and
//! never count.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use voxscope_core::ConfigError;

use crate::duration;
use crate::handles::Instruments;

/// When a provider's breaker opens and how long it stays open.
///
/// ```
/// use std::time::Duration;
/// use voxscope_provider::BreakerConfig;
///
/// let breaker = BreakerConfig::default()
///     .consecutive_failures(3)
///     .failure_ratio(0.5, Duration::from_secs(60), 20)
///     .cool_down(Duration::from_secs(15))
///     .probe_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    consecutive_failures: u32,
    ratio: Option<(f64, Duration, u32)>,
    cool_down: Duration,
    probe_timeout: Duration,
}

impl Default for BreakerConfig {
    /// Opens after 5 consecutive failures, for 30 s; no ratio rule; a probe has 10 s.
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            ratio: None,
            cool_down: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(10),
        }
    }
}

impl BreakerConfig {
    /// Opens after `count` failures in a row.
    pub fn consecutive_failures(mut self, count: u32) -> Self {
        self.consecutive_failures = count;
        self
    }

    /// Also opens when at least `min_requests` requests ended within a fixed `window` and
    /// the share of failures among them reached `ratio` (0 < ratio <= 1).
    pub fn failure_ratio(mut self, ratio: f64, window: Duration, min_requests: u32) -> Self {
        self.ratio = Some((ratio, window, min_requests));
        self
    }

    /// How long an open breaker skips its provider before one probe.
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// How long the half-open probe may take to settle (first item, end or error): past
    /// it, the probe counts as failed and the breaker opens for another cool-down, so a
    /// probe that hangs cannot keep the provider out for ever.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    pub(crate) fn validate(&self, provider: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{provider}.breaker.{name}");
        voxscope_core::validate_nonzero(
            &field("consecutive_failures"),
            self.consecutive_failures as usize,
        )?;
        duration::validate(field("cool_down"), self.cool_down)?;
        duration::validate(field("probe_timeout"), self.probe_timeout)?;
        if let Some((ratio, window, min_requests)) = self.ratio {
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(ConfigError::Invalid {
                    field: field("failure_ratio"),
                    value: ratio.to_string(),
                    reason: "a share in 0 < ratio <= 1",
                });
            }
            duration::validate(field("window"), window)?;
            voxscope_core::validate_nonzero(&field("min_requests"), min_requests as usize)?;
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// Waiting for a probe; `probe` is the one out: its number and deadline.
    HalfOpen {
        probe: Option<(u64, Instant)>,
    },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// Numbers the probes, so that a probe's late verdict is told from the current one's.
    probes: u64,
    consecutive: u32,
    window_start: Instant,
    window_ok: u32,
    window_failed: u32,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    instruments: Arc<Instruments>,
    state: Mutex<State>,
}

/// Leave to send one request; dropped unsettled (the caller went away), a probe is
/// handed back so that the next request probes instead.
#[derive(Debug)]
pub(crate) struct Permit {
    breaker: Arc<Breaker>,
    /// The probe's number, for the half-open probe.
    probe: Option<u64>,
    settled: bool,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig, instruments: Arc<Instruments>) -> Self {
        let state = State {
            phase: Phase::Closed,
            probes: 0,
            consecutive: 0,
            window_start: Instant::now(),
            window_ok: 0,
            window_failed: 0,
        };
        Self { config, instruments, state: Mutex::new(state) }
    }

    pub(crate) fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The circuit gauge, set to the breaker's state: at 0 from the start, and never
    /// reset by a second chain joining an open breaker.
    pub(crate) fn publish(&self) {
        let open = !matches!(self.lock().phase, Phase::Closed);
        self.instruments.publish_circuit(if open { 1.0 } else { 0.0 });
    }

    /// A permit, or `None` while the breaker is open or its probe is out.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        let mut state = self.lock();
        let now = Instant::now();
        let probe = match state.phase {
            Phase::Closed => None,
            Phase::Open { until } if now >= until => {
                tracing::info!(
                    "circuit half-open for {} {}: probing",
                    self.instruments.kind(),
                    self.instruments.provider()
                );
                Some(self.start_probe(&mut state, now))
            }
            Phase::HalfOpen { probe: None } => Some(self.start_probe(&mut state, now)),
            Phase::HalfOpen { probe: Some((_, deadline)) } if now >= deadline => {
                let reason = format!("probe unsettled after {:?}", self.config.probe_timeout);
                self.open(&mut state, reason);
                return None;
            }
            Phase::Open { .. } | Phase::HalfOpen { probe: Some(_) } => return None,
        };
        Some(Permit { breaker: Arc::clone(self), probe, settled: false })
    }

    /// When the breaker admits a request again: `None` or a past instant when it does
    /// now; the end of the cool-down, or of the probe's deadline (then a cool-down
    /// follows, as a probe unsettled by then counts as failed).
    pub(crate) fn admits_at(&self) -> Option<Instant> {
        let now = Instant::now();
        match self.lock().phase {
            Phase::Closed | Phase::HalfOpen { probe: None } => None,
            Phase::Open { until } => Some(until),
            Phase::HalfOpen { probe: Some((_, deadline)) } if now < deadline => Some(deadline),
            Phase::HalfOpen { probe: Some(_) } => {
                Some(duration::deadline(now, self.config.cool_down))
            }
        }
    }

    fn start_probe(&self, state: &mut State, now: Instant) -> u64 {
        state.probes = state.probes.wrapping_add(1);
        let deadline = duration::deadline(now, self.config.probe_timeout);
        state.phase = Phase::HalfOpen { probe: Some((state.probes, deadline)) };
        state.probes
    }

    /// Whether `probe` is the probe out now (not one that overran its deadline).
    fn is_current(state: &State, probe: u64) -> bool {
        matches!(state.phase, Phase::HalfOpen { probe: Some((current, _)) } if current == probe)
    }

    /// A failure outside a permit: the stream broke after its first item.
    pub(crate) fn record_failure(&self) {
        let mut state = self.lock();
        self.failed(&mut state, None);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn succeeded(&self, state: &mut State, probe: Option<u64>) {
        if let Some(probe) = probe {
            if Self::is_current(state, probe) {
                self.close(state);
            }
            return;
        }
        state.consecutive = 0;
        self.roll_window(state);
        state.window_ok = state.window_ok.saturating_add(1);
    }

    fn failed(&self, state: &mut State, probe: Option<u64>) {
        if let Some(probe) = probe {
            if Self::is_current(state, probe) {
                self.open(state, "probe failed".to_owned());
            }
            return;
        }
        if !matches!(state.phase, Phase::Closed) {
            return;
        }
        state.consecutive = state.consecutive.saturating_add(1);
        self.roll_window(state);
        state.window_failed = state.window_failed.saturating_add(1);
        if state.consecutive >= self.config.consecutive_failures {
            let reason = format!("{} consecutive failures", state.consecutive);
            self.open(state, reason);
        } else if let Some((ratio, _, min_requests)) = self.config.ratio {
            let total = state.window_ok + state.window_failed;
            let share = f64::from(state.window_failed) / f64::from(total.max(1));
            if total >= min_requests && share >= ratio {
                let reason = format!("{} of {total} requests failed", state.window_failed);
                self.open(state, reason);
            }
        }
    }

    fn roll_window(&self, state: &mut State) {
        if let Some((_, window, _)) = self.config.ratio {
            let now = Instant::now();
            if now.duration_since(state.window_start) >= window {
                state.window_start = now;
                state.window_ok = 0;
                state.window_failed = 0;
            }
        }
    }

    fn open(&self, state: &mut State, reason: String) {
        state.phase =
            Phase::Open { until: duration::deadline(Instant::now(), self.config.cool_down) };
        self.instruments.circuit().set(1.0);
        tracing::warn!(
            "circuit opened for {} {}: {reason}; skipping it for {:?}",
            self.instruments.kind(),
            self.instruments.provider(),
            self.config.cool_down
        );
    }

    fn close(&self, state: &mut State) {
        state.phase = Phase::Closed;
        state.consecutive = 0;
        state.window_start = Instant::now();
        state.window_ok = 0;
        state.window_failed = 0;
        self.instruments.circuit().set(0.0);
        tracing::info!(
            "circuit closed for {} {}: probe succeeded",
            self.instruments.kind(),
            self.instruments.provider()
        );
    }
}

impl Permit {
    pub(crate) fn succeed(mut self) {
        self.settled = true;
        let mut state = self.breaker.lock();
        self.breaker.succeeded(&mut state, self.probe);
    }

    pub(crate) fn fail(mut self) {
        self.settled = true;
        let mut state = self.breaker.lock();
        self.breaker.failed(&mut state, self.probe);
    }

    /// Settles without a verdict: the failure was the caller's (a bad request).
    pub(crate) fn neutral(self) {}
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(probe) = self.probe
            && !self.settled
        {
            let mut state = self.breaker.lock();
            if Breaker::is_current(&state, probe) {
                state.phase = Phase::HalfOpen { probe: None };
            }
        }
    }
}
