//! Saving the engine's metric history while it runs: every
//! `[history] save_interval_seconds` the store is encoded under the evaluation lock and
//! written off the runtime's threads; at shutdown once more.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use voxscope_alert::eval::Storage;

use crate::persist::StateDir;

/// Where and how often the history is saved.
pub(crate) struct HistorySaver {
    state: StateDir,
    every_ms: i64,
    /// When the history was last encoded, clock milliseconds.
    encoded_at: AtomicI64,
    /// When the history on disk was encoded: a late write of an older encoding never
    /// replaces a newer one.
    written_at: Mutex<i64>,
}

impl HistorySaver {
    pub(crate) fn new(state: StateDir, every_seconds: u64, now_ms: i64) -> Self {
        let every_ms = i64::try_from(every_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
        Self {
            state,
            every_ms,
            encoded_at: AtomicI64::new(now_ms),
            written_at: Mutex::new(i64::MIN),
        }
    }

    /// Whether a save is due at `now_ms`.
    pub(crate) fn due(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.encoded_at.load(Ordering::Relaxed)) >= self.every_ms
    }

    /// `storage` encoded for a save at `now_ms`; keep the storage's lock only for this.
    pub(crate) fn encode(&self, storage: &Storage, now_ms: i64) -> Option<Vec<u8>> {
        self.encoded_at.store(now_ms, Ordering::Relaxed);
        match self.state.encode_history(storage) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                tracing::warn!(target: "voxscope::alerting", error = %e, "metric history not saved");
                None
            }
        }
    }

    /// Writes what was encoded at `encoded_ms`, unless a newer encoding is on disk.
    pub(crate) fn write(&self, encoded_ms: i64, bytes: &[u8]) {
        let mut written = self.written_at.lock().unwrap_or_else(PoisonError::into_inner);
        if *written > encoded_ms {
            return;
        }
        match self.state.write_history(bytes) {
            Ok(()) => {
                *written = encoded_ms;
                tracing::debug!(target: "voxscope::alerting", bytes = bytes.len(), "metric history saved");
            }
            Err(e) => {
                tracing::warn!(target: "voxscope::alerting", error = %e, "metric history not saved");
            }
        }
    }
}

/// The history `state` holds for `limits`, or an empty store: an unreadable file is
/// logged and moved aside (kept for a look, never read again), not a reason to stop
/// alerting.
pub(crate) fn restore(state: &StateDir, limits: voxscope_alert::eval::StorageLimits) -> Storage {
    match state.load_history(&limits) {
        Ok(Some(storage)) => {
            tracing::info!(
                target: "voxscope::alerting",
                series = storage.series_count(),
                samples = storage.sample_count(),
                "metric history restored"
            );
            storage
        }
        Ok(None) => Storage::new(limits),
        Err(e) => {
            let path = state.history_path();
            let aside = path.with_extension("cbor.unreadable");
            let moved = std::fs::rename(&path, &aside).is_ok();
            tracing::error!(
                target: "voxscope::alerting",
                error = %e,
                moved_to = %aside.display(),
                moved,
                "metric history not restored; starting with none"
            );
            Storage::new(limits)
        }
    }
}
