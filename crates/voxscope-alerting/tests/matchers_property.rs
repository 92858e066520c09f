//! `parse_matcher`, which reads the `filter` parameters of the alert API and amtool's
//! arguments: a matcher rendered as PromQL (quotes and backslashes escaped) parses back to
//! itself, whatever its value; unquoted values read as written; no text makes it panic,
//! and every error names the matcher.

use proptest::prelude::*;
use voxscope_alert::expr::{MatchOp, Matcher};
use voxscope_alerting::api::parse_matcher;

fn matcher() -> impl Strategy<Value = Matcher> {
    let op = prop::sample::select(vec![MatchOp::Eq, MatchOp::Ne, MatchOp::Re, MatchOp::NotRe]);
    let value = prop_oneof!["\\PC{0,16}", "[\"\\\\n a]{0,8}"];
    ("[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", op, value).prop_map(|(label, op, value)| match op {
        MatchOp::Eq => Matcher::eq(&label, &value),
        MatchOp::Ne => Matcher::ne(&label, &value),
        MatchOp::Re => Matcher::re(&label, &value),
        _ => Matcher::not_re(&label, &value),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_rendered_matcher_parses_back_to_itself(m in matcher(), pad in "[ \t]{0,2}") {
        prop_assert_eq!(parse_matcher(&format!("{pad}{}{pad}", m.render())), Ok(m));
    }

    #[test]
    fn unquoted_values_read_as_written(
        label in "[a-z_][a-z0-9_]{0,8}",
        value in "[a-zA-Z0-9.*|+-]([a-zA-Z0-9 .*|+-]{0,10}[a-zA-Z0-9.*|+-])?",
    ) {
        let m = parse_matcher(&format!("{label}=~{value}")).unwrap();
        prop_assert_eq!((m.label, m.op, m.value), (label, MatchOp::Re, value));
    }

    #[test]
    fn any_text_is_a_matcher_or_an_error_naming_it(text in "\\PC{0,40}") {
        match parse_matcher(&text) {
            Ok(m) => prop_assert!(!m.label.is_empty()),
            Err(err) => prop_assert!(err.starts_with(&format!("bad matcher {text:?}")), "{}", err),
        }
    }
}
