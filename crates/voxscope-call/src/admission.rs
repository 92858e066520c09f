//! Admission against a layer's capacity, and the cheap path of a call shed at capacity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use quanta::Instant;

use crate::handles::Handles;
use crate::outcome::Outcome;

/// The count of admitted calls and the capacity it is held to.
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) active: Arc<AtomicUsize>,
    /// `Some` only when calls beyond it are shed (not in count-only mode).
    limit: Option<usize>,
    warnings: ShedWarnings,
}

impl Admission {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self { active: Arc::new(AtomicUsize::new(0)), limit, warnings: ShedWarnings::new() }
    }

    /// Takes a slot if one is free. A compare-and-swap, never an add undone later: a
    /// racing request can never see a transient count and be shed while a slot is free.
    pub(crate) fn try_acquire(&self) -> bool {
        let Some(limit) = self.limit else {
            self.active.fetch_add(1, Ordering::AcqRel);
            return true;
        };
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .is_ok()
    }

    /// A call shed at capacity: counted `rejected` with a zero duration, and no span,
    /// id or log line of its own; a warning at most once a second tells how many.
    pub(crate) fn shed(&self, handles: &Handles) {
        let rejected = Outcome::Rejected.index();
        handles.calls[rejected].increment(1);
        handles.duration[rejected].record(0.0);
        self.warnings.shed(handles.transport, self.limit.unwrap_or(0));
    }
}

/// The rate-limited warning of shed calls.
#[derive(Debug)]
struct ShedWarnings {
    start: Instant,
    /// Shed calls not yet reported.
    pending: AtomicU64,
    /// The second (since `start`, plus one) of the last warning.
    last_second: AtomicU64,
}

impl ShedWarnings {
    fn new() -> Self {
        Self { start: Instant::now(), pending: AtomicU64::new(0), last_second: AtomicU64::new(0) }
    }

    fn shed(&self, transport: &'static str, capacity: usize) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let second = self.start.elapsed().as_secs() + 1;
        let last = self.last_second.load(Ordering::Relaxed);
        if last == second
            || self
                .last_second
                .compare_exchange(last, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let shed = self.pending.swap(0, Ordering::AcqRel);
        tracing::warn!(
            transport,
            capacity,
            shed,
            "calls shed at capacity with 503 (at most one such line a second)"
        );
    }
}
