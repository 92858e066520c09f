//! The demo's `--instrumentation` switch, started through `voice_agent::start` (what
//! `voice_agent::run` awaits): off, the same HTTP routes and media calls answer alike but
//! nothing records an HTTP or call series and no response carries a trace id; on, the
//! same traffic is counted exactly.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use voice_agent::simulator::frames;
use voxscope::MetricsHandle;
use voxscope_tests::{Exposition, eventually, start_demo, with_local_prometheus};

const DURATION: &str = "http_server_request_duration_seconds";
/// Media frames each test call sends before its ping.
const FRAMES: u64 = 12;

/// Starts the demo with `--instrumentation mode` (no built-in callers, no timeline).
async fn start(mode: &str, metrics: &MetricsHandle) -> std::net::SocketAddr {
    start_demo(&["--instrumentation", mode], |_| None, metrics).await
}

/// The API traffic: statuses in order, and whether any response carried a trace id.
async fn api_traffic(addr: std::net::SocketAddr) -> (Vec<u16>, bool) {
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let requests = [
        client.post(format!("{base}/calls")),
        client.get(format!("{base}/calls/call-1")),
        client.get(format!("{base}/calls/call-9")),
        client.get(format!("{base}/calls")),
        client.post(format!("{base}/calls/call-1/hangup")),
    ];
    let (mut statuses, mut traced) = (Vec::new(), false);
    for request in requests {
        let response = request.send().await.expect("request");
        traced |= response.headers().contains_key("x-trace-id");
        statuses.push(response.status().as_u16());
    }
    (statuses, traced)
}

/// One Twilio media-stream call: start, [`FRAMES`] frames of silence, a ping answered
/// once they are read, then stop and close. The pong's payload.
async fn media_call(addr: std::net::SocketAddr, sid: &str) -> Vec<u8> {
    let url = format!("{}?callSid={sid}", voice_agent::callers::media_url(addr));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect /media");
    ws.send(Message::text(frames::start(sid))).await.expect("start");
    let silence = "/".repeat(212) + "/w==";
    for sequence in 2..2 + FRAMES {
        ws.send(Message::text(frames::media(sequence, (sequence - 2) * 20, &silence)))
            .await
            .expect("media");
    }
    ws.send(Message::Ping(b"read".to_vec().into())).await.expect("ping");
    let pong = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Pong(payload)))) => break payload.to_vec(),
            Ok(Some(Ok(_))) => {}
            other => panic!("no pong: {other:?}"),
        }
    };
    ws.send(Message::text(frames::stop(sid))).await.expect("stop");
    ws.send(Message::Close(None)).await.expect("close");
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    pong
}

#[test]
fn off_serves_the_same_routes_unrecorded_and_on_counts_them_exactly() {
    with_local_prometheus(|metrics| async move {
        let off = start("off", &metrics).await;
        let (statuses, traced) = api_traffic(off).await;
        assert_eq!(statuses, [201, 200, 404, 200, 200]);
        assert!(!traced, "an uninstrumented response carried a trace id");
        assert_eq!(media_call(off, "CAswitchoff").await, b"read");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let unrecorded = Exposition::render(&metrics);
        for series in ["http_server_", "voice_call"] {
            let recorded: Vec<_> =
                unrecorded.samples.iter().filter(|s| s.name.starts_with(series)).collect();
            assert!(recorded.is_empty(), "off recorded {recorded:?}");
        }

        let on = start("on", &metrics).await;
        let (statuses, traced) = api_traffic(on).await;
        assert_eq!(statuses, [201, 200, 404, 200, 200]);
        assert!(traced, "no instrumented response carried a trace id");
        assert_eq!(media_call(on, "CAswitchon").await, b"read");
        let ended = eventually(Duration::from_secs(10), || {
            Exposition::render(&metrics).sum("voice_calls_total", &[]) == 1.0
        })
        .await;
        assert!(ended, "{}", Exposition::render(&metrics).text);
        let e = Exposition::render(&metrics);
        // The five API requests and the call's upgrade.
        assert_eq!(e.count(DURATION, &[]), 6, "{}", e.text);
        assert_eq!(e.count(DURATION, &[("route", "/media"), ("status", "101")]), 1);
        assert_eq!(e.count(DURATION, &[("route", "/calls/{id}")]), 2);
        assert_eq!(e.count(DURATION, &[("route", "/calls/{id}"), ("status", "404")]), 1);
        assert_eq!(e.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
        assert_eq!(e.sum("voice_call_frames_total", &[("direction", "in")]), FRAMES as f64);
        assert_eq!(e.sum("voice_calls_active", &[]), 0.0);
    });
}
