//! The OpenTelemetry sampler: applies the head decision that [`TraceLayer`] made before
//! the span existed, and keeps child spans with their trace.
//!
//! [`TraceLayer`]: crate::TraceLayer

use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use crate::policy::{Decision, SamplingPolicy, ratio_keeps};

/// The head decision, carried in the parent [`Context`] that [`TraceLayer`] sets on the
/// request span, where both the sampler and the tail processor read it.
///
/// [`TraceLayer`]: crate::TraceLayer
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadHint(pub(crate) Option<Decision>);

/// Samples spans by voxscope's policy.
///
/// - A request span (a local root started by [`TraceLayer`]) follows the head decision.
/// - A child of a local span follows its parent.
/// - A remote parent's sampled flag is followed.
/// - Any other root (a call, a background task) is decided by OpenTelemetry's
///   `TraceIdRatioBased` rule with the default ratio, so that services with the same
///   ratio agree on a trace.
///
/// In head-and-tail mode, traces the head did not keep are still recorded
/// (`RecordOnly`) so that the tail processor can keep errors and slow requests.
///
/// [`TraceLayer`]: crate::TraceLayer
#[derive(Clone, Debug)]
pub struct VoxSampler {
    record_unsampled: bool,
    ratio: f64,
}

impl VoxSampler {
    /// The sampler for `policy` (which must be valid; see [`SamplingPolicy::validate`]).
    pub fn new(policy: &SamplingPolicy) -> Self {
        Self { record_unsampled: !policy.is_head_only(), ratio: policy.default_ratio }
    }

    fn decide(&self, sampled: bool) -> SamplingDecision {
        match (sampled, self.record_unsampled) {
            (true, _) => SamplingDecision::RecordAndSample,
            (false, true) => SamplingDecision::RecordOnly,
            (false, false) => SamplingDecision::Drop,
        }
    }
}

impl ShouldSample for VoxSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context.map(|cx| cx.span().span_context().clone());
        let sampled = match (&parent, parent_context.and_then(|cx| cx.get::<HeadHint>())) {
            (Some(parent), _) if parent.is_valid() && !parent.is_remote() => parent.is_sampled(),
            (_, Some(hint)) => hint.0.is_some(),
            (Some(parent), None) if parent.is_valid() => parent.is_sampled(),
            _ => ratio_keeps(self.ratio, trace_id),
        };
        SamplingResult {
            decision: self.decide(sampled),
            attributes: Vec::new(),
            trace_state: parent.map(|p| p.trace_state().clone()).unwrap_or_default(),
        }
    }
}
