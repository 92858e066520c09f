//! The PromQL checks on expressions built from the catalog: `references` finds exactly
//! the selectors and grouping labels written, `check` accepts a label iff the metric
//! carries it; label matchers render back to themselves; no text makes either panic.

use proptest::prelude::*;
use voxscope_alert::expr::{MatchOp, Matcher};
use voxscope_alert::promql;
use voxscope_core::catalog::{self, MetricKind};

/// Series names Prometheus exposes for a catalog metric, with the labels each carries.
fn series() -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    for def in catalog::ALL {
        let mut labels = def.labels.to_vec();
        labels.extend(["job", "instance"]);
        if def.kind == MetricKind::Histogram {
            out.push((format!("{}_sum", def.name), labels.clone()));
            out.push((format!("{}_count", def.name), labels.clone()));
            labels.push("le");
            out.push((format!("{}_bucket", def.name), labels));
        } else {
            out.push((def.name.to_owned(), labels));
        }
    }
    out
}

/// A label name: one of the catalog's or an arbitrary one.
fn label() -> impl Strategy<Value = String> {
    let known: Vec<&str> = catalog::ALL.iter().flat_map(|d| d.labels.iter().copied()).collect();
    prop_oneof![prop::sample::select(known).prop_map(str::to_owned), "[a-z_][a-z0-9_]{0,8}"]
}

/// A matcher value as configs write it: no quote, backslash or newline.
fn value() -> impl Strategy<Value = String> {
    "[^\"\\\\\n]{0,12}"
}

fn op() -> impl Strategy<Value = MatchOp> {
    prop::sample::select(vec![MatchOp::Eq, MatchOp::Ne, MatchOp::Re, MatchOp::NotRe])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn references_and_check_follow_the_catalog(
        (name, carried) in prop::sample::select(series()),
        matcher in label(),
        group in label(),
        window in prop::sample::select(vec!["5m", "1h", "30s"]),
        text in value(),
        spaced in any::<bool>(),
    ) {
        let sp = if spaced { " " } else { "" };
        let expr = format!(
            "sum by ({group}) (rate({name}{sp}{{{matcher}=~\"{text}\"}}[{window}])) > 0.5 or vector(0)"
        );
        let refs = promql::references(&expr);
        prop_assert_eq!(refs.selectors.len(), 1, "{}", expr);
        prop_assert_eq!(&refs.selectors[0].metric, &name);
        prop_assert_eq!(&refs.selectors[0].labels, &vec![matcher.clone()]);
        prop_assert_eq!(&refs.grouping, &vec![group.clone()]);
        let known = carried.contains(&matcher.as_str()) && carried.contains(&group.as_str());
        prop_assert_eq!(promql::check(&expr, &[]).is_ok(), known, "{}", expr);
    }

    #[test]
    fn a_matcher_renders_back_to_itself(
        label in "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
        op in op(),
        value in value(),
    ) {
        let matcher = match op {
            MatchOp::Eq => Matcher::eq(&label, &value),
            MatchOp::Ne => Matcher::ne(&label, &value),
            MatchOp::Re => Matcher::re(&label, &value),
            _ => Matcher::not_re(&label, &value),
        };
        prop_assert_eq!(Matcher::parse(&matcher.render()), Ok(matcher));
    }

    #[test]
    fn any_text_is_checked_without_a_panic(text in "\\PC{0,80}") {
        let _ = promql::references(&text);
        if let Err(problems) = promql::check(&text, &[]) {
            prop_assert!(problems.starts_with(&text), "{}", problems);
        }
        if let Ok(matcher) = Matcher::parse(&text) {
            prop_assert_eq!(Matcher::parse(&matcher.render()), Ok(matcher));
        }
    }
}
