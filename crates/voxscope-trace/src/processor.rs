//! The tail processor: buffers each trace's spans until its local root ends, then keeps
//! or drops the whole trace. It owns the forwarding decision (the SDK's batch processor
//! would export `RecordOnly` spans too), and it is bounded: past `max_traces` open
//! traces, `max_spans_per_trace` spans of one trace, `max_buffered_spans` spans in all
//! (the oldest trace goes first) or `max_wait`, it decides early and counts
//! `voxscope_trace_buffer_overflow_total`. A timer thread sweeps expired traces, so
//! that an idle process releases its buffer too.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::counters::Counters;
use crate::export::ExportQueue;
use crate::policy::{Decision, SamplingPolicy};
use crate::sampler::HeadHint;
use crate::store::TraceStore;

/// The attribute that tells, on a kept trace's local root, why it was kept.
pub const DECISION_ATTRIBUTE: &str = "voxscope.sampling.decision";

/// Hard bounds of the tail buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TailBounds {
    pub(crate) max_traces: usize,
    pub(crate) max_spans_per_trace: usize,
    pub(crate) max_buffered_spans: usize,
    pub(crate) max_wait: Duration,
    /// Independent locks the buffer is split into, by trace id.
    pub(crate) shards: usize,
}

/// Where kept traces go: the embedded store, the export queue, or both.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) store: Option<TraceStore>,
    pub(crate) queue: Option<ExportQueue>,
}

impl Sink {
    fn accept(&self, trace_id: TraceId, decision: Decision, spans: Vec<SpanData>) {
        match (&self.store, &self.queue) {
            (Some(store), Some(queue)) => {
                queue.push(spans.clone());
                store.add(trace_id, decision, spans);
            }
            (Some(store), None) => store.add(trace_id, decision, spans),
            (None, Some(queue)) => queue.push(spans),
            (None, None) => {}
        }
    }
}

/// The span processor behind [`TracePipeline`](crate::TracePipeline).
#[derive(Debug)]
pub(crate) struct TailProcessor {
    tail: Arc<Tail>,
    /// Dropping the sender stops the sweep thread.
    sweeper: Mutex<Option<(SyncSender<()>, JoinHandle<()>)>>,
}

/// The state shared by the processor and its sweep thread.
#[derive(Debug)]
struct Tail {
    head_only: bool,
    keep_errors: bool,
    slow: Duration,
    /// `max_traces` is per shard here.
    bounds: TailBounds,
    /// Traces by trace id: spans of different traces rarely wait for the same lock.
    shards: Box<[Mutex<Buffer>]>,
    /// Spans buffered across all shards: the bound that `max_buffered_spans` sets.
    spans: AtomicUsize,
    sink: Arc<Sink>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Buffer {
    pending: HashMap<TraceId, Pending>,
    /// Pending traces by age; entries of traces decided since are skipped lazily.
    order: VecDeque<(TraceId, u64, Instant)>,
    /// Recent decisions, for spans that end after their local root.
    decided: HashMap<TraceId, Decision>,
    decided_order: VecDeque<TraceId>,
    spans: usize,
    next_seq: u64,
}

impl Buffer {
    /// When this shard's oldest open trace opened; stale entries (traces decided since)
    /// are dropped on the way.
    fn oldest(&mut self) -> Option<Instant> {
        while let Some(&(trace_id, seq, since)) = self.order.front() {
            if self.pending.get(&trace_id).is_some_and(|p| p.seq == seq) {
                return Some(since);
            }
            self.order.pop_front();
        }
        None
    }

    /// Takes this shard's oldest open trace out of the age order.
    fn oldest_trace(&mut self) -> Option<TraceId> {
        self.oldest()?;
        self.order.pop_front().map(|(trace_id, _, _)| trace_id)
    }
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    head: Option<Decision>,
    /// Opened by a span whose trace was decided and forgotten: its decision was counted.
    orphan: bool,
    error: bool,
    spans: Vec<SpanData>,
}

/// Decided traces to hand to the sink once the lock is released.
type Out = Vec<(TraceId, Decision, Vec<SpanData>)>;

impl TailProcessor {
    /// Starts the sweep thread.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn new(
        policy: &SamplingPolicy,
        bounds: TailBounds,
        sink: Arc<Sink>,
        counters: Arc<Counters>,
    ) -> std::io::Result<Self> {
        let shards = bounds.shards.max(1);
        let tail = Arc::new(Tail {
            head_only: policy.is_head_only(),
            keep_errors: policy.keep_errors,
            slow: policy.slow_threshold,
            bounds: TailBounds { max_traces: bounds.max_traces.div_ceil(shards), ..bounds },
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            spans: AtomicUsize::new(0),
            sink,
            counters,
        });
        let (stop, stopped) = mpsc::sync_channel::<()>(0);
        let period = (bounds.max_wait / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let sweeper = {
            let tail = Arc::downgrade(&tail);
            std::thread::Builder::new().name("voxscope-trace-sweep".into()).spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    let Some(tail) = tail.upgrade() else { return };
                    tail.sweep_now();
                }
            })?
        };
        Ok(Self { tail, sweeper: Mutex::new(Some((stop, sweeper))) })
    }

    fn stop_sweeper(&self) {
        let sweeper = self.sweeper.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((stop, thread)) = sweeper {
            drop(stop);
            // The thread holds no lock while it waits: it wakes at once and returns.
            let _ = thread.join();
        }
    }
}

impl Drop for TailProcessor {
    fn drop(&mut self) {
        self.stop_sweeper();
    }
}

impl Tail {
    /// Decides expired traces; run by the sweep thread, with no span activity needed.
    fn sweep_now(&self) {
        for shard in &*self.shards {
            let mut out = Out::new();
            {
                let mut buffer = shard.lock().unwrap_or_else(PoisonError::into_inner);
                if buffer.pending.is_empty() {
                    continue;
                }
                self.sweep(&mut buffer, Instant::now(), &mut out);
                self.counters.buffer_spans(self.spans.load(Ordering::Relaxed));
            }
            self.deliver(out);
        }
    }

    /// Decides the oldest open traces, across the shards, while they hold more than
    /// `max_buffered_spans` together. Runs with no shard locked, and locks one at a
    /// time: the search is paid only past the bound.
    fn evict_oldest(&self) {
        while self.spans.load(Ordering::Relaxed) > self.bounds.max_buffered_spans {
            let mut oldest: Option<(usize, Instant)> = None;
            for (i, shard) in self.shards.iter().enumerate() {
                let since = shard.lock().unwrap_or_else(PoisonError::into_inner).oldest();
                if let Some(since) = since
                    && oldest.is_none_or(|(_, t)| since < t)
                {
                    oldest = Some((i, since));
                }
            }
            let Some((i, _)) = oldest else { return };
            let mut out = Out::new();
            {
                let mut buffer = self.shards[i].lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(trace_id) = buffer.oldest_trace()
                    && let Some(pending) = buffer.pending.remove(&trace_id)
                {
                    self.counters.overflow();
                    self.release(&mut buffer, pending.spans.len());
                    let decision = self.early(&pending);
                    self.finish(
                        &mut buffer,
                        trace_id,
                        pending.orphan,
                        decision,
                        pending.spans,
                        &mut out,
                    );
                }
                self.counters.buffer_spans(self.spans.load(Ordering::Relaxed));
            }
            self.deliver(out);
        }
    }

    fn hold(&self, buffer: &mut Buffer, spans: usize) {
        buffer.spans += spans;
        self.spans.fetch_add(spans, Ordering::Relaxed);
    }

    fn release(&self, buffer: &mut Buffer, spans: usize) {
        buffer.spans -= spans;
        self.spans.fetch_sub(spans, Ordering::Relaxed);
    }

    fn lock(&self, trace_id: TraceId) -> std::sync::MutexGuard<'_, Buffer> {
        // The low bits of a trace id are random (W3C Trace Context, level 2).
        let low = u128::from_be_bytes(trace_id.to_bytes()) as u64;
        let shard = &self.shards[(low % self.shards.len() as u64) as usize];
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(
        &self,
        buffer: &mut Buffer,
        trace_id: TraceId,
        head: Option<Decision>,
        orphan: bool,
        out: &mut Out,
    ) {
        if let Some(open) = buffer.pending.get_mut(&trace_id) {
            // A second local root of the same trace (a retry, a second request of one
            // call): one trace, one decision.
            open.head = open.head.or(head);
            return;
        }
        let pending =
            Pending { seq: buffer.next_seq, head, orphan, error: false, spans: Vec::new() };
        if buffer.pending.len() >= self.bounds.max_traces {
            // Deciding the newcomer keeps the oldest open traces, the likeliest to be slow.
            self.counters.overflow();
            let decision = self.early(&pending);
            self.finish(buffer, trace_id, orphan, decision, Vec::new(), out);
            return;
        }
        let seq = pending.seq;
        buffer.next_seq += 1;
        buffer.pending.insert(trace_id, pending);
        buffer.order.push_back((trace_id, seq, Instant::now()));
        if buffer.order.len() > 2 * buffer.pending.len() + 1024 {
            let pending = &buffer.pending;
            buffer.order.retain(|(id, seq, _)| pending.get(id).is_some_and(|p| p.seq == *seq));
        }
    }

    /// Decides traces that waited longer than `max_wait`.
    fn sweep(&self, buffer: &mut Buffer, now: Instant, out: &mut Out) {
        while let Some(&(trace_id, seq, since)) = buffer.order.front() {
            let live = buffer.pending.get(&trace_id).is_some_and(|p| p.seq == seq);
            if live && now.duration_since(since) < self.bounds.max_wait {
                break;
            }
            buffer.order.pop_front();
            if let Some(pending) = live.then(|| buffer.pending.remove(&trace_id)).flatten() {
                self.counters.overflow();
                self.release(buffer, pending.spans.len());
                let decision = self.early(&pending);
                self.finish(buffer, trace_id, pending.orphan, decision, pending.spans, out);
            }
        }
    }

    /// The decision of a trace whose local root has not ended.
    fn early(&self, pending: &Pending) -> Decision {
        if !self.head_only && self.keep_errors && pending.error {
            Decision::KeptError
        } else {
            pending.head.unwrap_or(Decision::Dropped)
        }
    }

    fn decide(&self, pending: &Pending, root: &SpanData) -> Decision {
        if self.head_only {
            return pending.head.unwrap_or(Decision::Dropped);
        }
        if self.keep_errors && pending.error {
            return Decision::KeptError;
        }
        let duration = root.end_time.duration_since(root.start_time).unwrap_or_default();
        if duration >= self.slow {
            return Decision::KeptSlow;
        }
        pending.head.unwrap_or(Decision::Dropped)
    }

    fn finish(
        &self,
        buffer: &mut Buffer,
        trace_id: TraceId,
        orphan: bool,
        decision: Decision,
        spans: Vec<SpanData>,
        out: &mut Out,
    ) {
        if !orphan {
            self.counters.decision(decision);
        }
        if buffer.decided_order.len() >= self.bounds.max_traces
            && let Some(old) = buffer.decided_order.pop_front()
        {
            buffer.decided.remove(&old);
        }
        if buffer.decided.insert(trace_id, decision).is_none() {
            buffer.decided_order.push_back(trace_id);
        }
        if decision.is_kept() {
            out.push((trace_id, decision, spans));
        }
    }

    fn deliver(&self, out: Out) {
        for (trace_id, decision, mut spans) in out {
            for span in &mut spans {
                mark_kept(span, decision);
            }
            self.sink.accept(trace_id, decision, spans);
        }
    }
}

fn is_local_root(span: &SpanData) -> bool {
    span.parent_span_id == SpanId::INVALID || span.parent_span_is_remote
}

/// Exported spans say sampled (a `RecordOnly` span kept by the tail did not), and the
/// local root says why its trace was kept.
fn mark_kept(span: &mut SpanData, decision: Decision) {
    let cx = &span.span_context;
    if !cx.is_sampled() {
        span.span_context = SpanContext::new(
            cx.trace_id(),
            cx.span_id(),
            cx.trace_flags().with_sampled(true),
            cx.is_remote(),
            cx.trace_state().clone(),
        );
    }
    if is_local_root(span) {
        span.attributes.push(KeyValue::new(DECISION_ATTRIBUTE, decision.as_str()));
    }
}

impl SpanProcessor for TailProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let tail = &*self.tail;
        tail.counters.warm();
        let parent = cx.span().span_context().clone();
        if parent.is_valid() && !parent.is_remote() {
            return;
        }
        let sampled =
            span.span_context().trace_flags() & TraceFlags::SAMPLED == TraceFlags::SAMPLED;
        let head = match cx.get::<HeadHint>() {
            Some(hint) => hint.0,
            None if sampled && parent.is_valid() => Some(Decision::KeptParent),
            None => sampled.then_some(Decision::KeptRatio),
        };
        let trace_id = span.span_context().trace_id();
        let mut out = Out::new();
        {
            let mut buffer = tail.lock(trace_id);
            tail.sweep(&mut buffer, Instant::now(), &mut out);
            // A local root of a trace decided already follows that decision, as its
            // spans will when they end.
            if !buffer.decided.contains_key(&trace_id) {
                tail.open(&mut buffer, trace_id, head, false, &mut out);
            }
        }
        tail.deliver(out);
    }

    fn on_end(&self, span: SpanData) {
        let tail = &*self.tail;
        tail.counters.warm();
        let trace_id = span.span_context.trace_id();
        let error = matches!(span.status, Status::Error { .. });
        let mut out = Out::new();
        {
            let mut buffer = tail.lock(trace_id);
            tail.sweep(&mut buffer, Instant::now(), &mut out);
            if let Some(&decision) = buffer.decided.get(&trace_id) {
                // A late span follows its trace.
                if decision.is_kept() {
                    out.push((trace_id, decision, vec![span]));
                }
            } else {
                if !buffer.pending.contains_key(&trace_id) {
                    // Its decision was made and forgotten (or its root was never seen here):
                    // the sampled flag carries the head decision.
                    let head = span.span_context.is_sampled().then_some(Decision::KeptRatio);
                    tail.open(&mut buffer, trace_id, head, true, &mut out);
                }
                tail.buffer_span(&mut buffer, trace_id, span, error, &mut out);
            }
            tail.counters.buffer_spans(tail.spans.load(Ordering::Relaxed));
        }
        tail.deliver(out);
        tail.evict_oldest();
    }

    fn force_flush(&self) -> OTelSdkResult {
        if let Some(queue) = &self.tail.sink.queue {
            queue.flush();
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.stop_sweeper();
        let tail = &*self.tail;
        for shard in &*tail.shards {
            let mut out = Out::new();
            {
                let mut buffer = shard.lock().unwrap_or_else(PoisonError::into_inner);
                let pending: Vec<_> = buffer.pending.drain().collect();
                buffer.order.clear();
                let held = buffer.spans;
                tail.release(&mut buffer, held);
                for (trace_id, pending) in pending {
                    let decision = tail.early(&pending);
                    tail.finish(
                        &mut buffer,
                        trace_id,
                        pending.orphan,
                        decision,
                        pending.spans,
                        &mut out,
                    );
                }
            }
            tail.deliver(out);
        }
        tail.counters.buffer_spans(0);
        match &tail.sink.queue {
            Some(queue) => queue.shutdown(timeout),
            None => Ok(()),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(queue) = &self.tail.sink.queue {
            queue.set_resource(resource);
        }
    }
}

impl Tail {
    fn buffer_span(
        &self,
        buffer: &mut Buffer,
        trace_id: TraceId,
        span: SpanData,
        error: bool,
        out: &mut Out,
    ) {
        let root = is_local_root(&span);
        let Some(pending) = buffer.pending.get_mut(&trace_id) else {
            // Decided at `open` (the buffer was full): follow that decision.
            if let Some(&decision) = buffer.decided.get(&trace_id)
                && decision.is_kept()
            {
                out.push((trace_id, decision, vec![span]));
            }
            return;
        };
        pending.error |= error;
        if root {
            if let Some(mut pending) = buffer.pending.remove(&trace_id) {
                self.release(buffer, pending.spans.len());
                let decision = self.decide(&pending, &span);
                pending.spans.push(span);
                self.finish(buffer, trace_id, pending.orphan, decision, pending.spans, out);
            }
            return;
        }
        pending.spans.push(span);
        let full = pending.spans.len() >= self.bounds.max_spans_per_trace;
        self.hold(buffer, 1);
        if full && let Some(pending) = buffer.pending.remove(&trace_id) {
            self.counters.overflow();
            self.release(buffer, pending.spans.len());
            let decision = self.early(&pending);
            self.finish(buffer, trace_id, pending.orphan, decision, pending.spans, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::SpanData;

    /// The estimate `max_buffered_spans` documents: a span's `SpanData` with a dozen
    /// attributes, keys static (tracing's field names) and values of a request's or a
    /// call's length, is under 1.5 KiB.
    #[test]
    fn a_buffered_span_costs_under_one_and_a_half_kib() {
        let keys = [
            "http.request.method",
            "http.route",
            "url.scheme",
            "url.path",
            "http.response.status_code",
            "voxscope.sampling.decision",
            "call.id",
            "stream.id",
            "transport",
            "provider",
            "kind",
            "outcome",
        ];
        let attributes: Vec<KeyValue> =
            keys.iter().map(|&key| KeyValue::new(key, "CA0123456789abcdef0123")).collect();
        let heap: usize = attributes.capacity() * size_of::<KeyValue>()
            + attributes.iter().map(|kv| kv.value.as_str().len()).sum::<usize>();
        let bytes = size_of::<SpanData>() + heap + "GET /calls/{id}".len();
        assert!(bytes < 1_536, "{bytes} bytes");
    }
}
