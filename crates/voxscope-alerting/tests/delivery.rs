//! The delivery queue on tokio's paused clock, against loopback receivers that fail:
//! an outage retried until delivered exactly once, `Retry-After` honoured to the
//! second, a full queue that drops and counts, timeouts, refusals and garbage that
//! never panic, and a shutdown that counts what it abandons.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use support::{Answer, Receiver, answer, counted, notification, run};
use tokio::io::AsyncWriteExt;
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::{Delivery, Enqueued};
use voxscope_alerting::notification::Status;

const FLUSH: Duration = Duration::from_secs(3600);

/// Delivery to the `default` webhook at `url` with `[delivery]` settings `extra`.
fn webhook(url: &str, extra: &str) -> Delivery {
    let toml = format!(
        "[alertmanager]\nwebhook_url = \"{url}\"\nwebhook_token_file = \"\"\n[delivery]\n{extra}\n"
    );
    let config = Config::from_toml(&toml).expect("config");
    Delivery::new(&config.delivery, channel::from_config(&config, Arc::new(|_: &str| None)), None)
}

fn firing() -> voxscope_alerting::notification::Notification {
    notification("default", Status::Firing)
}

#[test]
fn a_receiver_back_from_an_outage_gets_the_notification_exactly_once() {
    let counts = run(true, || async {
        // Two 503s, then success.
        let flaky: Answer = Arc::new(|n| {
            if n < 2 {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            } else {
                "ok".into_response()
            }
        });
        let hook = Receiver::start(flaky).await;
        let delivery = webhook(&hook.url("/hook"), "max_attempts = 5");
        delivery.notify(firing());
        assert_eq!(delivery.shutdown(FLUSH).await, 0);
        let bodies = hook.bodies();
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| *b == bodies[0]), "the same payload every attempt");
    });
    assert_eq!(counts.get("webhook", "success"), 1);
    assert_eq!(counts.get("webhook", "retried"), 2);
    assert_eq!(counts.get("webhook", "failed"), 0);
}

#[test]
fn a_receiver_that_was_not_listening_yet_is_reached_by_a_later_attempt() {
    let counts = run(true, || async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let delivery = webhook(&format!("http://{addr}/hook"), "max_attempts = 10");
        delivery.notify(firing());
        // Connection refused until the receiver starts, 3 s later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let hook = Receiver::serve(listener, answer(200, ""));
        assert_eq!(delivery.shutdown(FLUSH).await, 0);
        assert_eq!(hook.count(), 1);
    });
    assert_eq!(counts.get("webhook", "success"), 1);
    assert_eq!(counts.get("webhook", "failed"), 0);
    // 500 ms doubling, each plus up to as much jitter: 3 s of outage takes 2 to 4 retries.
    assert!((2..=4).contains(&counts.get("webhook", "retried")), "{counts:?}");
}

#[test]
fn retry_after_is_honoured_to_the_second_and_bounded_by_the_longest_backoff() {
    for (asked, waited) in [("30", 30), ("3600", 60)] {
        let counts = run(true, || async move {
            let limited: Answer = Arc::new(move |n| {
                if n == 0 {
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", asked)], "rate_limited")
                        .into_response()
                } else {
                    "ok".into_response()
                }
            });
            let hook = Receiver::start(limited).await;
            let delivery = webhook(&hook.url("/hook"), "backoff_max_seconds = 60");
            delivery.notify(firing());
            delivery.shutdown(FLUSH).await;
            let received = hook.received.lock().unwrap().clone();
            assert_eq!(received.len(), 2);
            assert_eq!(received[1].at - received[0].at, Duration::from_secs(waited), "{asked}");
        });
        assert_eq!(counts.get("webhook", "retried"), 1);
        assert_eq!(counts.get("webhook", "success"), 1);
    }
}

#[test]
fn a_full_queue_drops_counts_and_never_waits() {
    let counts = run(true, || async {
        // Five notifications with no await between them: two places in the queue.
        let hook = Receiver::start(answer(200, "ok")).await;
        let delivery = webhook(&hook.url("/hook"), "queue_capacity = 2");
        let started = tokio::time::Instant::now();
        let outcomes: Vec<Enqueued> = (0..5).map(|_| delivery.notify(firing())).collect();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(
            outcomes,
            [
                Enqueued { queued: 1, dropped: 0 },
                Enqueued { queued: 1, dropped: 0 },
                Enqueued { queued: 0, dropped: 1 },
                Enqueued { queued: 0, dropped: 1 },
                Enqueued { queued: 0, dropped: 1 },
            ]
        );
        assert_eq!(delivery.in_queue(), 2);
        delivery.shutdown(FLUSH).await;
        assert_eq!(delivery.in_queue(), 0);
        assert_eq!(hook.count(), 2);
        // Shut down, the queue takes nothing more.
        assert_eq!(delivery.notify(firing()), Enqueued { queued: 0, dropped: 1 });
    });
    assert_eq!(counts.get("webhook", "dropped"), 4);
    assert_eq!(counts.get("webhook", "success"), 2);
}

#[test]
fn a_slow_receiver_times_out_each_attempt_then_fails() {
    let counts = run(true, || async {
        let started = tokio::time::Instant::now();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts and reads, never answers.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let delivery = webhook(
            &format!("http://{addr}/hook"),
            "timeout_seconds = 10\nmax_attempts = 2\nbackoff_initial_ms = 1000\nbackoff_max_seconds = 1",
        );
        delivery.notify(firing());
        delivery.shutdown(FLUSH).await;
        // Two attempts of 10 s and one backoff of 1 s.
        assert_eq!(started.elapsed(), Duration::from_secs(21));
    });
    assert_eq!(counts.get("webhook", "retried"), 1);
    assert_eq!(counts.get("webhook", "failed"), 1);
    assert_eq!(counts.get("webhook", "success"), 0);
}

#[test]
fn garbage_and_refusals_never_panic_and_are_counted() {
    let counts = run(true, || async {
        // Not HTTP at all: retried, then given up.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"\x00\xffgarbage\r\n\r\n").await;
            }
        });
        let garbage = webhook(&format!("http://{addr}/hook"), "max_attempts = 3");
        garbage.notify(firing());
        garbage.shutdown(FLUSH).await;

        // A 400 is a refusal: never retried.
        let refusing = Receiver::start(answer(400, "invalid_payload")).await;
        let refused = webhook(&refusing.url("/hook"), "max_attempts = 3");
        refused.notify(firing());
        refused.shutdown(FLUSH).await;
        assert_eq!(refusing.count(), 1);

        // A 2xx with a body that is no JSON is taken as delivered.
        let odd = Receiver::start(answer(200, "\u{fffd}<html>?")).await;
        let accepted = webhook(&odd.url("/hook"), "");
        accepted.notify(firing());
        accepted.shutdown(FLUSH).await;
        assert_eq!(odd.count(), 1);
    });
    assert_eq!(counts.get("webhook", "retried"), 2);
    assert_eq!(counts.get("webhook", "failed"), 2);
    assert_eq!(counts.get("webhook", "success"), 1);
}

#[test]
fn shutdown_abandons_after_its_grace_and_counts_each_send_dropped() {
    let counts = run(true, || async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let delivery = webhook(&format!("http://{addr}/hook"), "timeout_seconds = 60");
        delivery.notify(firing());
        delivery.notify(firing());
        let started = tokio::time::Instant::now();
        assert_eq!(delivery.shutdown(Duration::from_secs(5)).await, 2);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(delivery.in_queue(), 0);
    });
    assert_eq!(counts.0, [("webhook".to_owned(), "dropped".to_owned(), 2)]);
}

#[test]
fn a_notification_outside_a_tokio_runtime_is_dropped_and_counted_not_a_panic() {
    let counts = counted(|| {
        let delivery = webhook("http://127.0.0.1:9/hook", "");
        assert_eq!(delivery.notify(firing()), Enqueued { queued: 0, dropped: 1 });
        assert_eq!(delivery.in_queue(), 0);
    });
    assert_eq!(counts.0, [("webhook".to_owned(), "dropped".to_owned(), 1)]);
}
