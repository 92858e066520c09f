//! One silence store shared by the HTTP API that edits it and the dispatcher that asks
//! it which alerts are muted.

use std::sync::{Arc, Mutex, MutexGuard};

use voxscope_alert::eval::Labels;

use super::SilenceStore;

/// A [`SilenceStore`] shared between the HTTP API that edits it and the dispatcher that
/// asks it which alerts are muted.
///
/// ```
/// use voxscope_alerting::silence::Silences;
/// let silences = Silences::default();
/// let shared = silences.clone();
/// assert!(shared.lock().is_empty());
/// assert!(silences.silenced_by(&Default::default(), 0).is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Silences(Arc<Mutex<SilenceStore>>);

impl Silences {
    /// Shares `store`.
    pub fn new(store: SilenceStore) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    /// The store, locked. A panic while it was held leaves it usable: every change is
    /// one insert or one field write.
    pub fn lock(&self) -> MutexGuard<'_, SilenceStore> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`SilenceStore::silenced_by`] on the shared store.
    pub fn silenced_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        self.lock().silenced_by(labels, now_ms)
    }
}
