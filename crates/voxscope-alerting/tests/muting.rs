//! Inhibition and silences on tokio's paused clock: a muted alert is left out of its
//! group's flushes for exactly as long as its cause fires or its silence lasts, then
//! notified at the next flush.

mod paused;

use std::sync::Arc;

use paused::{Harness, T0, config, firing, resolved};
use voxscope_alert::eval::Labels;
use voxscope_alerting::dispatch::Muter;

#[tokio::test(start_paused = true)]
async fn a_critical_alert_mutes_the_warning_of_its_subject_while_it_fires() {
    let h = Harness::new(&config());
    let critical = firing("HighProviderTTFB", "critical", &[("kind", "llm")], 0);
    let warning = firing("HighProviderTTFB", "warning", &[("kind", "llm")], 0);
    let other = firing("HighProviderTTFB", "warning", &[("kind", "tts")], 0);
    h.run(0, 300, |t| {
        let cause = if t < 100 { critical.clone() } else { resolved(&critical, 100) };
        vec![cause, warning.clone(), other.clone()]
    })
    .await;
    assert_eq!(h.times("critical", "HighProviderTTFB"), [10, 70, 110]);
    // The TTS warning is not the critical's subject: notified at once (30 s). The LLM
    // warning is muted while the critical fires, and told at the first flush after it
    // resolved (110 s).
    let log = h.stop().await;
    let warnings: Vec<(i64, Vec<String>)> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.receiver == "warning")
        .map(|(at, n)| (*at, n.alerts.iter().map(|a| a.labels["kind"].clone()).collect()))
        .collect();
    assert_eq!(warnings, [(30, vec!["tts".to_owned()]), (110, vec!["llm".to_owned()])]);
}

#[tokio::test(start_paused = true)]
async fn a_service_down_mutes_everything_else_of_its_job_and_nothing_of_another() {
    let h = Harness::new(&config());
    let down = firing("ServiceDown", "critical", &[], 0);
    let cpu = firing("HighCPUUsage", "warning", &[], 0);
    let mut elsewhere = firing("HighCPUUsage", "warning", &[], 0);
    elsewhere.labels.insert("job".into(), "billing".into());
    h.run(0, 60, |_| vec![down.clone(), cpu.clone(), elsewhere.clone()]).await;
    let statuses = h.notifier.alerts();
    let cpu_status = statuses
        .iter()
        .find(|s| {
            s.alert.labels["alertname"] == "HighCPUUsage" && s.alert.labels["job"] == "voice_agent"
        })
        .expect("cpu alert");
    let down_fp = voxscope_alerting::fingerprint(&down.labels);
    assert_eq!(cpu_status.inhibited_by, std::slice::from_ref(&down_fp));
    assert_eq!(cpu_status.receivers, ["warning"]);
    // The same answer for labels the dispatcher never saw (a pending alert's).
    let mut pending = cpu.labels.clone();
    pending.insert("alertname".into(), "HighMemoryUsage".into());
    assert_eq!(h.notifier.muting(&pending).inhibited_by, Some(down_fp));
    assert_eq!(h.notifier.receivers(&pending), ["warning"]);
    // Only the other job's CPU warning is told, once.
    let log = h.stop().await;
    let warnings: Vec<(i64, String)> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.receiver == "warning")
        .map(|(at, n)| (*at, n.alerts[0].labels["job"].clone()))
        .collect();
    assert_eq!(warnings, [(30, "billing".to_owned())]);
}

/// Mutes one job until a time: a maintenance window.
struct Window {
    job: &'static str,
    until_ms: i64,
}

impl Muter for Window {
    fn muted_by(&self, labels: &Labels, now_ms: i64) -> Vec<String> {
        if labels.get("job").map(String::as_str) == Some(self.job) && now_ms < self.until_ms {
            vec!["maintenance".to_owned()]
        } else {
            Vec::new()
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_silence_holds_notifications_until_it_ends_and_blocks_escalation() {
    let silence = Window { job: "voice_agent", until_ms: T0 + 1_000_000 };
    let h = Harness::with_muter(&config(), Arc::new(silence));
    let alert = firing("HighCallErrorRate", "critical", &[], 0);
    h.run(0, 500, |_| vec![alert.clone()]).await;
    assert_eq!(h.notifier.alerts()[0].silenced_by, ["maintenance"]);
    h.run(505, 1_100, |_| vec![alert.clone()]).await;
    // Silenced until 1000 s: the first flush after it (1010 s) notifies; the 15-minute
    // escalation step came due under the silence and was passed over.
    let times = h.times("critical", "HighCallErrorRate");
    assert_eq!(times, [1_010, 1_070]);
    assert!(h.times("team-lead", "HighCallErrorRate").is_empty());
    let statuses = h.notifier.alerts();
    assert_eq!(statuses[0].silenced_by, Vec::<String>::new());
    let muted_pages = h
        .notifier
        .history()
        .iter()
        .filter(|e| matches!(e.event, voxscope_alerting::history::Event::PageMuted { .. }))
        .count();
    assert_eq!(muted_pages, 1);
}

#[tokio::test(start_paused = true)]
async fn a_configured_inhibit_rule_mutes_what_it_targets() {
    let mut config = config();
    config.inhibit_rules = voxscope_alert::Config::from_toml(
        r#"
        [[inhibit_rules]]
        source_matchers = ['alertname="MaintenanceMode"']
        target_matchers = ['severity=~"warning|info"']
        equal = ["job"]
        "#,
    )
    .expect("config")
    .inhibit_rules;
    let h = Harness::new(&config);
    let maintenance = firing("MaintenanceMode", "info", &[], 0);
    let cpu = firing("HighCPUUsage", "warning", &[], 0);
    let page = firing("HighCallErrorRate", "critical", &[], 0);
    h.run(0, 100, |t| {
        let mut now = vec![cpu.clone(), page.clone()];
        if t < 45 {
            now.push(maintenance.clone());
        }
        now
    })
    .await;
    // MaintenanceMode matches its own target (info) but not while it is the only source.
    assert_eq!(h.times("default", "MaintenanceMode"), [30, 50]);
    // The warning waits for the maintenance to end (gone at 45 s): told at 50 s.
    assert_eq!(h.times("warning", "HighCPUUsage"), [50]);
    assert_eq!(h.times("critical", "HighCallErrorRate"), [10, 70]);
}
