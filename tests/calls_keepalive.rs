//! Ping keepalive on a real server on loopback, against real WebSocket clients
//! (tokio-tungstenite, which answers pings by itself while it reads), on a paused
//! clock: round trips timed exactly, a client that stops reading (and so stops
//! answering) dropped after the configured misses with its capacity slot freed, and no
//! ping at all when the keepalive is off.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{self, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voxscope::call::{Call, CallLayer, Protocol};
use voxscope_tests::{Exposition, serve, with_local_prometheus_paused};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const RTT: &str = "voice_call_ping_rtt_seconds";
const INTERVAL: Duration = Duration::from_secs(10);
const MISSES: u32 = 2;

const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","callSid":"CAping","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZping"}"#;
const STOP: &str =
    r#"{"event":"stop","sequenceNumber":"99","stop":{"accountSid":"AC1","callSid":"CAping"}}"#;

fn media(n: u64) -> Message {
    let payload = "/".repeat(212) + "/w==";
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}"}},"streamSid":"MZping"}}"#,
        n * 20
    ))
}

/// Reads the caller until it goes, on the tracked socket itself.
async fn listen(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |mut socket, _call| async move {
            while let Some(Ok(_)) = socket.next().await {}
        })
    })
}

/// Reads the caller from the stream half of a split socket; the sink half stays idle,
/// held as an agent's writer task would hold it.
async fn listen_split(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |socket, _call| async move {
            let (to_caller, mut from_caller) = socket.split();
            while let Some(Ok(_)) = from_caller.next().await {}
            drop(to_caller);
        })
    })
}

/// The agent hangs up at the caller's first media frame (`SinkExt::close`), then reads
/// until the caller's close comes back.
async fn hang_up_first(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |mut socket, _call| async move {
            while let Some(Ok(message)) = socket.next().await {
                if message.to_text().is_ok_and(|text| text.contains(r#""event":"media""#)) {
                    break;
                }
            }
            socket.close().await.expect("close");
            while let Some(Ok(_)) = socket.next().await {}
        })
    })
}

/// The agent's answer, bigger than every buffer between it and a caller that does not
/// read: 8 MiB in 32 KiB frames.
const ANSWER_FRAMES: usize = 256;
const ANSWER_FRAME_BYTES: usize = 32 * 1024;

/// Reads the caller on the handler's task while another task talks: the writer waits
/// on the socket's back-pressure while the reader pings through the same socket.
async fn talk_and_listen(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |socket, _call| async move {
            let (mut to_caller, mut from_caller) = socket.split();
            let talker = tokio::spawn(async move {
                for _ in 0..ANSWER_FRAMES {
                    let frame = ws::Message::binary(vec![0u8; ANSWER_FRAME_BYTES]);
                    if to_caller.send(frame).await.is_err() {
                        break;
                    }
                }
                to_caller
            });
            while let Some(Ok(_)) = from_caller.next().await {}
            drop(talker.await);
        })
    })
}

fn app(layer: CallLayer) -> Router {
    Router::new()
        .route("/media", any(listen))
        .route("/split", any(listen_split))
        .route("/hangup", any(hang_up_first))
        .route("/talk", any(talk_and_listen))
        .route_layer(layer)
}

fn keepalive_layer() -> CallLayer {
    CallLayer::builder(Protocol::Twilio)
        .max_calls(1)
        .ping_keepalive(INTERVAL, MISSES)
        .build()
        .expect("layer")
}

async fn connect(addr: SocketAddr, path: &str) -> Client {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}{path}")).await.expect("upgrade");
    ws.send(Message::text(START)).await.expect("start");
    ws
}

/// Reads until `pings` pings have come, answering each `delay` after it arrived;
/// returns when each came.
async fn answer_pings(ws: &mut Client, pings: usize, delay: Duration) -> Vec<Instant> {
    let mut arrivals = Vec::new();
    while arrivals.len() < pings {
        match ws.next().await {
            Some(Ok(Message::Ping(payload))) => {
                assert_eq!(payload.len(), 8, "a ping carries its 8-byte number");
                arrivals.push(Instant::now());
                tokio::time::sleep(delay).await;
                // tungstenite queued the pong when it read the ping; a flush sends it.
                ws.flush().await.expect("pong");
            }
            Some(Ok(other)) => panic!("only pings come from a listening agent: {other:?}"),
            other => panic!("the call ended early: {other:?}"),
        }
    }
    arrivals
}

/// Twilio's goodbye: stop, then a close, read until the server's close comes back.
async fn hang_up(mut ws: Client) {
    ws.send(Message::text(STOP)).await.expect("stop");
    ws.close(None).await.expect("close");
    while let Some(Ok(_)) = ws.next().await {}
}

/// Waits until the layer holds no call, looking every `step` (after `tick`, which runs
/// the client meanwhile: say, a frame it sends), and checks that this was `at` after
/// `started`, within one step.
async fn assert_ends_at(
    layer: &CallLayer,
    started: Instant,
    at: Duration,
    step: Duration,
    mut tick: impl AsyncFnMut(),
) {
    while layer.active_calls() > 0 {
        assert!(started.elapsed() < Duration::from_secs(600), "the call never ended");
        tokio::time::sleep(step).await;
        tick().await;
    }
    let ended = started.elapsed();
    assert!((at..=at + step).contains(&ended), "ended at {ended:?}, not {at:?}");
}

#[test]
fn answered_pings_are_timed_exactly_on_whole_and_split_sockets() {
    let handle = with_local_prometheus_paused(|_| async {
        let addr = serve(app(keepalive_layer())).await;
        for path in ["/media", "/split"] {
            let mut ws = connect(addr, path).await;
            let started = Instant::now();
            let arrivals = answer_pings(&mut ws, 3, Duration::from_millis(40)).await;
            let at: Vec<Duration> = arrivals.iter().map(|t| *t - started).collect();
            // One interval after the handler first waited, then every interval, whenever
            // the pongs come.
            assert_eq!(at, [10, 20, 30].map(Duration::from_secs), "{path}");
            hang_up(ws).await;
        }
    });
    let exposition = Exposition::render(&handle);
    let twilio = [("transport", "twilio")];
    assert_eq!(exposition.count(RTT, &twilio), 6);
    assert!((exposition.sum(&format!("{RTT}_sum"), &twilio) - 6.0 * 0.04).abs() < 1e-9);
    let bucket = |le| exposition.sum(&format!("{RTT}_bucket"), &[("le", le)]);
    assert_eq!((bucket("0.025"), bucket("0.05")), (0.0, 6.0));
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 2.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_misses_and_frees_its_slot() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = keepalive_layer();
        let addr = serve(app(layer.clone())).await;
        for path in ["/media", "/split"] {
            let ws = connect(addr, path).await;
            let (mut to_server, mut from_server) = ws.split();
            let started = Instant::now();
            // Answers the pings at 10 s and 20 s at once, then stops reading: the pings
            // at 30 s and 40 s wait unread in its socket buffer.
            let mut answered = 0;
            while answered < 2 {
                if let Some(Ok(Message::Ping(_))) = from_server.next().await {
                    answered += 1;
                    // The pong goes out with the next write.
                    to_server.flush().await.expect("pong");
                }
            }
            assert_eq!(started.elapsed(), Duration::from_secs(20));
            // It still sends a media frame every 20 ms: it is no idle caller.
            // The pings of 30 s and 40 s unanswered at 40 s and 50 s: two misses.
            let (at, step) = (Duration::from_secs(50), Duration::from_millis(20));
            let mut n = 0;
            assert_ends_at(&layer, started, at, step, async || {
                n += 1;
                let _ = to_server.send(media(n)).await;
            })
            .await;
            drop((to_server, from_server));
        }
        // The slot is back: a new caller is admitted (max_calls is 1) and completes.
        let ws = connect(addr, "/media").await;
        assert_eq!(layer.active_calls(), 1);
        hang_up(ws).await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 2.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "rejected")]), 0.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    // Answered at once on a paused clock: two round trips of exactly 0 per call.
    assert_eq!(exposition.count(RTT, &[]), 4);
    assert_eq!(exposition.sum(&format!("{RTT}_sum"), &[]), 0.0);
}

#[test]
fn a_client_that_neither_reads_nor_writes_is_dropped_at_interval_times_misses_plus_one() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = keepalive_layer();
        let addr = serve(app(layer.clone())).await;
        let silent = connect(addr, "/media").await;
        // The pings of 10 s and 20 s unanswered at 20 s and 30 s.
        let (started, at) = (Instant::now(), Duration::from_secs(30));
        assert_ends_at(&layer, started, at, Duration::from_millis(100), async || {}).await;
        drop(silent);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    assert_eq!(exposition.count(RTT, &[]), 0);
}

#[test]
fn a_peer_that_never_answers_the_agents_hang_up_is_ended_completed_by_the_keepalive() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = keepalive_layer();
        let addr = serve(app(layer.clone())).await;
        let mut gone = connect(addr, "/hangup").await;
        gone.send(media(2)).await.expect("media");
        // The agent's close waits unread; no ping follows it. The peer misses the ticks
        // of 20 s and 30 s (the first, at 10 s, finds the last ping answered).
        let (started, at) = (Instant::now(), Duration::from_secs(30));
        assert_ends_at(&layer, started, at, Duration::from_millis(100), async || {}).await;
        drop(gone);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 0.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
}

#[test]
fn a_writer_held_up_by_back_pressure_is_not_stalled_by_the_pings() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = CallLayer::builder(Protocol::Twilio)
            .ping_keepalive(INTERVAL, 5)
            .build()
            .expect("layer");
        let addr = serve(app(layer.clone())).await;
        let mut ws = connect(addr, "/talk").await;
        // Reads nothing for 25 s: the agent's answer fills the buffers and its writer
        // waits, while the pings of 10 s and 20 s go through the same socket.
        tokio::time::sleep(Duration::from_secs(25)).await;
        let (mut bytes, mut pings) = (0, 0);
        let whole_answer = async {
            while bytes < ANSWER_FRAMES * ANSWER_FRAME_BYTES {
                match ws.next().await {
                    Some(Ok(Message::Binary(frame))) => bytes += frame.len(),
                    Some(Ok(Message::Ping(_))) => pings += 1,
                    other => panic!("the answer was cut short: {other:?}"),
                }
            }
        };
        let read = tokio::time::timeout(Duration::from_secs(60), whole_answer).await;
        assert!(read.is_ok(), "the writer stalled after {bytes} bytes and {pings} pings");
        hang_up(ws).await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
}

#[test]
fn pongs_do_not_keep_a_caller_that_sends_nothing_from_its_idle_timeout() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = CallLayer::builder(Protocol::Twilio)
            .idle_timeout(Duration::from_secs(15))
            .ping_keepalive(INTERVAL, 5)
            .build()
            .expect("layer");
        let addr = serve(app(layer.clone())).await;
        let (to_server, mut from_server) = connect(addr, "/media").await.split();
        let started = Instant::now();
        // Reads, and so answers every ping, but sends no frame after its start.
        let reader = tokio::spawn(async move {
            let mut pings = 0;
            while let Some(Ok(message)) = from_server.next().await {
                pings += usize::from(matches!(message, Message::Ping(_)));
            }
            pings
        });
        let at = Duration::from_secs(15);
        assert_ends_at(&layer, started, at, Duration::from_millis(100), async || {}).await;
        assert_eq!(reader.await.expect("reader"), 1, "the ping of 10 s, answered");
        drop(to_server);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 1.0);
    assert_eq!(exposition.count(RTT, &[]), 1);
}

#[test]
fn without_keepalive_no_ping_is_sent_and_no_round_trip_series_exists() {
    let handle = with_local_prometheus_paused(|_| async {
        let layer = CallLayer::builder(Protocol::Twilio).max_calls(1).build().expect("layer");
        let addr = serve(app(layer.clone())).await;
        let mut ws = connect(addr, "/media").await;
        // Ten quiet minutes: nothing comes from the server, and the call lives on.
        let quiet = tokio::time::timeout(Duration::from_secs(600), ws.next()).await;
        assert!(quiet.is_err(), "nothing but silence: {quiet:?}");
        assert_eq!(layer.active_calls(), 1);
        hang_up(ws).await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert!(exposition.find(&format!("{RTT}_count"), &[]).next().is_none());
    assert!(!exposition.text.contains(RTT), "{}", exposition.text);
}
