//! Startup config checks: the gauge, the counter and the log line, never the value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use voxscope::provider::{ConfigCheck, MissingReason, check_config};
use voxscope_tests::{Exposition, with_local_prometheus};

/// Log lines written by the fmt subscriber, shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capturing(logs: &Logs) -> impl tracing::Subscriber + use<> {
    let logs = logs.clone();
    tracing_subscriber::fmt().with_ansi(false).with_writer(move || logs.clone()).finish()
}

#[test]
fn a_missing_and_a_placeholder_setting_each_set_the_gauge_and_log_once() {
    let logs = Logs::default();
    let handle = tracing::subscriber::with_default(capturing(&logs), || {
        with_local_prometheus(|_| async {
            let report = ConfigCheck::new()
                .min_len(12)
                .require("DEEPGRAM_API_KEY", None)
                .require("ELEVENLABS_API_KEY", Some("changeme"))
                .require("OPENAI_API_KEY", Some("sk-live-0123456789abcdef"))
                .run();
            let reasons: Vec<_> =
                report.missing().iter().map(|m| (m.field.as_str(), m.reason)).collect();
            assert_eq!(
                reasons,
                [
                    ("DEEPGRAM_API_KEY", MissingReason::Absent),
                    ("ELEVENLABS_API_KEY", MissingReason::Placeholder)
                ]
            );
        })
    });

    let exposition = Exposition::render(&handle);
    let missing = |field| exposition.sum("voxscope_config_missing", &[("field", field)]);
    let warnings = |field| exposition.sum("voxscope_config_warnings_total", &[("field", field)]);
    assert_eq!(missing("DEEPGRAM_API_KEY"), 1.0);
    assert_eq!(missing("ELEVENLABS_API_KEY"), 1.0);
    assert_eq!(missing("OPENAI_API_KEY"), 0.0);
    assert_eq!(warnings("DEEPGRAM_API_KEY"), 1.0);
    assert_eq!(warnings("ELEVENLABS_API_KEY"), 1.0);
    // The present field's counter exists at 0, so that its first warning counts in rate().
    let present: Vec<f64> = exposition
        .find("voxscope_config_warnings_total", &[("field", "OPENAI_API_KEY")])
        .map(|s| s.value)
        .collect();
    assert_eq!(present, [0.0]);

    let text = logs.text();
    assert_eq!(text.matches("[Config] DEEPGRAM_API_KEY is not set").count(), 1, "{text}");
    assert_eq!(text.matches("[Config] ELEVENLABS_API_KEY is not set").count(), 1, "{text}");
    assert!(!text.contains("OPENAI_API_KEY"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn values_are_never_logged_or_labelled() {
    let logs = Logs::default();
    let secret = "sk-short";
    let handle = tracing::subscriber::with_default(capturing(&logs), || {
        with_local_prometheus(|_| async {
            let report = ConfigCheck::new().min_len(20).require("GROQ_API_KEY", Some(secret)).run();
            assert_eq!(report.missing()[0].reason, MissingReason::TooShort { min_len: 20 });
        })
    });
    let text = logs.text();
    assert!(text.contains("[Config] GROQ_API_KEY is not set (shorter than 20 characters)"));
    assert!(!text.contains(secret), "{text}");
    assert!(!Exposition::render(&handle).text.contains(secret));
}

#[test]
fn check_config_reads_pairs_with_the_defaults() {
    // Under a subscriber like every test here: tracing caches a callsite's interest
    // globally, and a thread without one could turn the others' log lines off.
    let logs = Logs::default();
    let handle = tracing::subscriber::with_default(capturing(&logs), || {
        with_local_prometheus(|_| async {
            let report = check_config([
                ("AZURE_TTS_REGION", Some("westeurope")),
                ("AZURE_TTS_KEY", Some(" ")),
            ]);
            assert!(!report.is_complete());
            assert_eq!(report.missing().len(), 1);
        })
    });
    assert_eq!(logs.text().matches("[Config] AZURE_TTS_KEY is not set").count(), 1);
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voxscope_config_missing", &[("field", "AZURE_TTS_KEY")]), 1.0);
    assert_eq!(exposition.sum("voxscope_config_missing", &[("field", "AZURE_TTS_REGION")]), 0.0);
}
