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
