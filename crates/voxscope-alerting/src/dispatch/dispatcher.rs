//! The dispatcher, as Alertmanager's `dispatch.go` and notify pipeline: each tick's
//! alerts are routed into aggregation groups; a group flushes `group_wait` after it is
//! created, then every `group_interval`; a flush drops the alerts that a silence or an
//! inhibition mutes, and notifies only when the dedup log says there is something new
//! or the cooldown passed. Resolved alerts leave their group once a flush told of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use voxscope_alert::eval::{ActiveAlert, AlertState, Labels};
use voxscope_alert::routing::{self, Cooldowns, InhibitRule, Repeat, Route};
use voxscope_alert::{Config, Severity};

use super::group::Group;
use super::muter::Muter;
use super::nflog::{LogEntry, NotifyLog};
use super::route::{CompiledRoute, render_labels};
use crate::notification::{Notification, NotifiedAlert, Status};
use crate::{Error, Inhibitor, fingerprint};

/// Why an alert is muted now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Muting {
    /// Ids of the silences that mute it.
    pub silenced_by: Vec<String>,
    /// Fingerprint of the firing alert that inhibits it.
    pub inhibited_by: Option<String>,
}

impl Muting {
    /// Whether anything mutes the alert.
    pub fn is_muted(&self) -> bool {
        !self.silenced_by.is_empty() || self.inhibited_by.is_some()
    }
}

type GeneratorUrl = Box<dyn Fn(&Labels) -> String + Send + Sync>;

/// Routes, groups, mutes and dedups alerts into [`Notification`]s. It is driven by
/// time given to it ([`Dispatcher::observe`], [`Dispatcher::flush_due`]), so it holds no
/// timer; [`crate::Notifier`] runs it on tokio's clock.
///
/// ```
/// use std::sync::Arc;
/// use voxscope_alert::eval::{ActiveAlert, AlertState};
/// use voxscope_alerting::dispatch::{Dispatcher, NoSilences};
///
/// let mut config = voxscope_alert::Config::default();
/// config.alertmanager.group_wait_seconds = 30;
/// let mut dispatcher = Dispatcher::new(&config, Arc::new(NoSilences)).unwrap();
/// let alert = ActiveAlert {
///     labels: [("alertname", "HighCPUUsage"), ("severity", "warning")]
///         .map(|(k, v)| (k.to_owned(), v.to_owned()))
///         .into(),
///     annotations: Default::default(),
///     state: AlertState::Firing,
///     active_at_ms: 0,
///     fired_at_ms: Some(0),
///     resolved_at_ms: None,
///     keep_firing_since_ms: None,
///     value: 1.0,
/// };
/// dispatcher.observe(&[alert], 0);
/// assert_eq!(dispatcher.next_flush_ms(), Some(30_000));
/// assert!(dispatcher.flush_due(29_999).is_empty());
/// let sent = dispatcher.flush_due(30_000);
/// assert_eq!(sent[0].receiver, "warning");
/// ```
pub struct Dispatcher {
    root: CompiledRoute,
    inhibitor: Inhibitor,
    cooldowns: Cooldowns,
    muter: Arc<dyn Muter>,
    generator_url: GeneratorUrl,
    /// Firing alerts, and resolved ones some group has yet to tell of.
    alerts: BTreeMap<String, NotifiedAlert>,
    groups: BTreeMap<(usize, String), Group>,
    log: NotifyLog,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("alerts", &self.alerts.len())
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

fn severity_of(labels: &Labels) -> Option<Severity> {
    let value = labels.get("severity")?;
    [Severity::Info, Severity::Warning, Severity::Critical, Severity::Emergency]
        .into_iter()
        .find(|s| s.as_str() == value)
}

impl Dispatcher {
    /// The dispatcher of `config`: its route tree, inhibit rules and cooldowns.
    ///
    /// # Errors
    /// [`Error::Matcher`] when a matcher's label or regex is invalid.
    pub fn new(config: &Config, muter: Arc<dyn Muter>) -> Result<Self, Error> {
        Self::with_routes(
            &routing::route_tree(config),
            &routing::inhibit_rules(config),
            config.cooldowns,
            muter,
        )
    }

    /// A dispatcher over any route tree and inhibit rules.
    ///
    /// # Errors
    /// [`Error::Matcher`] when a matcher's label or regex is invalid.
    pub fn with_routes(
        routes: &Route,
        inhibit: &[InhibitRule],
        cooldowns: Cooldowns,
        muter: Arc<dyn Muter>,
    ) -> Result<Self, Error> {
        Ok(Self {
            root: CompiledRoute::compile(routes, None, &mut 0)?,
            inhibitor: Inhibitor::new(inhibit)?,
            cooldowns,
            muter,
            generator_url: Box::new(|_| String::new()),
            alerts: BTreeMap::new(),
            groups: BTreeMap::new(),
            log: NotifyLog::default(),
        })
    }

    /// Sets the link from an alert back to its rule (empty by default).
    pub fn with_generator_url(
        mut self,
        url: impl Fn(&Labels) -> String + Send + Sync + 'static,
    ) -> Self {
        self.generator_url = Box::new(url);
        self
    }

    /// Takes one tick of the evaluator: every alert it holds, in any state. Firing alerts
    /// join (or stay in) their groups; an alert that fired and is now resolved, pending
    /// or gone from the tick is resolved (at its `resolved_at_ms`, else now); pending
    /// alerts and resolved ones never notified are ignored.
    pub fn observe(&mut self, tick: &[ActiveAlert], now_ms: i64) {
        let mut firing_now = BTreeSet::new();
        for active in tick {
            let fp = fingerprint(&active.labels);
            match active.state {
                AlertState::Firing => {
                    let starts_at_ms = match self.alerts.get(&fp) {
                        Some(known) if known.status == Status::Firing => known.starts_at_ms,
                        _ => active.fired_at_ms.unwrap_or(active.active_at_ms),
                    };
                    let url = (self.generator_url)(&active.labels);
                    let alert = NotifiedAlert::of(active, Status::Firing, starts_at_ms, None, url);
                    self.route(&alert, now_ms);
                    self.alerts.insert(fp.clone(), alert);
                    firing_now.insert(fp);
                }
                AlertState::Inactive | AlertState::Pending => {
                    if let (Some(at), Some(known)) = (active.resolved_at_ms, self.alerts.get(&fp))
                        && known.status == Status::Firing
                    {
                        let mut resolved = known.clone();
                        resolved.status = Status::Resolved;
                        resolved.ends_at_ms = Some(at);
                        self.route(&resolved, now_ms);
                        self.alerts.insert(fp.clone(), resolved);
                        firing_now.insert(fp);
                    }
                }
            }
        }
        let gone: Vec<NotifiedAlert> = self
            .alerts
            .values()
            .filter(|a| a.status == Status::Firing && !firing_now.contains(&a.fingerprint))
            .cloned()
            .collect();
        for mut alert in gone {
            alert.status = Status::Resolved;
            alert.ends_at_ms = Some(now_ms);
            self.route(&alert, now_ms);
            self.alerts.insert(alert.fingerprint.clone(), alert);
        }
    }

    fn route(&mut self, alert: &NotifiedAlert, now_ms: i64) {
        for route in self.root.matching(&alert.labels) {
            let labels = route.group_labels(&alert.labels);
            let rendered = render_labels(&labels);
            let slot = (route.id, rendered.clone());
            if let Some(group) = self.groups.get_mut(&slot) {
                group.upsert(alert);
            } else if alert.status == Status::Firing {
                let key = format!("{}:{rendered}", route.key);
                let group = Group::new(route.id, key, labels, alert, route.group_wait_ms, now_ms);
                self.groups.insert(slot, group);
            }
        }
    }

    /// When the next group flushes, unix milliseconds.
    pub fn next_flush_ms(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next_flush_ms).min()
    }

    /// Flushes every group due at `now_ms`: the notifications to send, in group order.
    pub fn flush_due(&mut self, now_ms: i64) -> Vec<Notification> {
        let due: Vec<(usize, String)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms <= now_ms)
            .map(|(slot, _)| slot.clone())
            .collect();
        let mut out = Vec::new();
        for slot in due {
            if let Some(notification) = self.flush(&slot, now_ms) {
                out.push(notification);
            }
        }
        let grouped: BTreeSet<&String> =
            self.groups.values().flat_map(|g| g.alerts.keys()).collect();
        let drop: Vec<String> = self
            .alerts
            .values()
            .filter(|a| a.status == Status::Resolved && !grouped.contains(&a.fingerprint))
            .map(|a| a.fingerprint.clone())
            .collect();
        for fp in drop {
            self.alerts.remove(&fp);
        }
        self.log.prune(now_ms);
        out
    }

    fn flush(&mut self, slot: &(usize, String), now_ms: i64) -> Option<Notification> {
        let group = self.groups.get(slot)?;
        let route = self.root.find(group.route)?;
        let unmuted: Vec<NotifiedAlert> = group
            .sorted()
            .into_iter()
            .filter(|a| !self.muting(&a.labels, now_ms).is_muted())
            .cloned()
            .collect();
        let set = |status| -> BTreeSet<String> {
            unmuted.iter().filter(|a| a.status == status).map(|a| a.fingerprint.clone()).collect()
        };
        let (firing, resolved) = (set(Status::Firing), set(Status::Resolved));
        let repeat_seconds = match route.repeat {
            Repeat::Every(seconds) => seconds,
            Repeat::Cooldown(fallback) => self.cooldowns.seconds(
                unmuted
                    .iter()
                    .filter(|a| a.status == Status::Firing)
                    .filter_map(|a| severity_of(&a.labels))
                    .max()
                    .unwrap_or(fallback),
            ),
        };
        let repeat_ms = i64::try_from(repeat_seconds.saturating_mul(1_000)).unwrap_or(i64::MAX);
        let notify = !unmuted.is_empty()
            && self
                .log
                .needs_update(&group.key, &route.receiver, &firing, &resolved, repeat_ms, now_ms)
                .is_some();
        let notification = notify.then(|| Notification {
            receiver: route.receiver.clone(),
            group_key: group.key.clone(),
            group_labels: group.labels.clone(),
            status: if firing.is_empty() { Status::Resolved } else { Status::Firing },
            alerts: unmuted.clone(),
            escalation_step: None,
        });
        if notify {
            let (key, receiver) = (group.key.clone(), route.receiver.clone());
            self.log.record(&key, &receiver, firing, resolved, now_ms);
        }
        let interval = route.group_interval_ms;
        let group = self.groups.get_mut(slot)?;
        group.next_flush_ms = now_ms + interval;
        group.remove_resolved();
        if group.alerts.is_empty() {
            self.groups.remove(slot);
        }
        notification
    }

    /// What mutes `labels` at `now_ms`: silences first, then inhibition by a firing alert.
    pub fn muting(&self, labels: &Labels, now_ms: i64) -> Muting {
        let firing = self
            .alerts
            .values()
            .filter(|a| a.status == Status::Firing)
            .map(|a| (a.fingerprint.as_str(), &a.labels));
        Muting {
            silenced_by: self.muter.muted_by(labels, now_ms),
            inhibited_by: self.inhibitor.inhibited_by(labels, firing),
        }
    }

    /// The firing alerts, and the resolved ones a group has yet to tell of.
    pub fn alerts(&self) -> impl Iterator<Item = &NotifiedAlert> {
        self.alerts.values()
    }

    /// The firing alert with `fingerprint`.
    pub fn firing(&self, fingerprint: &str) -> Option<&NotifiedAlert> {
        self.alerts.get(fingerprint).filter(|a| a.status == Status::Firing)
    }

    /// The receivers an alert with `labels` is routed to.
    pub fn receivers(&self, labels: &Labels) -> Vec<String> {
        self.root.matching(labels).iter().map(|r| r.receiver.clone()).collect()
    }

    /// The dedup log, to persist.
    pub fn notify_log(&self) -> Vec<LogEntry> {
        self.log.entries()
    }

    /// Restores the dedup log saved before a restart, so groups that come back do not
    /// notify again inside their cooldown.
    pub fn restore_notify_log(&mut self, entries: Vec<LogEntry>) {
        self.log = NotifyLog::restore(entries);
    }
}
