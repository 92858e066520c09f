//! Label matchers of silences: compiled for matching, and in the JSON shape
//! Alertmanager's API and the persisted state use.

use regex::Regex;
use serde::{Deserialize, Serialize};
use voxscope_alert::eval::Labels;
use voxscope_alert::expr::{MatchOp, Matcher};

use super::SilenceError;

/// One matcher, compiled: `=` and `!=` compare the value, `=~` and `!~` match a regex
/// anchored at both ends (`^(?:regex)$`), and a missing label is the empty string, as in
/// PromQL and Alertmanager.
///
/// ```
/// use voxscope_alert::expr::Matcher;
/// use voxscope_alerting::silence::LabelMatcher;
///
/// let m = LabelMatcher::new(Matcher::re("job", "voice|agent")).unwrap();
/// let labels = |job: &str| [("job".to_owned(), job.to_owned())].into();
/// assert!(m.matches(&labels("voice")));
/// assert!(!m.matches(&labels("voice_agent"))); // anchored
/// assert!(LabelMatcher::new(Matcher::re("job", "(")).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    matcher: Matcher,
    regex: Option<Regex>,
}

impl LabelMatcher {
    /// Checks the label name and compiles the regex of `=~` and `!~`.
    ///
    /// # Errors
    /// [`SilenceError::LabelName`] or [`SilenceError::Regex`].
    pub fn new(matcher: Matcher) -> Result<Self, SilenceError> {
        if !valid_label_name(&matcher.label) {
            return Err(SilenceError::LabelName(matcher.label));
        }
        let regex = match matcher.op {
            MatchOp::Eq | MatchOp::Ne => None,
            MatchOp::Re | MatchOp::NotRe => {
                Some(Regex::new(&format!("^(?:{})$", matcher.value)).map_err(|e| {
                    SilenceError::Regex {
                        label: matcher.label.clone(),
                        regex: matcher.value.clone(),
                        reason: e.to_string(),
                    }
                })?)
            }
        };
        Ok(Self { matcher, regex })
    }

    /// The matcher as given.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.matcher.op, &self.regex) {
            (MatchOp::Eq, _) => value == self.matcher.value,
            (MatchOp::Ne, _) => value != self.matcher.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::NotRe, Some(re)) => !re.is_match(value),
            // `new` compiles a regex for every regex operator.
            (MatchOp::Re | MatchOp::NotRe, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher; a missing label is `""`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.matcher.label).map_or("", String::as_str))
    }
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A matcher as Alertmanager's API and this store's persisted state write it.
///
/// ```
/// use voxscope_alert::expr::{MatchOp, Matcher};
/// use voxscope_alerting::silence::MatcherJson;
///
/// let json: MatcherJson = serde_json::from_str(r#"{"name":"job","value":"a.*","isRegex":true}"#)
///     .unwrap();
/// let m = Matcher::from(json); // `isEqual` defaults to true
/// assert_eq!((m.label.as_str(), m.op, m.value.as_str()), ("job", MatchOp::Re, "a.*"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatcherJson {
    /// The label name.
    pub name: String,
    /// The value or regex.
    pub value: String,
    /// `=~` or `!~`.
    pub is_regex: bool,
    /// `=` or `=~`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl From<&Matcher> for MatcherJson {
    fn from(m: &Matcher) -> Self {
        Self {
            name: m.label.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.op, MatchOp::Re | MatchOp::NotRe),
            is_equal: matches!(m.op, MatchOp::Eq | MatchOp::Re),
        }
    }
}

impl From<MatcherJson> for Matcher {
    fn from(m: MatcherJson) -> Self {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Eq,
            (false, false) => MatchOp::Ne,
            (true, true) => MatchOp::Re,
            (true, false) => MatchOp::NotRe,
        };
        Matcher { label: m.name, op, value: m.value }
    }
}

pub(super) mod matchers_serde {
    //! `Vec<Matcher>` through [`MatcherJson`].

    use serde::{Deserialize, Deserializer, Serializer};
    use voxscope_alert::expr::Matcher;

    use super::MatcherJson;

    pub fn serialize<S: Serializer>(matchers: &[Matcher], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(matchers.iter().map(MatcherJson::from))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Matcher>, D::Error> {
        Ok(Vec::<MatcherJson>::deserialize(d)?.into_iter().map(Matcher::from).collect())
    }
}
