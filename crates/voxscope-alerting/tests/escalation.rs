//! Escalation on tokio's paused clock: an unacknowledged critical alert pages the team
//! lead at 15 minutes, the manager at 30 and the director at 60, each once; an ack or a
//! resolve stops it; warnings never escalate.

mod paused;

use paused::{Harness, config, firing, resolved};
use voxscope_alerting::history::Event;

#[tokio::test(start_paused = true)]
async fn steps_page_at_15_30_and_60_minutes_once_each_until_acked_or_resolved() {
    let h = Harness::new(&config());
    let ignored = firing("HighCallErrorRate", "critical", &[("transport", "twilio")], 0);
    let acked = firing("HighCallErrorRate", "critical", &[("transport", "plivo")], 0);
    let fixed = firing("HighCallErrorRate", "emergency", &[("transport", "ws")], 0);
    let ticket = firing("HighCPUUsage", "warning", &[], 0);
    let acked_fp = voxscope_alerting::fingerprint(&acked.labels);
    let tick = |t: i64| {
        let fixed = if t < 2_000 { fixed.clone() } else { resolved(&fixed, 2_000) };
        vec![ignored.clone(), acked.clone(), fixed, ticket.clone()]
    };
    h.run(0, 1_000, tick).await;
    let ack = h.notifier.ack(&acked_fp, "ana", "on it").expect("ack");
    assert_eq!(ack.at_ms, paused::T0 + 1_000_000);
    assert!(h.notifier.ack("0000000000000000", "ana", "").is_err(), "no such alert");
    h.run(1_005, 5_000, tick).await;
    let acks: Vec<String> = h
        .notifier
        .history()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Acknowledged { fingerprint, by, .. } => Some(format!("{fingerprint} {by}")),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [format!("{acked_fp} ana")]);

    let log = h.stop().await;
    let mut pages: Vec<(i64, String, String, usize)> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(at, n)| {
            let step = n.escalation_step?;
            Some((*at, n.receiver.clone(), n.alerts[0].labels["transport"].clone(), step))
        })
        .collect();
    pages.sort();
    let page = |at: i64, receiver: &str, transport: &str, step| {
        (at, receiver.to_owned(), transport.to_owned(), step)
    };
    assert_eq!(
        pages,
        [
            page(900, "team-lead", "plivo", 0),
            page(900, "team-lead", "twilio", 0),
            page(900, "team-lead", "ws", 0),
            // plivo was acknowledged at 1000 s, ws resolved at 2000 s.
            page(1_800, "manager", "twilio", 1),
            page(1_800, "manager", "ws", 1),
            page(3_600, "director", "twilio", 2),
        ]
    );
}
