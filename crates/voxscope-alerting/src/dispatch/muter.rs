//! The hook silences plug into: which silences mute a label set now.

use voxscope_alert::eval::Labels;

/// Says which silences mute an alert. The silence store implements it; the dispatcher
/// asks it at every flush and escalation step, and for every alert the API lists. It is
/// called with the engine's state locked, so it must not call back into the
/// [`crate::Notifier`].
///
/// ```
/// use voxscope_alert::eval::Labels;
/// use voxscope_alerting::dispatch::Muter;
///
/// /// Mutes everything of one job, for a maintenance window.
/// struct Maintenance { job: String, until_ms: i64 }
/// impl Muter for Maintenance {
///     fn muted_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
///         let hit = labels.get("job") == Some(&self.job) && now_ms < self.until_ms;
///         if hit { vec!["maintenance".to_owned()] } else { Vec::new() }
///     }
/// }
/// let m = Maintenance { job: "a".into(), until_ms: 10 };
/// assert_eq!(m.muted_by(&[("job".into(), "a".into())].into(), 5), ["maintenance"]);
/// ```
pub trait Muter: Send + Sync {
    /// The ids of the silences that mute `labels` at `now_ms`; empty when none does.
    fn muted_by(&self, labels: &Labels, now_ms: i64) -> Vec<String>;

    /// The silences as the state directory keeps them; `Null` when there is nothing
    /// to keep.
    fn persisted(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// No silences: nothing is ever muted by one.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSilences;

impl Muter for NoSilences {
    fn muted_by(&self, _: &Labels, _: i64) -> Vec<String> {
        Vec::new()
    }
}

/// The silence store mutes what its active silences match, and persists as the list of
/// its silences (read it back with `serde_json::from_value::<SilenceStore>`).
impl Muter for crate::silence::Silences {
    fn muted_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        self.silenced_by(labels, now_ms)
    }

    fn persisted(&self) -> serde_json::Value {
        serde_json::to_value(&*self.lock()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "silences not persisted");
            serde_json::Value::Null
        })
    }
}

#[cfg(test)]
mod tests {
    use voxscope_alert::expr::Matcher;

    use super::*;
    use crate::silence::{Silence, SilenceStore, Silences};

    #[test]
    fn silences_mute_as_their_store_says_and_persist_round_trip() {
        let silences = Silences::new(SilenceStore::new());
        let silence = Silence::new(vec![Matcher::eq("job", "voice_agent")], 1_000, 61_000);
        let id = silences.lock().set(silence, 0).unwrap();
        let labels: Labels = [("job".to_owned(), "voice_agent".to_owned())].into();
        assert!(Muter::muted_by(&silences, &labels, 999).is_empty());
        assert_eq!(Muter::muted_by(&silences, &labels, 1_000), std::slice::from_ref(&id));
        let restored: SilenceStore = serde_json::from_value(silences.persisted()).unwrap();
        assert_eq!(restored.silenced_by(&labels, 30_000), [id]);
    }
}
