//! Label matchers compiled for matching alerts, with Alertmanager's semantics: a regex
//! is anchored at both ends, and a missing label matches as the empty string.

use regex::Regex;
use voxscope_alert::eval::Labels;
use voxscope_alert::expr::{MatchOp, Matcher};

use crate::Error;

/// One compiled matcher.
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    label: String,
    test: Test,
}

#[derive(Clone, Debug)]
enum Test {
    Equal(String, bool),
    Regex(Regex, bool),
}

impl LabelMatcher {
    /// Compiles `matcher`.
    ///
    /// ```
    /// use voxscope_alert::expr::Matcher;
    /// use voxscope_alerting::dispatch::LabelMatcher;
    /// let m = LabelMatcher::compile(&Matcher::re("severity", "critical|emergency")).unwrap();
    /// let labels = [("severity".to_owned(), "critical".to_owned())].into();
    /// assert!(m.matches(&labels));
    /// let partial = [("severity".to_owned(), "critical-ish".to_owned())].into();
    /// assert!(!m.matches(&partial));
    /// ```
    ///
    /// # Errors
    /// [`Error::Regex`] when a regex does not compile.
    pub fn compile(matcher: &Matcher) -> Result<Self, Error> {
        let regex = |positive| {
            Regex::new(&format!("^(?:{})$", matcher.value))
                .map(|re| Test::Regex(re, positive))
                .map_err(|source| Error::Regex { matcher: matcher.render(), source })
        };
        let test = match matcher.op {
            MatchOp::Eq => Test::Equal(matcher.value.clone(), true),
            MatchOp::Ne => Test::Equal(matcher.value.clone(), false),
            MatchOp::Re => regex(true)?,
            MatchOp::NotRe => regex(false)?,
        };
        Ok(Self { label: matcher.label.clone(), test })
    }

    /// Whether `labels` satisfy the matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.label).map_or("", String::as_str);
        match &self.test {
            Test::Equal(want, positive) => (value == want) == *positive,
            Test::Regex(re, positive) => re.is_match(value) == *positive,
        }
    }
}

/// Matchers that must all match.
#[derive(Clone, Debug, Default)]
pub struct Matchers(Vec<LabelMatcher>);

impl Matchers {
    /// Compiles every matcher.
    ///
    /// # Errors
    /// The first regex that does not compile.
    pub fn compile(matchers: &[Matcher]) -> Result<Self, Error> {
        matchers.iter().map(LabelMatcher::compile).collect::<Result<_, _>>().map(Self)
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
        let ne = LabelMatcher::compile(&Matcher::ne("error", "auth")).unwrap();
        assert!(ne.matches(&labels(&[])));
        let eq_empty = LabelMatcher::compile(&Matcher::eq("error", "")).unwrap();
        assert!(eq_empty.matches(&labels(&[("job", "a")])));
        let not_re =
            LabelMatcher::compile(&Matcher::not_re("alertname", "ServiceDown|Watchdog")).unwrap();
        assert!(!not_re.matches(&labels(&[("alertname", "Watchdog")])));
        assert!(not_re.matches(&labels(&[("alertname", "WatchdogX")])));
    }

    #[test]
    fn a_bad_regex_is_an_error_naming_the_matcher() {
        let err = LabelMatcher::compile(&Matcher::re("job", "(")).unwrap_err();
        assert!(err.to_string().starts_with("matcher job=~\"(\""), "{err}");
    }
}
