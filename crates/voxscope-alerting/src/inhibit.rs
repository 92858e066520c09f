//! Inhibition as Alertmanager's `inhibit` package has it: an alert matching a rule's
//! target is muted while another alert matching its source fires with the same values
//! of the rule's `equal` labels; an alert that matches both sides cannot be muted by one
//! that also matches both.
//!
//! ```
//! use voxscope_alert::eval::Labels;
//! use voxscope_alerting::Inhibitor;
//!
//! let inhibitor = Inhibitor::new(&voxscope_alert::routing::inhibit_rules(&Default::default())).unwrap();
//! let labels = |severity: &str| -> Labels {
//!     [("alertname", "HighProviderTTFB"), ("severity", severity), ("kind", "llm")]
//!         .map(|(k, v)| (k.to_owned(), v.to_owned()))
//!         .into()
//! };
//! let (critical, warning) = (labels("critical"), labels("warning"));
//! let firing = [("c1".to_owned(), &critical)];
//! assert_eq!(inhibitor.inhibited_by(&warning, firing.iter().map(|(f, l)| (f.as_str(), *l))),
//!            Some("c1".to_owned()));
//! ```

use voxscope_alert::eval::Labels;
use voxscope_alert::routing::InhibitRule;

use crate::Error;
use crate::dispatch::Matchers;

#[derive(Debug)]
struct Rule {
    source: Matchers,
    target: Matchers,
    equal: Vec<String>,
}

/// The compiled inhibit rules.
#[derive(Debug)]
pub struct Inhibitor {
    rules: Vec<Rule>,
}

impl Inhibitor {
    /// Compiles `rules`.
    ///
    /// # Errors
    /// [`Error::Matcher`] when a matcher's label or regex is invalid.
    pub fn new(rules: &[InhibitRule]) -> Result<Self, Error> {
        let rules = rules
            .iter()
            .map(|r| {
                Ok(Rule {
                    source: Matchers::compile(&r.source)?,
                    target: Matchers::compile(&r.target)?,
                    equal: r.equal.clone(),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self { rules })
    }

    /// The fingerprint of a firing alert that mutes `target`, if any; `firing` is every
    /// firing alert as `(fingerprint, labels)`.
    pub fn inhibited_by<'a>(
        &self,
        target: &Labels,
        firing: impl Iterator<Item = (&'a str, &'a Labels)> + Clone,
    ) -> Option<String> {
        for rule in &self.rules {
            if !rule.target.matches(target) {
                continue;
            }
            let both_sides = rule.source.matches(target);
            let source = firing.clone().find(|(_, source)| {
                rule.source.matches(source)
                    && rule.equal.iter().all(|name| source.get(name) == target.get(name))
                    && !(both_sides && rule.target.matches(source))
            });
            if let Some((fingerprint, _)) = source {
                return Some(fingerprint.to_owned());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use voxscope_alert::expr::Matcher;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn muted(inhibitor: &Inhibitor, target: &Labels, firing: &[(&str, Labels)]) -> Option<String> {
        inhibitor.inhibited_by(target, firing.iter().map(|(f, l)| (*f, l)))
    }

    #[test]
    fn the_causes_mute_their_consequences_of_the_same_job_only() {
        let inhibitor =
            Inhibitor::new(&voxscope_alert::routing::inhibit_rules(&Default::default())).unwrap();
        let down = labels(&[("alertname", "ServiceDown"), ("job", "a"), ("severity", "critical")]);
        let firing = [("down", down.clone())];
        let cpu = labels(&[("alertname", "HighCPUUsage"), ("job", "a"), ("severity", "warning")]);
        assert_eq!(muted(&inhibitor, &cpu, &firing).as_deref(), Some("down"));
        let other_job = labels(&[("alertname", "HighCPUUsage"), ("job", "b")]);
        assert_eq!(muted(&inhibitor, &other_job, &firing), None);
        // ServiceDown never mutes itself nor the Watchdog.
        assert_eq!(muted(&inhibitor, &down, &firing), None);
        let watchdog = labels(&[("alertname", "Watchdog"), ("job", "a")]);
        assert_eq!(muted(&inhibitor, &watchdog, &firing), None);

        let missing = labels(&[("alertname", "ConfigMissing"), ("job", "k")]);
        let auth = labels(&[("alertname", "ProviderErrors"), ("job", "k"), ("error", "auth")]);
        let timeout =
            labels(&[("alertname", "ProviderErrors"), ("job", "k"), ("error", "timeout")]);
        let firing = [("missing", missing)];
        assert_eq!(muted(&inhibitor, &auth, &firing).as_deref(), Some("missing"));
        assert_eq!(muted(&inhibitor, &timeout, &firing), None);
    }

    #[test]
    fn critical_mutes_the_warning_with_the_same_equal_labels_only() {
        let inhibitor =
            Inhibitor::new(&voxscope_alert::routing::inhibit_rules(&Default::default())).unwrap();
        let ttfb = |severity: &str, kind: &str| {
            labels(&[("alertname", "HighProviderTTFB"), ("severity", severity), ("kind", kind)])
        };
        let firing = [("crit", ttfb("critical", "llm"))];
        assert_eq!(muted(&inhibitor, &ttfb("warning", "llm"), &firing).as_deref(), Some("crit"));
        assert_eq!(muted(&inhibitor, &ttfb("warning", "tts"), &firing), None);
        let emergency = [("emerg", ttfb("emergency", "llm"))];
        assert_eq!(
            muted(&inhibitor, &ttfb("critical", "llm"), &emergency).as_deref(),
            Some("emerg")
        );
    }

    #[test]
    fn an_alert_matching_both_sides_is_not_muted_by_another_that_does() {
        let rule = InhibitRule {
            source: vec![Matcher::eq("team", "x")],
            target: vec![Matcher::eq("team", "x")],
            equal: vec!["job".into()],
        };
        let inhibitor = Inhibitor::new(&[rule]).unwrap();
        let a = labels(&[("team", "x"), ("job", "j"), ("n", "1")]);
        let b = labels(&[("team", "x"), ("job", "j"), ("n", "2")]);
        assert_eq!(muted(&inhibitor, &a, &[("b", b)]), None);
    }
}
