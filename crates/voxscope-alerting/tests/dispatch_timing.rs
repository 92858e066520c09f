//! Group timers and cooldowns on tokio's paused clock: the first notification of a group
//! `group_wait` after it formed, repeats at exactly each severity's cooldown (on the
//! flush that reaches it), nothing in between, and a resolved notice once.

mod paused;

use paused::{Harness, config, firing, resolved};
use voxscope_alert::routing::Cooldowns;
use voxscope_alerting::notification::Status;

#[tokio::test(start_paused = true)]
async fn each_severity_repeats_at_exactly_its_cooldown_and_not_between() {
    let mut config = config();
    config.cooldowns = Cooldowns { info: 3_600, warning: 300, critical: 60, emergency: 0 };
    let h = Harness::new(&config);
    let alerts = vec![
        firing("Emergencies", "emergency", &[], 0),
        firing("Pages", "critical", &[], 0),
        firing("Tickets", "warning", &[], 0),
        firing("Notes", "info", &[], 0),
    ];
    h.run(0, 4_000, |_| alerts.clone()).await;

    // Pages wait 10 s, the rest 30 s; groups then flush every 20 s.
    let every =
        |first: i64, step: i64| -> Vec<i64> { (first..=4_000).step_by(step as usize).collect() };
    assert_eq!(h.times("critical", "Emergencies"), every(10, 20), "emergency: every flush");
    assert_eq!(h.times("critical", "Pages"), every(10, 60), "critical: 60 s");
    assert_eq!(h.times("warning", "Tickets"), every(30, 300), "warning: 300 s");
    assert_eq!(h.times("default", "Notes"), [30, 3_630], "info: 3600 s");
    assert_eq!(h.notifier.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_resolved_alert_is_notified_once_then_never_again() {
    let h = Harness::new(&config());
    let alert = firing("HighCPUUsage", "warning", &[], 0);
    // Fires until 100 s; the evaluator then reports it resolved for 15 minutes.
    h.run(0, 2_000, |t| if t < 100 { vec![alert.clone()] } else { vec![resolved(&alert, 100)] })
        .await;
    let sent = h.sent();
    assert_eq!(
        sent.iter().map(|(at, _, status, _)| (*at, *status)).collect::<Vec<_>>(),
        [(30, Status::Firing), (110, Status::Resolved)],
    );
    let log = h.stop().await;
    let notice = &log.lock().unwrap()[1].1;
    assert_eq!(notice.alerts[0].status, Status::Resolved);
    assert_eq!(notice.alerts[0].ends_at_ms, Some(paused::T0 + 100_000));
    assert_eq!(notice.alerts[0].starts_at_ms, paused::T0);
}

#[tokio::test(start_paused = true)]
async fn an_alert_gone_from_the_evaluation_resolves_at_that_evaluation() {
    let h = Harness::new(&config());
    let alert = firing("HighCPUUsage", "warning", &[], 0);
    h.run(0, 500, |t| if t < 62 { vec![alert.clone()] } else { Vec::new() }).await;
    assert_eq!(h.times("warning", "HighCPUUsage"), [30, 70]);
    let log = h.stop().await;
    let notice = &log.lock().unwrap()[1].1;
    assert_eq!(notice.status, Status::Resolved);
    assert_eq!(notice.alerts[0].ends_at_ms, Some(paused::T0 + 65_000));
}

#[tokio::test(start_paused = true)]
async fn a_new_alert_joins_its_group_at_the_next_flush_and_other_groups_wait_their_own() {
    let h = Harness::new(&config());
    let http = firing("HighHTTPErrorRate", "warning", &[("route", "/calls")], 0);
    let other_route = firing("HighHTTPErrorRate", "warning", &[("route", "/health")], 45);
    let stt = firing("HighProviderTTFB", "warning", &[("kind", "stt")], 0);
    let tts = firing("HighProviderTTFB", "warning", &[("kind", "tts")], 45);
    h.run(0, 200, |t| {
        let mut now = vec![http.clone(), stt.clone()];
        if t >= 45 {
            now.extend([other_route.clone(), tts.clone()]);
        }
        now
    })
    .await;
    let sent = h.sent();
    let count = |at: i64, name: &str| {
        sent.iter().filter(|(t, _, _, names)| *t == at && names.iter().any(|n| n == name)).count()
    };
    // The route label is not grouped on: the second route joins the first's group and is
    // told at its next flush (50 s), with both alerts.
    assert_eq!(h.times("warning", "HighHTTPErrorRate"), [30, 50]);
    let joined = sent.iter().find(|(t, _, _, n)| *t == 50 && n[0] == "HighHTTPErrorRate");
    assert_eq!(joined.map(|(.., names)| names.len()), Some(2));
    // kind is grouped on: TTS forms its own group and waits its own group_wait (75 s).
    assert_eq!(h.times("warning", "HighProviderTTFB"), [30, 75]);
    assert_eq!(count(75, "HighProviderTTFB"), 1);
}
