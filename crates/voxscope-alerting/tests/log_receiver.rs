//! The log receiver the demo uses: a `warn` line per firing notification with its
//! title, receiver and escalation step, an `info` line per alert with its summary and
//! runbook, and an `info` line once resolved.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{notification, run};
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::Delivery;
use voxscope_alerting::notification::Status;

/// A writer into a shared buffer, for the fmt subscriber.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_log_receiver_writes_the_title_and_each_alert() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let counts = tracing::subscriber::with_default(subscriber, || {
        run(true, || async {
            let config = Config::default();
            let delivery = Delivery::new(&config.delivery, channel::log_only(&config), None);
            let mut escalated = notification("manager", Status::Firing);
            escalated.escalation_step = Some(1);
            delivery.notify(escalated);
            delivery.shutdown(Duration::from_secs(5)).await;
            let resolved = Delivery::new(&config.delivery, channel::log_only(&config), None);
            resolved.notify(notification("critical", Status::Resolved));
            resolved.shutdown(Duration::from_secs(5)).await;
        })
    });
    assert_eq!(counts.get("log", "success"), 2);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        " WARN voxscope::alert: [FIRING:1] ServiceDown (critical, availability) \
         receiver=manager alerts=1 escalation_step=Some(2)"
    );
    assert!(lines[1].starts_with(" INFO voxscope::alert: voice_agent is down receiver=manager"));
    assert!(
        lines[1].ends_with("runbook=\"https://runbooks.example.org/ServiceDown.md\""),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        " INFO voxscope::alert: [RESOLVED] ServiceDown (critical, availability) \
         receiver=critical alerts=1"
    );
}
