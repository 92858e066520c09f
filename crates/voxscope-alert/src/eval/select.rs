//! Selectors compiled for evaluation: the metric name and label matchers, regexes
//! anchored as Prometheus anchors them, a missing label read as "".

use regex::Regex;

use super::Labels;
use super::error::EvalError;
use crate::expr::{MatchOp, Matcher, Selector};

/// One compiled label matcher.
#[derive(Clone, Debug)]
pub(crate) struct CompiledMatcher {
    label: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl CompiledMatcher {
    pub(crate) fn new(matcher: &Matcher) -> Result<Self, EvalError> {
        let regex = match matcher.op {
            MatchOp::Re | MatchOp::NotRe => Some(
                Regex::new(&format!("^(?:{})$", matcher.value))
                    .map_err(|e| EvalError::BadRegex(matcher.value.clone(), e.to_string()))?,
            ),
            MatchOp::Eq | MatchOp::Ne => None,
        };
        Ok(Self {
            label: matcher.label.clone(),
            op: matcher.op,
            value: matcher.value.clone(),
            regex,
        })
    }

    fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Eq, _) => value == self.value,
            (MatchOp::Ne, _) => value != self.value,
            (MatchOp::Re, Some(re)) => re.is_match(value),
            (MatchOp::NotRe, Some(re)) => !re.is_match(value),
            (MatchOp::Re | MatchOp::NotRe, None) => false,
        }
    }
}

/// A metric name and its matchers.
#[derive(Clone, Debug)]
pub(crate) struct CompiledSelector {
    pub(crate) metric: String,
    pub(crate) matchers: Vec<CompiledMatcher>,
}

impl CompiledSelector {
    /// `selector` with the `scope` matchers it takes ([`Selector::scope_matchers`]).
    pub(crate) fn new(selector: &Selector, scope: &[Matcher]) -> Result<Self, EvalError> {
        let matchers = selector
            .scope_matchers(scope)
            .chain(&selector.matchers)
            .map(CompiledMatcher::new)
            .collect::<Result<_, _>>()?;
        Ok(Self { metric: selector.metric.clone(), matchers })
    }

    /// Whether the series `name{labels}` is selected.
    pub(crate) fn matches(&self, name: &str, labels: &Labels) -> bool {
        name == self.metric
            && self
                .matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.label).map_or("", String::as_str)))
    }

    /// The labels `absent()` of this selector returns: each label that exactly one
    /// equality matcher and no other matcher names.
    pub(crate) fn absent_labels(&self) -> Labels {
        let mut out = Labels::new();
        let mut seen = Vec::new();
        for m in &self.matchers {
            if m.op == MatchOp::Eq && !seen.contains(&&m.label) && !m.value.is_empty() {
                out.insert(m.label.clone(), m.value.clone());
            } else {
                out.remove(&m.label);
            }
            seen.push(&m.label);
        }
        out
    }
}
