//! Everything the engine knows, driven by the times it is given: the dispatcher, the
//! escalation, the acknowledgements and the history, with what they persist.

use std::collections::BTreeMap;

use voxscope_alert::eval::{ActiveAlert, AlertState};

use crate::ack::{Ack, Acks};
use crate::dispatch::Dispatcher;
use crate::escalation::Escalator;
use crate::history::{Event, History};
use crate::notification::{Notification, NotifiedAlert, Status};
use crate::persist::Snapshot;
use crate::{Error, fingerprint};

/// One alert as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertStatus {
    /// The alert.
    pub alert: NotifiedAlert,
    /// The receivers its routes name.
    pub receivers: Vec<String>,
    /// Ids of the silences that mute it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts that inhibit it.
    pub inhibited_by: Vec<String>,
    /// Its acknowledgement.
    pub acknowledged: Option<Ack>,
}

pub(crate) struct State {
    pub dispatcher: Dispatcher,
    pub escalator: Escalator,
    pub acks: Acks,
    pub history: History,
    states: BTreeMap<String, (AlertState, voxscope_alert::eval::Labels)>,
    active: Vec<ActiveAlert>,
    dirty: bool,
    pub dropped: u64,
}

impl State {
    pub fn new(dispatcher: Dispatcher, escalator: Escalator, history: History) -> Self {
        Self {
            dispatcher,
            escalator,
            acks: Acks::default(),
            history,
            states: BTreeMap::new(),
            active: Vec::new(),
            dirty: false,
            dropped: 0,
        }
    }

    pub fn observe(&mut self, tick: &[ActiveAlert], now_ms: i64) {
        let mut seen = BTreeMap::new();
        for alert in tick {
            let fp = fingerprint(&alert.labels);
            let from = self.states.get(&fp).map(|(state, _)| *state);
            if from != Some(alert.state) {
                self.history.push(
                    now_ms,
                    Event::StateChanged {
                        fingerprint: fp.clone(),
                        labels: alert.labels.clone(),
                        from,
                        to: alert.state,
                    },
                );
                self.dirty = true;
            }
            seen.insert(fp, (alert.state, alert.labels.clone()));
        }
        for (fp, (state, labels)) in std::mem::take(&mut self.states) {
            if !seen.contains_key(&fp) && state != AlertState::Inactive {
                let to = AlertState::Inactive;
                let event = Event::StateChanged { fingerprint: fp, labels, from: Some(state), to };
                self.history.push(now_ms, event);
                self.dirty = true;
            }
        }
        self.states = seen;
        self.active = tick.to_vec();
        self.dispatcher.observe(tick, now_ms);
        let firing: Vec<&NotifiedAlert> =
            self.dispatcher.alerts().filter(|a| a.status == Status::Firing).collect();
        self.escalator.track(firing.iter().copied());
        let dispatcher = &self.dispatcher;
        self.acks.retain(|fp| dispatcher.firing(fp).is_some());
    }

    /// The notifications due at `now_ms`: group flushes, then escalation pages.
    pub fn due(&mut self, now_ms: i64) -> Vec<Notification> {
        let mut out = self.dispatcher.flush_due(now_ms);
        let dispatcher = &self.dispatcher;
        let pages = self.escalator.due(now_ms, &self.acks, |fp| {
            let alert = dispatcher.firing(fp)?;
            Some((alert.clone(), dispatcher.muting(&alert.labels, now_ms).is_muted()))
        });
        for page in pages {
            if page.muted {
                let fingerprint = page.notification.alerts[0].fingerprint.clone();
                let escalation_step = page.notification.escalation_step.unwrap_or_default();
                self.history.push(now_ms, Event::PageMuted { fingerprint, escalation_step });
                self.dirty = true;
            } else {
                out.push(page.notification);
            }
        }
        for n in &out {
            self.history.push(
                now_ms,
                Event::Notified {
                    receiver: n.receiver.clone(),
                    group_key: n.group_key.clone(),
                    status: n.status,
                    fingerprints: n.alerts.iter().map(|a| a.fingerprint.clone()).collect(),
                    escalation_step: n.escalation_step,
                },
            );
            self.dirty = true;
        }
        self.history.prune(now_ms);
        out
    }

    pub fn dropped(&mut self, notification: &Notification, now_ms: i64) {
        self.dropped += 1;
        let event = Event::Dropped {
            receiver: notification.receiver.clone(),
            group_key: notification.group_key.clone(),
        };
        self.history.push(now_ms, event);
        self.dirty = true;
    }

    pub fn next_wakeup_ms(&self) -> Option<i64> {
        [self.dispatcher.next_flush_ms(), self.escalator.next_due_ms(&self.acks)]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn ack(&mut self, fp: &str, by: &str, comment: &str, now_ms: i64) -> Result<Ack, Error> {
        if self.dispatcher.firing(fp).is_none() {
            return Err(Error::UnknownAlert(fp.to_owned()));
        }
        let ack = Ack {
            fingerprint: fp.to_owned(),
            by: by.to_owned(),
            comment: comment.to_owned(),
            at_ms: now_ms,
        };
        self.acks.insert(ack.clone());
        let event = Event::Acknowledged {
            fingerprint: fp.to_owned(),
            by: by.to_owned(),
            comment: comment.to_owned(),
        };
        self.history.push(now_ms, event);
        self.dirty = true;
        Ok(ack)
    }

    pub fn alerts(&self, now_ms: i64) -> Vec<AlertStatus> {
        self.dispatcher
            .alerts()
            .map(|alert| {
                let muting = self.dispatcher.muting(&alert.labels, now_ms);
                AlertStatus {
                    alert: alert.clone(),
                    receivers: self.dispatcher.receivers(&alert.labels),
                    silenced_by: muting.silenced_by,
                    inhibited_by: muting.inhibited_by.into_iter().collect(),
                    acknowledged: self.acks.get(&alert.fingerprint).cloned(),
                }
            })
            .collect()
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The snapshot to save, when anything changed since the last one.
    pub fn take_snapshot(&mut self, silences: serde_json::Value, now_ms: i64) -> Option<Snapshot> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(Snapshot {
            saved_at_ms: now_ms,
            active_alerts: self.active.clone(),
            acks: self.acks.list(),
            escalations: self.escalator.state(),
            notify_log: self.dispatcher.notify_log(),
            silences,
            history: self.history.entries().cloned().collect(),
            ..Snapshot::default()
        })
    }

    /// Brings back a saved state. The dispatcher hears the saved tick at once, so the
    /// alerts that fired before the restart are firing again, in their groups.
    pub fn restore(&mut self, snapshot: Snapshot, now_ms: i64) {
        self.history.restore(snapshot.history, now_ms);
        self.dispatcher.restore_notify_log(snapshot.notify_log);
        self.escalator.restore(snapshot.escalations);
        self.acks = Acks::restore(snapshot.acks);
        for alert in &snapshot.active_alerts {
            self.states.insert(fingerprint(&alert.labels), (alert.state, alert.labels.clone()));
        }
        self.active = snapshot.active_alerts.clone();
        self.dispatcher.observe(&snapshot.active_alerts, now_ms);
        let firing: Vec<&NotifiedAlert> =
            self.dispatcher.alerts().filter(|a| a.status == Status::Firing).collect();
        self.escalator.track(firing.iter().copied());
        let dispatcher = &self.dispatcher;
        self.acks.retain(|fp| dispatcher.firing(fp).is_some());
    }
}
