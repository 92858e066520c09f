//! Matchers of routes and inhibit rules, compiled once with the silences' matcher
//! (Alertmanager's semantics: regexes anchored at both ends, a missing label matching
//! as the empty string).

use voxscope_alert::eval::Labels;
use voxscope_alert::expr::Matcher;

use crate::Error;
use crate::silence::LabelMatcher;

/// Matchers that must all match.
///
/// ```
/// use voxscope_alert::expr::Matcher;
/// use voxscope_alerting::dispatch::Matchers;
/// let m = Matchers::compile(&[Matcher::re("severity", "critical|emergency")]).unwrap();
/// assert!(m.matches(&[("severity".to_owned(), "critical".to_owned())].into()));
/// assert!(!m.matches(&[("severity".to_owned(), "critical-ish".to_owned())].into()));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Matchers(Vec<LabelMatcher>);

impl Matchers {
    /// Compiles every matcher.
    ///
    /// # Errors
    /// [`Error::Matcher`] naming the first matcher whose label or regex is invalid.
    pub fn compile(matchers: &[Matcher]) -> Result<Self, Error> {
        matchers
            .iter()
            .map(|m| {
                LabelMatcher::new(m.clone())
                    .map_err(|e| Error::Matcher { matcher: m.render(), reason: e.to_string() })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether every matcher matches `labels` (true when there are none).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn missing_labels_match_as_empty_and_regexes_are_anchored() {
        let ne = Matchers::compile(&[Matcher::ne("error", "auth")]).unwrap();
        assert!(ne.matches(&labels(&[])));
        let eq_empty = Matchers::compile(&[Matcher::eq("error", "")]).unwrap();
        assert!(eq_empty.matches(&labels(&[("job", "a")])));
        let not_re =
            Matchers::compile(&[Matcher::not_re("alertname", "ServiceDown|Watchdog")]).unwrap();
        assert!(!not_re.matches(&labels(&[("alertname", "Watchdog")])));
        assert!(not_re.matches(&labels(&[("alertname", "WatchdogX")])));
    }

    #[test]
    fn a_bad_regex_is_an_error_naming_the_matcher() {
        let err = Matchers::compile(&[Matcher::re("job", "(")]).unwrap_err();
        assert!(err.to_string().starts_with("matcher job=~\"(\": "), "{err}");
    }
}
