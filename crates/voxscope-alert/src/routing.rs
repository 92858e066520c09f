//! The route tree and the inhibit rules as typed data, with the per-severity cooldowns
//! (`[cooldowns]`) that set each route's repeat interval. The generated Alertmanager
//! config renders from them and the embedded dispatcher runs them, so both route,
//! group, repeat and inhibit alike.
//!
//! ```
//! let config = voxscope_alert::Config::default();
//! let tree = voxscope_alert::routing::route_tree(&config);
//! assert_eq!(tree.receiver, "default");
//! assert_eq!(tree.routes[1].receiver, "critical");
//! ```

use serde::Deserialize;

use crate::alertmanager::receivers;
use crate::expr::{MatchOp, Matcher};
use crate::{Config, Error, Severity};

/// Labels whose equality makes a critical alert inhibit a warning of the same name:
/// the same SLO, route, transport or provider, not any other one.
pub const INHIBIT_EQUAL: &[&str] =
    &["alertname", "job", "slo", "transport", "kind", "provider", "route"];

/// Labels alerts are grouped by: one notification per alert, job, SLO and provider kind,
/// so that an STT and a TTS incident never share one.
pub const GROUP_BY: &[&str] = &["alertname", "job", "category", "slo", "kind"];

/// `(source, target, equal)` inhibitions between alerts: the cause mutes its
/// consequences. A job that is down mutes everything else of it; an open circuit mutes
/// its provider's errors and slowness and its kind's fallbacks; a missing setting mutes
/// the auth errors it causes.
pub const CAUSES: &[(&str, &str, &[&str])] = &[
    ("alertname=\"ServiceDown\"", "alertname!~\"ServiceDown|Watchdog\"", &["job"]),
    (
        "alertname=\"ProviderCircuitOpen\"",
        "alertname=~\"ProviderErrors|HighProviderTTFB\"",
        &["job", "kind", "provider"],
    ),
    ("alertname=\"ProviderCircuitOpen\"", "alertname=\"HighFallbackRate\"", &["job", "kind"]),
    ("alertname=\"ConfigMissing\"", "error=\"auth\"", &["job"]),
];

/// Per-severity repeat intervals (`[cooldowns]`), seconds: how long a group that still
/// fires, with nothing new in it, waits before it is notified again. `0` repeats at
/// every flush of the group (every `group_interval`) while it fires.
///
/// ```
/// use voxscope_alert::Severity;
/// let config = voxscope_alert::Config::from_toml("[cooldowns]\nwarning = 600").unwrap();
/// assert_eq!(config.cooldowns.seconds(Severity::Warning), 600);
/// assert_eq!(config.cooldowns.seconds(Severity::Critical), 60);
/// ```
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Cooldowns {
    /// Info alerts.
    pub info: u64,
    /// Warnings.
    pub warning: u64,
    /// Critical alerts.
    pub critical: u64,
    /// Emergencies.
    pub emergency: u64,
}

impl Default for Cooldowns {
    fn default() -> Self {
        Self { info: 4 * 3_600, warning: 300, critical: 60, emergency: 0 }
    }
}

impl Cooldowns {
    /// The cooldown of `severity`; the Watchdog's `none` repeats as info does.
    pub fn seconds(&self, severity: Severity) -> u64 {
        match severity {
            Severity::None | Severity::Info => self.info,
            Severity::Warning => self.warning,
            Severity::Critical => self.critical,
            Severity::Emergency => self.emergency,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("cooldowns.info", self.info),
            ("cooldowns.warning", self.warning),
            ("cooldowns.critical", self.critical),
            ("cooldowns.emergency", self.emergency),
        ] {
            if value > MAX_COOLDOWN_SECONDS {
                return Err(Error::invalid(field, value, "at most 30 days (2592000 seconds)"));
            }
        }
        Ok(())
    }
}

/// The longest cooldown accepted: 30 days.
const MAX_COOLDOWN_SECONDS: u64 = 30 * 86_400;

/// How often a group that still fires, with nothing new, is notified again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// A fixed interval, seconds.
    Every(u64),
    /// The cooldown of the highest severity among the group's alerts; the severity here
    /// is the one the route is for, used when no alert carries a known severity and when
    /// rendering for Alertmanager, whose routes take one fixed interval.
    Cooldown(Severity),
}

/// One node of the route tree, every timing resolved (a child does not inherit; it
/// carries its own values).
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// Where the route's notifications go.
    pub receiver: String,
    /// All must match for an alert to take this route; the root has none.
    pub matchers: Vec<Matcher>,
    /// Labels that split the route's alerts into groups.
    pub group_by: Vec<String>,
    /// Wait before a new group's first notification, seconds.
    pub group_wait_seconds: u64,
    /// Wait between two flushes of a group, seconds.
    pub group_interval_seconds: u64,
    /// When a group that did not change is notified again.
    pub repeat: Repeat,
    /// Whether matching goes on to the next sibling after this route matched.
    pub continue_matching: bool,
    /// Child routes, tried in order.
    pub routes: Vec<Route>,
}

impl Route {
    /// The repeat interval an Alertmanager route of this node takes, seconds.
    /// Alertmanager cannot take a repeat interval of 0, so a cooldown of 0 renders as
    /// the route's group interval: a notification at every flush, which is what 0 means.
    ///
    /// ```
    /// use voxscope_alert::routing::{Repeat, route_tree};
    /// let config = voxscope_alert::Config::default();
    /// let emergency = &route_tree(&config).routes[1];
    /// assert_eq!(emergency.repeat, Repeat::Cooldown(voxscope_alert::Severity::Emergency));
    /// assert_eq!(emergency.repeat_seconds(&config.cooldowns), emergency.group_interval_seconds);
    /// ```
    pub fn repeat_seconds(&self, cooldowns: &Cooldowns) -> u64 {
        let seconds = match self.repeat {
            Repeat::Every(seconds) => seconds,
            Repeat::Cooldown(severity) => cooldowns.seconds(severity),
        };
        if seconds == 0 { self.group_interval_seconds } else { seconds }
    }

    /// This node and its descendants, depth first, each with its path of indices from
    /// the root (empty for the root).
    pub fn walk(&self) -> Vec<(Vec<usize>, &Route)> {
        let mut out = vec![(Vec::new(), self)];
        for (i, child) in self.routes.iter().enumerate() {
            for (mut path, route) in child.walk() {
                path.insert(0, i);
                out.push((path, route));
            }
        }
        out
    }
}

/// Alerts matching `target` are muted while an alert matching `source` fires with the
/// same values of the `equal` labels (a label missing on both sides counts as equal).
#[derive(Clone, Debug, PartialEq)]
pub struct InhibitRule {
    /// What the muting alert matches.
    pub source: Vec<Matcher>,
    /// What the muted alert matches.
    pub target: Vec<Matcher>,
    /// Labels both must share.
    pub equal: Vec<String>,
}

/// An inhibit rule of the config (`[[inhibit_rules]]`), in Alertmanager's shape: it
/// adds to the built-in ones.
///
/// ```
/// let config = voxscope_alert::Config::from_toml(r#"
///     [[inhibit_rules]]
///     source_matchers = ['alertname="MaintenanceMode"']
///     target_matchers = ['severity=~"warning|info"']
///     equal = ["job"]
/// "#).unwrap();
/// let rules = voxscope_alert::routing::inhibit_rules(&config);
/// assert_eq!(rules.last().unwrap().source[0].render(), r#"alertname="MaintenanceMode""#);
///
/// let bad = "[[inhibit_rules]]\nsource_matchers = ['job=~\"(\"']\ntarget_matchers = ['a=\"b\"']";
/// let err = voxscope_alert::Config::from_toml(bad).unwrap_err().to_string();
/// assert!(err.starts_with("inhibit_rules[0].source_matchers[0]"), "{err}");
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Matchers of the muting alert, as `label="value"`, `label=~"regex"`, ...
    pub source_matchers: Vec<String>,
    /// Matchers of the muted alert.
    pub target_matchers: Vec<String>,
    /// Labels both must share.
    #[serde(default)]
    pub equal: Vec<String>,
}

impl InhibitRuleConfig {
    fn typed(&self) -> InhibitRule {
        let parse =
            |texts: &[String]| texts.iter().filter_map(|t| Matcher::parse(t).ok()).collect();
        InhibitRule {
            source: parse(&self.source_matchers),
            target: parse(&self.target_matchers),
            equal: self.equal.clone(),
        }
    }
}

pub(crate) fn validate_inhibit_rules(rules: &[InhibitRuleConfig]) -> Result<(), Error> {
    for (i, rule) in rules.iter().enumerate() {
        for (side, texts) in
            [("source_matchers", &rule.source_matchers), ("target_matchers", &rule.target_matchers)]
        {
            for (j, text) in texts.iter().enumerate() {
                let field = format!("inhibit_rules[{i}].{side}[{j}]");
                let matcher = Matcher::parse(text).map_err(|e| Error::invalid(&field, text, e))?;
                if matches!(matcher.op, MatchOp::Re | MatchOp::NotRe) {
                    regex::Regex::new(&format!("^(?:{})$", matcher.value))
                        .map_err(|e| Error::invalid(&field, text, e.to_string()))?;
                }
            }
        }
        if rule.target_matchers.is_empty() {
            let field = format!("inhibit_rules[{i}].target_matchers");
            return Err(Error::invalid(
                &field,
                "[]",
                "at least one matcher, or it mutes everything",
            ));
        }
        for (j, label) in rule.equal.iter().enumerate() {
            let valid = label.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                let field = format!("inhibit_rules[{i}].equal[{j}]");
                return Err(Error::invalid(&field, label, "a label name"));
            }
        }
    }
    Ok(())
}

fn matchers(texts: &[&str]) -> Vec<Matcher> {
    // The texts are this module's constants, each covered by the tests below.
    texts.iter().filter_map(|t| Matcher::parse(t).ok()).collect()
}

fn strings(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

/// The route tree of `config`: the Watchdog to its dead-man's switch; emergencies and
/// critical alerts to the critical receivers (their group wait a third of the others',
/// so pages go out fast); quality warnings to the quality team; other warnings to the
/// warning channel; info alerts and anything unrouted to the default webhook.
///
/// ```
/// use voxscope_alert::routing::route_tree;
/// let tree = route_tree(&voxscope_alert::Config::default());
/// let receivers: Vec<_> = tree.routes.iter().map(|r| r.receiver.as_str()).collect();
/// assert_eq!(receivers, ["watchdog", "critical", "critical", "quality", "warning"]);
/// ```
pub fn route_tree(config: &Config) -> Route {
    let am = &config.alertmanager;
    let severity = |s: Severity| Matcher::eq("severity", s.as_str());
    let child = |receiver: &str, matchers: Vec<Matcher>, severity: Severity| Route {
        receiver: receiver.to_owned(),
        matchers,
        group_by: strings(GROUP_BY),
        group_wait_seconds: am.group_wait_seconds,
        group_interval_seconds: am.group_interval_seconds,
        repeat: Repeat::Cooldown(severity),
        continue_matching: false,
        routes: Vec::new(),
    };
    let page = |s: Severity| Route {
        group_wait_seconds: am.group_wait_seconds.div_ceil(3),
        ..child(receivers::CRITICAL, vec![severity(s)], s)
    };
    let watchdog = Route {
        group_wait_seconds: 0,
        group_interval_seconds: 60,
        repeat: Repeat::Every(60),
        ..child(receivers::WATCHDOG, vec![Matcher::eq("alertname", "Watchdog")], Severity::None)
    };
    Route {
        routes: vec![
            watchdog,
            page(Severity::Emergency),
            page(Severity::Critical),
            child(
                receivers::QUALITY,
                vec![severity(Severity::Warning), Matcher::eq("category", "quality")],
                Severity::Warning,
            ),
            child(receivers::WARNING, vec![severity(Severity::Warning)], Severity::Warning),
        ],
        ..child(receivers::DEFAULT, Vec::new(), Severity::Info)
    }
}

/// The inhibit rules: a critical or emergency alert mutes the warning, and an emergency
/// the critical alert, of the same [`INHIBIT_EQUAL`] labels; then the [`CAUSES`]; then
/// the config's `[[inhibit_rules]]`.
///
/// ```
/// let rules = voxscope_alert::routing::inhibit_rules(&Default::default());
/// assert_eq!(rules.len(), 2 + voxscope_alert::routing::CAUSES.len());
/// assert_eq!(rules[0].target[0].render(), r#"severity="warning""#);
/// ```
pub fn inhibit_rules(config: &Config) -> Vec<InhibitRule> {
    let mut rules = vec![
        InhibitRule {
            source: vec![Matcher::re("severity", "critical|emergency")],
            target: vec![Matcher::eq("severity", "warning")],
            equal: strings(INHIBIT_EQUAL),
        },
        InhibitRule {
            source: vec![Matcher::eq("severity", "emergency")],
            target: vec![Matcher::eq("severity", "critical")],
            equal: strings(INHIBIT_EQUAL),
        },
    ];
    for (source, target, equal) in CAUSES {
        rules.push(InhibitRule {
            source: matchers(&[source]),
            target: matchers(&[target]),
            equal: strings(equal),
        });
    }
    rules.extend(config.inhibit_rules.iter().map(InhibitRuleConfig::typed));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_parses_into_one_source_and_one_target_matcher() {
        for rule in &inhibit_rules(&Config::default())[2..] {
            assert_eq!((rule.source.len(), rule.target.len()), (1, 1), "{rule:?}");
        }
        let rules = inhibit_rules(&Config::default());
        let rendered: Vec<String> = rules[2..].iter().map(|r| r.target[0].render()).collect();
        let want: Vec<&str> = CAUSES.iter().map(|c| c.1).collect();
        assert_eq!(rendered, want);
    }

    #[test]
    fn walk_lists_the_root_then_each_child_with_its_path() {
        let tree = route_tree(&Config::default());
        let paths: Vec<Vec<usize>> = tree.walk().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, [vec![], vec![0], vec![1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn repeat_follows_the_cooldowns_and_zero_renders_as_the_group_interval() {
        let mut config = Config::default();
        config.alertmanager.group_interval_seconds = 45;
        config.cooldowns = Cooldowns { info: 7_200, warning: 120, critical: 30, emergency: 0 };
        let tree = route_tree(&config);
        let repeats: Vec<u64> =
            tree.walk().iter().map(|(_, r)| r.repeat_seconds(&config.cooldowns)).collect();
        assert_eq!(repeats, [7_200, 60, 45, 30, 120, 120]);
    }
}
