//! The sampling policy: which traces are kept, decided at the head and at the tail.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
use voxscope_core::ConfigError;

/// Why a trace was kept, or that it was dropped: the `decision` label of
/// `voxscope_traces_total`, and the `voxscope.sampling.decision` attribute of a kept
/// trace's local root span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A span of the trace ended in error (a 5xx, a handler error).
    KeptError,
    /// The local root took longer than the slow threshold.
    KeptSlow,
    /// The route's ratio is 1.
    KeptRoute,
    /// Kept by the ratio draw.
    KeptRatio,
    /// The caller's `traceparent` said sampled.
    KeptParent,
    /// Not kept.
    Dropped,
}

impl Decision {
    /// Every decision, in label order.
    pub const ALL: [Decision; 6] = [
        Decision::KeptError,
        Decision::KeptSlow,
        Decision::KeptRoute,
        Decision::KeptRatio,
        Decision::KeptParent,
        Decision::Dropped,
    ];

    /// The label value, such as `kept_error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::KeptError => "kept_error",
            Decision::KeptSlow => "kept_slow",
            Decision::KeptRoute => "kept_route",
            Decision::KeptRatio => "kept_ratio",
            Decision::KeptParent => "kept_parent",
            Decision::Dropped => "dropped",
        }
    }

    /// `true` for every decision but [`Dropped`](Decision::Dropped).
    pub const fn is_kept(self) -> bool {
        !matches!(self, Decision::Dropped)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// Where sampling decisions are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SamplingMode {
    /// Head decisions only: the lowest cost. A dropped request builds no OpenTelemetry
    /// span at all, and neither do its children; errors and slow requests are kept only
    /// when the head kept them.
    HeadOnly,
    /// Head decisions, then tail rules at the end of the local root: errors and slow
    /// requests are kept whole even when the head said drop.
    #[default]
    HeadAndTail,
}

/// Which traces to keep. Validated by [`SamplingPolicy::validate`] (and by every
/// builder that takes one).
///
/// ```
/// use std::time::Duration;
/// use voxscope_trace::SamplingPolicy;
///
/// let policy = SamplingPolicy::default()
///     .default_ratio(0.05)
///     .route_ratio("/calls/{id}/hangup", 1.0) // critical: always
///     .route_ratio("/health", 0.0) // never, and costs no span
///     .slow_threshold(Duration::from_secs(2));
/// assert!(policy.validate().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct SamplingPolicy {
    pub(crate) default_ratio: f64,
    pub(crate) route_ratios: HashMap<String, f64>,
    pub(crate) honour_parent: bool,
    pub(crate) mode: SamplingMode,
    pub(crate) slow_threshold: Duration,
    pub(crate) keep_errors: bool,
}

impl Default for SamplingPolicy {
    /// Ratio 0.1, sampled parents honoured, head and tail, errors and requests slower
    /// than 1 s kept.
    fn default() -> Self {
        Self {
            default_ratio: 0.1,
            route_ratios: HashMap::new(),
            honour_parent: true,
            mode: SamplingMode::HeadAndTail,
            slow_threshold: Duration::from_secs(1),
            keep_errors: true,
        }
    }
}

impl SamplingPolicy {
    /// The share of traces kept by the ratio draw, in `0..=1`.
    pub fn default_ratio(mut self, ratio: f64) -> Self {
        self.default_ratio = ratio;
        self
    }

    /// The ratio of one route template (as axum's `MatchedPath` spells it). `1.0` keeps
    /// every trace of the route (`kept_route`); `0.0` never traces it, not even on error,
    /// and builds no OpenTelemetry span for it.
    pub fn route_ratio(mut self, route: impl Into<String>, ratio: f64) -> Self {
        self.route_ratios.insert(route.into(), ratio);
        self
    }

    /// Whether a valid incoming `traceparent` with the sampled flag keeps the trace
    /// (default `true`).
    pub fn honour_parent(mut self, honour: bool) -> Self {
        self.honour_parent = honour;
        self
    }

    /// Head only, or head and tail (the default).
    pub fn mode(mut self, mode: SamplingMode) -> Self {
        self.mode = mode;
        self
    }

    /// Tail rule: a local root that lasts at least this long is kept (`kept_slow`).
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_threshold = threshold;
        self
    }

    /// Tail rule: a trace with a span in error is kept (`kept_error`), default `true`.
    pub fn keep_errors(mut self, keep: bool) -> Self {
        self.keep_errors = keep;
        self
    }

    /// Checks every ratio.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `default_ratio` or `route_ratio[ROUTE]` and the
    /// value, for a ratio outside `0..=1` (NaN included).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_ratio("default_ratio", self.default_ratio)?;
        for (route, &ratio) in &self.route_ratios {
            validate_ratio(&format!("route_ratio[{route}]"), ratio)?;
        }
        Ok(())
    }

    pub(crate) fn is_head_only(&self) -> bool {
        self.mode == SamplingMode::HeadOnly
    }

    pub(crate) fn ratio_of(&self, route: Option<&str>) -> (f64, bool) {
        match route.and_then(|r| self.route_ratios.get(r)) {
            Some(&ratio) => (ratio, true),
            None => (self.default_ratio, false),
        }
    }
}

pub(crate) fn validate_ratio(field: &str, ratio: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&ratio) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field: field.to_owned(),
            value: ratio.to_string(),
            reason: "a ratio in 0..=1",
        })
    }
}

/// The head decision of one request, before its span exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// Kept at the head, for this reason.
    Keep(Decision),
    /// Not kept at the head; the tail may still keep it.
    Undecided,
    /// Never traced: a route with ratio 0, or head-only mode.
    Skip,
}

impl SamplingPolicy {
    /// The head decision for a request of `trace_id` (the caller's, or the one chosen for
    /// a new root), so that every service with the same ratio agrees on a trace.
    pub(crate) fn head(
        &self,
        route: Option<&str>,
        parent_sampled: Option<bool>,
        trace_id: TraceId,
    ) -> Head {
        let (ratio, per_route) = self.ratio_of(route);
        if per_route && ratio <= 0.0 {
            return Head::Skip;
        }
        let keep = match parent_sampled {
            Some(true) if self.honour_parent => Some(Decision::KeptParent),
            // The caller decided against it: only the tail rules may still keep it.
            Some(false) if self.honour_parent => None,
            _ if per_route && ratio >= 1.0 => Some(Decision::KeptRoute),
            _ if ratio_keeps(ratio, trace_id) => Some(Decision::KeptRatio),
            _ => None,
        };
        match keep {
            Some(decision) => Head::Keep(decision),
            None if self.is_head_only() => Head::Skip,
            None => Head::Undecided,
        }
    }
}

/// OpenTelemetry's `TraceIdRatioBased` rule, applied by the SDK's own sampler: a
/// function of the trace id alone, the same in every service and every SDK.
pub(crate) fn ratio_keeps(ratio: f64, trace_id: TraceId) -> bool {
    let decision = Sampler::TraceIdRatioBased(ratio).should_sample(
        None,
        trace_id,
        "",
        &SpanKind::Internal,
        &[],
        &[],
    );
    decision.decision == SamplingDecision::RecordAndSample
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceId;

    use super::{Decision, Head, SamplingMode, SamplingPolicy, ratio_keeps};

    /// A trace id whose low 63 bits are `share` of the way through their range.
    fn id_at(share: f64) -> TraceId {
        TraceId::from(u128::from((share * (1u64 << 63) as f64) as u64) << 1)
    }

    #[test]
    fn head_decisions_follow_parent_route_and_trace_id() {
        let policy = SamplingPolicy::default()
            .default_ratio(0.5)
            .route_ratio("/hangup", 1.0)
            .route_ratio("/health", 0.0);
        let (low, high) = (id_at(0.4), id_at(0.6));
        assert_eq!(policy.head(Some("/health"), Some(true), low), Head::Skip);
        assert_eq!(policy.head(Some("/x"), Some(true), high), Head::Keep(Decision::KeptParent));
        assert_eq!(policy.head(Some("/hangup"), None, high), Head::Keep(Decision::KeptRoute));
        assert_eq!(policy.head(None, None, low), Head::Keep(Decision::KeptRatio));
        assert_eq!(policy.head(None, None, high), Head::Undecided);
        // An unsampled caller is honoured, whatever the trace id says.
        assert_eq!(policy.head(None, Some(false), low), Head::Undecided);
        let head_only = policy.clone().mode(SamplingMode::HeadOnly);
        assert_eq!(head_only.head(None, None, high), Head::Skip);
        assert_eq!(head_only.head(None, Some(false), low), Head::Skip);
        let no_parents = policy.honour_parent(false);
        assert_eq!(no_parents.head(None, Some(true), high), Head::Undecided);
        assert_eq!(no_parents.head(None, Some(false), low), Head::Keep(Decision::KeptRatio));
    }

    #[test]
    fn ratio_rule_is_the_trace_id_rule_of_the_w3c_random_bits() {
        // Decided by the low 63 bits of the trace id alone, as every OpenTelemetry SDK's
        // TraceIdRatioBased sampler does: the high half does not matter.
        for ratio in [0.0, 0.25, 0.5, 0.999, 1.0] {
            for share in [0.0, 0.2499, 0.2501, 0.5, 0.75, 0.9999] {
                let id = id_at(share);
                let with_high = TraceId::from(u128::from_be_bytes(id.to_bytes()) | (0xdead << 64));
                let expected = share < ratio;
                assert_eq!(ratio_keeps(ratio, id), expected, "ratio {ratio}, share {share}");
                assert_eq!(ratio_keeps(ratio, with_high), expected);
            }
        }
    }

    #[test]
    fn ratios_outside_zero_to_one_name_their_field() {
        let bad = SamplingPolicy::default().route_ratio("/calls", f64::NAN);
        let error = bad.validate().map_err(|e| e.to_string());
        assert_eq!(error, Err("route_ratio[/calls]: a ratio in 0..=1 (got \"NaN\")".to_owned()));
        assert!(SamplingPolicy::default().default_ratio(-0.01).validate().is_err());
        assert!(SamplingPolicy::default().default_ratio(1.0).validate().is_ok());
    }
}
