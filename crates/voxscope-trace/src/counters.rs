//! Warm handles for the self-observation metrics, registered on first use with the
//! recorder current then, and held per pipeline (never in a static: each pipeline, and
//! each test, records into its own recorder).

use std::sync::OnceLock;

use metrics::{Counter, Gauge};
use voxscope_core::catalog::{
    VOXSCOPE_TRACE_BUFFER_OVERFLOW_TOTAL, VOXSCOPE_TRACE_BUFFER_SPANS,
    VOXSCOPE_TRACE_EXPORT_DROPPED_TOTAL, VOXSCOPE_TRACES_TOTAL,
};

use crate::policy::Decision;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    decisions: [OnceLock<Counter>; Decision::ALL.len()],
    buffer_spans: OnceLock<Gauge>,
    overflow: OnceLock<Counter>,
    export_dropped: OnceLock<Counter>,
    warm: OnceLock<()>,
}

impl Counters {
    /// Registers every handle with the recorder current now (on the first span of the
    /// pipeline), so that the sweep and export threads, which have none of their own,
    /// record into the same one.
    pub(crate) fn warm(&self) {
        self.warm.get_or_init(|| {
            for decision in Decision::ALL {
                self.decisions[decision.index()].get_or_init(|| {
                    metrics::counter!(VOXSCOPE_TRACES_TOTAL.name, "decision" => decision.as_str())
                });
            }
            self.buffer_spans.get_or_init(|| metrics::gauge!(VOXSCOPE_TRACE_BUFFER_SPANS.name));
            self.overflow
                .get_or_init(|| metrics::counter!(VOXSCOPE_TRACE_BUFFER_OVERFLOW_TOTAL.name));
            self.export_dropped
                .get_or_init(|| metrics::counter!(VOXSCOPE_TRACE_EXPORT_DROPPED_TOTAL.name));
        });
    }

    pub(crate) fn decision(&self, decision: Decision) {
        self.decisions[decision.index()]
            .get_or_init(
                || metrics::counter!(VOXSCOPE_TRACES_TOTAL.name, "decision" => decision.as_str()),
            )
            .increment(1);
    }

    pub(crate) fn buffer_spans(&self, spans: usize) {
        self.buffer_spans
            .get_or_init(|| metrics::gauge!(VOXSCOPE_TRACE_BUFFER_SPANS.name))
            .set(spans as f64);
    }

    pub(crate) fn overflow(&self) {
        self.overflow
            .get_or_init(|| metrics::counter!(VOXSCOPE_TRACE_BUFFER_OVERFLOW_TOTAL.name))
            .increment(1);
    }

    pub(crate) fn export_dropped(&self, spans: usize) {
        self.export_dropped
            .get_or_init(|| metrics::counter!(VOXSCOPE_TRACE_EXPORT_DROPPED_TOTAL.name))
            .increment(spans as u64);
    }
}
