//! Extracts the metrics and labels a PromQL expression names, and checks them against
//! the metric catalog: the test that keeps rules and panels from drifting off the code.
//!
//! ```
//! use voxscope_alert::promql;
//!
//! let refs = promql::references(r#"sum by (route) (rate(http_server_request_duration_seconds_count{status=~"5.."}[5m]))"#);
//! assert_eq!(refs.selectors[0].metric, "http_server_request_duration_seconds_count");
//! assert_eq!(refs.selectors[0].labels, ["status"]);
//! assert_eq!(refs.grouping, ["route"]);
//! assert!(promql::check(r#"rate(voice_calls_total{outcom="failed"}[5m])"#, &[]).is_err());
//! ```

use voxscope_core::catalog::{self, MetricKind};

/// One vector selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name.
    pub metric: String,
    /// Label names of its matchers.
    pub labels: Vec<String>,
}

/// Everything an expression names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Vector selectors.
    pub selectors: Vec<Selector>,
    /// Labels of `by`, `without`, `on`, `ignoring`, `group_left` and `group_right`.
    pub grouping: Vec<String>,
}

const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"];
/// Aggregations may put `by (...)` between their name and `(`.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Lists the selectors and grouping labels of `expr`. Strings, range and subquery
/// brackets and numbers are skipped; names followed by `(` are functions.
pub fn references(expr: &str) -> References {
    let chars: Vec<char> = expr.chars().collect();
    let mut refs = References::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_space(&chars, i);
            if GROUPING.contains(&word.as_str()) {
                if chars.get(next) == Some(&'(') {
                    let (labels, end) = name_list(&chars, next);
                    refs.grouping.extend(labels);
                    i = end;
                }
            } else if AGGREGATIONS.contains(&word.as_str()) {
                // Its grouping and arguments are scanned as we go.
            } else if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                if word == "offset" {
                    // The duration after `offset` is not a metric.
                    i = next;
                    while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                }
            } else if chars.get(next) == Some(&'(') {
                // A function or aggregation; its arguments are scanned as we go.
            } else if chars.get(next) == Some(&'{') {
                let (labels, end) = matcher_names(&chars, next);
                refs.selectors.push(Selector { metric: word, labels });
                i = end;
            } else {
                refs.selectors.push(Selector { metric: word, labels: Vec::new() });
            }
        } else {
            i += 1;
        }
    }
    refs
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// `(a, b)` starting at the `(`: the names and the index after `)`.
fn name_list(chars: &[char], open: usize) -> (Vec<String>, usize) {
    let close = chars[open..].iter().position(|&c| c == ')').map_or(chars.len(), |p| open + p);
    let inner: String = chars[open + 1..close].iter().collect();
    let names =
        inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    (names, close + 1)
}

/// `{a="x", b=~"y"}` starting at the `{`: the label names and the index after `}`.
fn matcher_names(chars: &[char], open: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut i = open + 1;
    while i < chars.len() && chars[i] != '}' {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            names.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    (names, i + 1)
}

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// Labels a series of `metric` may carry, or `None` when neither the catalog nor the
/// exporters deploy/ scrapes have it.
/// `recorded` lists `(name, labels)` of the series recording rules produce.
fn labels_of(metric: &str, recorded: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    let mut labels: Vec<String> = TARGET_LABELS.iter().map(|s| (*s).to_owned()).collect();
    if metric == "up" {
        return Some(labels);
    }
    let mut exporters = crate::probe::METRICS.iter().chain(crate::host::METRICS);
    if let Some((_, extra)) = exporters.find(|(name, _)| *name == metric) {
        labels.extend(extra.iter().map(|s| (*s).to_owned()));
        return Some(labels);
    }
    if let Some((_, extra)) = recorded.iter().find(|(name, _)| name == metric) {
        labels.extend(extra.iter().cloned());
        return Some(labels);
    }
    let def = catalog::find(metric).or_else(|| {
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| metric.strip_suffix(s))?;
        catalog::find(base).filter(|def| def.kind == MetricKind::Histogram)
    })?;
    labels.extend(def.labels.iter().map(|s| (*s).to_owned()));
    if metric.ends_with("_bucket") {
        labels.push("le".to_owned());
    }
    Some(labels)
}

/// Checks that every metric and label `expr` names exists in the catalog (or is one of
/// `recorded`, the `(name, labels)` of recording rules); the error lists each problem.
///
/// # Errors
/// One line per unknown metric, unknown matcher label or grouping label that no
/// selected metric carries.
pub fn check(expr: &str, recorded: &[(String, Vec<String>)]) -> Result<(), String> {
    let refs = references(expr);
    let mut problems = Vec::new();
    let mut carried: Vec<String> = Vec::new();
    for selector in &refs.selectors {
        match labels_of(&selector.metric, recorded) {
            None => problems.push(format!("unknown metric {}", selector.metric)),
            Some(allowed) => {
                for label in &selector.labels {
                    if !allowed.contains(label) {
                        problems.push(format!("{} has no label {label}", selector.metric));
                    }
                }
                carried.extend(allowed);
            }
        }
    }
    for label in &refs.grouping {
        if !carried.contains(label) {
            problems.push(format!("no selected metric carries grouping label {label}"));
        }
    }
    if refs.selectors.is_empty() {
        problems.push("selects no metric".to_owned());
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{expr}: {}", problems.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_strings_ranges_and_numbers_are_not_metrics() {
        let refs = references(
            r#"histogram_quantile(0.95, sum by (le, kind) (rate(voice_provider_ttfb_seconds_bucket{kind="llm"}[5m]))) > 1e3 or vector(0)"#,
        );
        assert_eq!(refs.selectors.len(), 1);
        assert_eq!(refs.grouping, ["le", "kind"]);
    }

    #[test]
    fn aggregations_with_grouping_before_their_arguments_are_not_metrics() {
        let refs = references("sum by (kind) (voice_provider_in_flight) / max without (x) (up)");
        let names: Vec<&str> = refs.selectors.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["voice_provider_in_flight", "up"]);
    }

    #[test]
    fn catches_renamed_metrics_bad_labels_and_bad_grouping() {
        assert!(check("rate(voice_call_total[5m])", &[]).is_err());
        assert!(check("sum by (status) (voice_calls_active)", &[]).is_err());
        assert!(check("voice_calls_active_bucket", &[]).is_err());
        assert!(check("voice_turn_latency_seconds_bucket{le=\"0.8\"}", &[]).is_ok());
        assert!(check("up{job=\"x\"} == 0", &[]).is_ok());
    }

    #[test]
    fn recorded_series_carry_their_declared_labels() {
        let recorded = vec![("slo:sli_error:ratio_rate5m".to_owned(), vec!["slo".to_owned()])];
        assert!(check("slo:sli_error:ratio_rate5m{slo=\"x\"} > 0.1", &recorded).is_ok());
        assert!(check("slo:sli_error:ratio_rate5m{route=\"x\"}", &recorded).is_err());
    }
}
