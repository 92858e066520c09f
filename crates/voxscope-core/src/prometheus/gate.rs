//! Keeps histogram records and the exporter's drains apart, so that no sample is lost.
//!
//! metrics-exporter-prometheus buffers each histogram's samples in metrics-util's
//! `AtomicBucket` and drains them into the rendered buckets when it renders or runs its
//! upkeep. A drain takes the bucket's blocks away and reads each once no write is in
//! flight in it; a record that had already found the block but not yet claimed its slot
//! writes into it after the read, and the sample is gone from `_count`, `_sum` and every
//! `_bucket`. Under load this loses requests from the rates and ratios built on them.
//!
//! The gate closes around every drain that goes through [`MetricsHandle`]: the drain
//! waits for the records in flight, and a record that starts while the gate is closed
//! goes to a side buffer, which is recorded before the next drain (and right after
//! this one). A record costs two uncontended atomic additions on a slot of its thread's
//! own and a read of the closed flag; nothing blocks it.
//!
//! [`MetricsHandle`]: super::MetricsHandle

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, Metadata, Recorder};
use metrics_util::layers::Layer;

/// Slots of records in flight: threads share one when there are more threads.
const SLOTS: usize = 32;

/// A slot on a cache line of its own, so that threads on different slots do not share
/// one.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot {
    /// Records of this slot's threads between their check of the gate and their push.
    in_flight: AtomicUsize,
    /// Samples recorded while the gate was closed, with their histograms.
    deferred: Mutex<Vec<(Histogram, f64, u32)>>,
}

/// The gate between histogram records and drains; one per installed recorder.
#[derive(Debug, Default)]
pub(crate) struct DrainGate {
    closed: AtomicBool,
    slots: [Slot; SLOTS],
    /// One drain at a time: render and upkeep run on different threads.
    drains: Mutex<()>,
}

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

fn slot_index() -> usize {
    SLOT.with(|slot| {
        if slot.get() == usize::MAX {
            slot.set(NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS);
        }
        slot.get()
    })
}

impl DrainGate {
    /// Runs `drain` (a render or an upkeep of the exporter) with no histogram record in
    /// flight and none starting: those go to the side buffers, recorded after it.
    pub(crate) fn exclusive<T>(&self, drain: impl FnOnce() -> T) -> T {
        let _one = self.drains.lock().unwrap_or_else(PoisonError::into_inner);
        self.flush();
        let out = {
            let _closed = Closed::new(self);
            for slot in &self.slots {
                let mut spins = 0_u32;
                while slot.in_flight.load(Ordering::SeqCst) != 0 {
                    // A record takes tens of nanoseconds, unless its thread was preempted.
                    if spins < 64 {
                        std::hint::spin_loop();
                        spins += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
            drain()
        };
        self.flush();
        out
    }

    /// Records the side buffers' samples into their histograms. Called with the drain
    /// lock held and the gate open: no drain can race with these pushes.
    fn flush(&self) {
        for slot in &self.slots {
            let deferred =
                std::mem::take(&mut *slot.deferred.lock().unwrap_or_else(PoisonError::into_inner));
            for (histogram, value, count) in deferred {
                record_into(&histogram, value, count as usize);
            }
        }
    }

    /// Records `value` `count` times into `inner`, or defers it while a drain runs.
    fn record(&self, inner: &Histogram, value: f64, count: usize) {
        let slot = &self.slots[slot_index()];
        // Paired with the drain's store of `closed` and load of `in_flight` (both
        // sequentially consistent): either the drain sees this record in flight and waits,
        // or this record sees the gate closed and defers.
        slot.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            slot.in_flight.fetch_sub(1, Ordering::Release);
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            slot.deferred.lock().unwrap_or_else(PoisonError::into_inner).push((
                inner.clone(),
                value,
                count,
            ));
            return;
        }
        record_into(inner, value, count);
        slot.in_flight.fetch_sub(1, Ordering::Release);
    }
}

/// `value` recorded `count` times: one `record` for one, the exporter's bulk push else.
fn record_into(histogram: &Histogram, value: f64, count: usize) {
    match count {
        1 => histogram.record(value),
        n => histogram.record_many(value, n),
    }
}

/// The gate closed for as long as it lives, opened again even if the drain panics.
struct Closed<'a>(&'a DrainGate);

impl<'a> Closed<'a> {
    fn new(gate: &'a DrainGate) -> Self {
        gate.closed.store(true, Ordering::SeqCst);
        Self(gate)
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0.closed.store(false, Ordering::SeqCst);
    }
}

/// A histogram of the exporter behind the gate.
struct GatedHistogram {
    inner: Histogram,
    gate: Arc<DrainGate>,
}

impl HistogramFn for GatedHistogram {
    fn record(&self, value: f64) {
        self.gate.record(&self.inner, value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.gate.record(&self.inner, value, count);
    }
}

/// The layer that puts a recorder's histograms behind a [`DrainGate`].
#[derive(Clone, Debug)]
pub(crate) struct GateLayer(pub(crate) Arc<DrainGate>);

impl<R> Layer<R> for GateLayer {
    type Output = Gated<R>;

    fn layer(&self, inner: R) -> Gated<R> {
        Gated { inner, gate: Arc::clone(&self.0) }
    }
}

/// A recorder whose histograms are behind a drain gate: the innermost layer of
/// [`VoxscopeRecorder`](super::VoxscopeRecorder), over the Prometheus recorder. The
/// renders and upkeep of [`MetricsHandle`](super::MetricsHandle) wait for the histogram
/// records in flight, and records that start meanwhile are recorded right after, so
/// that no sample is lost to a drain.
#[derive(Debug)]
pub struct Gated<R> {
    inner: R,
    gate: Arc<DrainGate>,
}

impl<R: Recorder> Recorder for Gated<R> {
    forward_describes!();

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let inner = self.inner.register_histogram(key, metadata);
        Histogram::from_arc(Arc::new(GatedHistogram { inner, gate: Arc::clone(&self.gate) }))
    }
}
