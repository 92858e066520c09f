//! The alerts of one alerting rule through their life, as Prometheus's rule manager
//! moves them: a new result is pending, firing once it held for `for`, kept firing
//! `keep_firing_for` after it stopped holding, then inactive (resolved) and forgotten
//! 15 minutes later; a pending alert whose condition stops is dropped at once.

use std::collections::BTreeMap;

use super::{ActiveAlert, AlertState, Labels};

/// How long a resolved alert stays, so that receivers hear it resolved.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// One result of a rule's condition: alert labels, expanded annotations, value.
pub(crate) struct Hit {
    pub(crate) labels: Labels,
    pub(crate) annotations: Labels,
    pub(crate) value: f64,
}

/// The alerts of one rule, by their labels.
#[derive(Clone, Debug, Default)]
pub(crate) struct AlertStates {
    active: BTreeMap<Labels, ActiveAlert>,
}

impl AlertStates {
    /// Applies one evaluation at `t_ms` whose condition held for `hits`.
    pub(crate) fn update(&mut self, hits: Vec<Hit>, t_ms: i64, for_ms: i64, keep_firing_ms: i64) {
        let mut current = std::collections::BTreeSet::new();
        for hit in hits {
            current.insert(hit.labels.clone());
            match self.active.get_mut(&hit.labels) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = hit.value;
                    alert.annotations = hit.annotations;
                }
                _ => {
                    let alert = ActiveAlert {
                        labels: hit.labels.clone(),
                        annotations: hit.annotations,
                        state: AlertState::Pending,
                        active_at_ms: t_ms,
                        fired_at_ms: None,
                        resolved_at_ms: None,
                        keep_firing_since_ms: None,
                        value: hit.value,
                    };
                    self.active.insert(hit.labels, alert);
                }
            }
        }
        self.active.retain(|labels, alert| {
            if current.contains(labels) {
                alert.keep_firing_since_ms = None;
            } else {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_firing_ms > 0 {
                    let since = *alert.keep_firing_since_ms.get_or_insert(t_ms);
                    keep_firing = t_ms - since < keep_firing_ms;
                }
                let expired =
                    alert.resolved_at_ms.is_some_and(|at| t_ms - at > RESOLVED_RETENTION_MS);
                if alert.state == AlertState::Pending || expired {
                    return false;
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(t_ms);
                }
                if !keep_firing {
                    return true;
                }
            }
            if alert.state == AlertState::Pending && t_ms - alert.active_at_ms >= for_ms {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(t_ms);
            }
            true
        });
    }

    /// Puts `alert` back as it was (a restart).
    pub(crate) fn restore(&mut self, alert: ActiveAlert) {
        self.active.insert(alert.labels.clone(), alert);
    }

    /// Every alert: pending, firing and recently resolved.
    pub(crate) fn alerts(&self) -> impl Iterator<Item = &ActiveAlert> {
        self.active.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn hit() -> Vec<Hit> {
        vec![Hit { labels: Labels::new(), annotations: Labels::new(), value: 1.0 }]
    }

    fn state(s: &AlertStates) -> Option<AlertState> {
        s.alerts().next().map(|a| a.state)
    }

    #[test]
    fn pending_fires_after_for_and_drops_when_the_condition_stops_early() {
        let mut s = AlertStates::default();
        s.update(hit(), 0, 2 * MIN, 0);
        s.update(hit(), MIN, 2 * MIN, 0);
        assert_eq!(state(&s), Some(AlertState::Pending));
        s.update(Vec::new(), 2 * MIN, 2 * MIN, 0);
        assert_eq!(state(&s), None);
        for m in 3..=5 {
            s.update(hit(), m * MIN, 2 * MIN, 0);
        }
        let alert = s.alerts().next().unwrap();
        assert_eq!(
            (alert.state, alert.active_at_ms, alert.fired_at_ms),
            (AlertState::Firing, 3 * MIN, Some(5 * MIN))
        );
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert_then_it_resolves_and_is_forgotten() {
        let mut s = AlertStates::default();
        s.update(hit(), 0, 0, 3 * MIN);
        assert_eq!(state(&s), Some(AlertState::Firing));
        for m in 1..=3 {
            s.update(Vec::new(), m * MIN, 0, 3 * MIN);
            let expected = if m < 4 { AlertState::Firing } else { AlertState::Inactive };
            assert_eq!(state(&s), Some(expected), "minute {m}");
        }
        s.update(Vec::new(), 4 * MIN, 0, 3 * MIN);
        let alert = s.alerts().next().unwrap();
        assert_eq!((alert.state, alert.resolved_at_ms), (AlertState::Inactive, Some(4 * MIN)));
        s.update(Vec::new(), 19 * MIN, 0, 3 * MIN);
        assert_eq!(state(&s), Some(AlertState::Inactive));
        s.update(Vec::new(), 19 * MIN + 1, 0, 3 * MIN);
        assert_eq!(state(&s), None);
    }

    #[test]
    fn a_resolved_alert_whose_condition_returns_starts_pending_again() {
        let mut s = AlertStates::default();
        s.update(hit(), 0, MIN, 0);
        s.update(hit(), MIN, MIN, 0);
        s.update(Vec::new(), 2 * MIN, MIN, 0);
        assert_eq!(state(&s), Some(AlertState::Inactive));
        s.update(hit(), 3 * MIN, MIN, 0);
        let alert = s.alerts().next().unwrap();
        assert_eq!((alert.state, alert.active_at_ms), (AlertState::Pending, 3 * MIN));
    }
}
