//! Any PromQL text: `promql::references` and `promql::check` (the catalog check of every
//! generated rule and panel) never panic, and a label matcher as configs write it
//! (`job=~"voice-.*"`) parses or errs, rendering back to what parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxscope_alert::expr::Matcher;
use voxscope_alert::promql;

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
});
