//! Any PromQL text: `promql::references` and `promql::check` (the catalog check of every
//! generated rule and panel) never panic; a label matcher as configs write it
//! (`job=~"voice-.*"`) or as the alert API's `filter` and amtool take it (`job=voice`)
//! parses or errs, and renders back to what parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxscope_alert::expr::Matcher;
use voxscope_alert::promql;
use voxscope_alerting::api::parse_matcher;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let refs = promql::references(text);
    for selector in &refs.selectors {
        assert!(!selector.metric.is_empty(), "an empty metric name from {text:?}");
    }
    let recorded = vec![("slo:sli_error:ratio_rate5m".to_owned(), vec!["slo".to_owned()])];
    if let Err(problems) = promql::check(text, &recorded) {
        assert!(problems.starts_with(text), "the error names the expression: {problems}");
    }
    if let Ok(matcher) = Matcher::parse(text) {
        assert_eq!(Matcher::parse(&matcher.render()), Ok(matcher), "{text:?}");
    }
    match parse_matcher(text) {
        Ok(matcher) => assert_eq!(parse_matcher(&matcher.render()), Ok(matcher), "{text:?}"),
        Err(err) => assert!(err.starts_with("bad matcher "), "{err}"),
    }
});
