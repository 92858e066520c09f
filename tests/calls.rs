//! `CallLayer` on a real server on loopback, driven by real WebSocket clients
//! (tokio-tungstenite) speaking Twilio Media Streams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{
    self, protocol::CloseFrame, protocol::frame::coding::CloseCode,
};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voxscope::call::{Call, CallLayer, Protocol, TrackedSocket};
use voxscope_tests::{Exposition, eventually, serve, with_local_prometheus};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CALLS: &str = "voice_calls_total";
const DURATION: &str = "voice_call_duration_seconds";
const ACTIVE: &str = "voice_calls_active";
const FRAMES: &str = "voice_call_frames_total";
const ERRORS: &str = "voice_call_protocol_errors_total";
const TURN: &str = "voice_turn_latency_seconds";
const PANIC_MESSAGE: &str = "simulated handler panic";

/// 160 bytes of mu-law silence (0xFF): 20 ms at 8 kHz, 216 base64 characters.
fn payload_20ms() -> String {
    "/".repeat(212) + "/w=="
}

fn start(call_sid: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZ{call_sid}","start":{{"accountSid":"AC1","callSid":"{call_sid}","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"MZ{call_sid}"}}"#
    )
}

fn media(n: u64) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{}"}},"streamSid":"MZ1"}}"#,
        n + 2,
        n * 20,
        payload_20ms()
    )
}

const STOP: &str =
    r#"{"event":"stop","sequenceNumber":"99","stop":{"accountSid":"AC1","callSid":"CA1"}}"#;
const CONNECTED: &str = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;

/// What the handlers saw, for tests that prove frames passed through.
#[derive(Clone, Default)]
struct Seen {
    messages: Arc<AtomicUsize>,
}

/// The agent: reads until the caller goes; on a `mark` named `user_done` it ends the
/// caller's turn and answers with audio after the delay in the mark's sequenceNumber.
async fn agent(mut socket: TrackedSocket<WebSocket>, call: Call, seen: Seen) {
    while let Some(Ok(message)) = socket.next().await {
        seen.messages.fetch_add(1, Ordering::Relaxed);
        let Message::Text(text) = &message else { continue };
        if let Some(delay_ms) = text.as_str().strip_prefix("user_done:") {
            call.user_turn_ended();
            let delay = Duration::from_millis(delay_ms.parse().unwrap_or(0));
            tokio::time::sleep(delay).await;
            let reply = format!(
                r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{}"}}}}"#,
                payload_20ms()
            );
            for _ in 0..3 {
                if socket.send(Message::text(reply.clone())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn media_route(ws: WebSocketUpgrade, call: Call, State(seen): State<Seen>) -> Response {
    ws.on_upgrade(move |socket| call.serve(socket, move |socket, call| agent(socket, call, seen)))
}

async fn panic_route(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |mut socket, _call| async move {
            if socket.next().await.is_some() {
                panic!("{PANIC_MESSAGE}");
            }
        })
    })
}

/// The agent hangs up after the caller's first media frame, in one of three ways.
async fn hang_up_route(
    ws: WebSocketUpgrade,
    call: Call,
    axum::extract::Path(how): axum::extract::Path<String>,
) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, move |mut socket, _call| async move {
            while let Some(Ok(message)) = socket.next().await {
                if message.to_text().is_ok_and(|text| text.contains(r#""event":"media""#)) {
                    break;
                }
            }
            match how.as_str() {
                "close" => socket.close().await.expect("close"),
                "frame" => {
                    let bye = axum::extract::ws::CloseFrame { code: 1000, reason: "bye".into() };
                    socket.send(Message::Close(Some(bye))).await.expect("close frame");
                }
                _ => {
                    let (mut to_caller, from_caller) = socket.split();
                    to_caller.close().await.expect("split close");
                    // The caller's echo of the close arrives on the other half.
                    from_caller.for_each(|_| async {}).await;
                    return;
                }
            }
            while let Some(Ok(_)) = socket.next().await {}
        })
    })
}

/// Refuses before upgrading, as an app does for an unknown caller.
async fn refuse_route(_ws: WebSocketUpgrade, _call: Call) -> Response {
    StatusCode::FORBIDDEN.into_response()
}

fn app(layer: CallLayer, seen: Seen) -> Router {
    Router::new()
        .route("/media", any(media_route))
        .route("/panic", any(panic_route))
        .route("/refuse", any(refuse_route))
        .route("/hangup/{how}", any(hang_up_route))
        .with_state(seen)
        .layer(layer)
}

/// Keeps the expected panics of the handler out of the test output; any other panic
/// still reaches the default hook.
fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected =
            info.payload().downcast_ref::<String>().map(String::as_str) == Some(PANIC_MESSAGE);
        if !expected {
            default(info);
        }
    }));
}

async fn connect(addr: SocketAddr, path: &str) -> Result<Client, tungstenite::Error> {
    tokio_tungstenite::connect_async(format!("ws://{addr}{path}")).await.map(|(ws, _)| ws)
}

async fn send_all(ws: &mut Client, frames: &[String]) {
    for frame in frames {
        ws.send(tungstenite::Message::text(frame.as_str())).await.expect("send");
    }
}

/// Closes with `code` and reads until the server's close arrives or the socket ends.
async fn close(mut ws: Client, code: CloseCode) {
    let frame = CloseFrame { code, reason: "".into() };
    let _ = ws.send(tungstenite::Message::Close(Some(frame))).await;
    while let Some(Ok(_)) = ws.next().await {}
}

/// Twilio's graceful end: media, a garbage frame that must be survived, stop, close.
async fn completed_call(addr: SocketAddr, n: usize) {
    let mut ws = connect(addr, &format!("/media?callSid=CA{n}")).await.expect("upgrade");
    let mut frames = vec![CONNECTED.to_owned(), start(&format!("CA{n}"))];
    frames.extend((0..5).map(media));
    frames.push("{not json".to_owned());
    frames.push(STOP.to_owned());
    send_all(&mut ws, &frames).await;
    close(ws, CloseCode::Normal).await;
}

/// The caller closed without Twilio's stop: dropped.
async fn closed_without_stop(addr: SocketAddr) {
    let mut ws = connect(addr, "/media").await.expect("upgrade");
    let mut frames = vec![start("CAX")];
    frames.extend((0..3).map(media));
    send_all(&mut ws, &frames).await;
    close(ws, CloseCode::Normal).await;
}

/// The TCP connection is reset under the socket: dropped.
async fn reset(addr: SocketAddr) {
    let mut ws = connect(addr, "/media").await.expect("upgrade");
    send_all(&mut ws, &[CONNECTED.to_owned()]).await;
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_zero_linger().expect("linger");
    }
    drop(ws);
}

async fn panicking_handler(addr: SocketAddr) {
    let mut ws = connect(addr, "/panic").await.expect("upgrade");
    let _ = ws.send(tungstenite::Message::text(start("CAP"))).await;
    while let Some(Ok(_)) = ws.next().await {}
}

async fn refused(addr: SocketAddr) {
    match connect(addr, "/refuse").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
}

/// A plain GET on the WebSocket route: not a call; axum's extractor answers 400.
async fn not_a_websocket(addr: SocketAddr) {
    let status = reqwest::get(format!("http://{addr}/media")).await.expect("get").status();
    assert_eq!(status, 400);
}

#[test]
fn a_thousand_calls_end_exactly_once_with_the_right_outcomes() {
    quiet_expected_panics();
    const CAPACITY: usize = 64;
    const SHED: usize = 36;
    // Plain GETs on the WebSocket route are not calls: 1,000 calls and 57 GETs.
    let (completed, without_stop, resets, panics, refusals, plain) = (493, 150, 150, 50, 57, 57);
    let handle = with_local_prometheus(|handle| async move {
        let layer = CallLayer::builder(Protocol::Twilio)
            .max_calls(CAPACITY)
            .call_id_query("callSid")
            .build()
            .expect("layer");
        let seen = Seen::default();
        let addr = serve(app(layer.clone(), seen.clone())).await;

        // Phase 1: 900 calls of every kind and 57 plain GETs, 16 at a time, well under
        // capacity.
        let mut kinds: Vec<u8> = [
            (0u8, completed),
            (1, without_stop),
            (2, resets),
            (3, panics),
            (4, refusals),
            (5, plain),
        ]
        .iter()
        .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
        .collect();
        use rand::seq::SliceRandom;
        kinds.shuffle(&mut rand::rng());
        for (batch_no, batch) in kinds.chunks(16).enumerate() {
            assert!(
                eventually(Duration::from_secs(10), || layer.active_calls() == 0).await,
                "calls of batch {batch_no} never ended"
            );
            let calls = batch.iter().enumerate().map(|(i, &kind)| async move {
                match kind {
                    0 => completed_call(addr, batch_no * 16 + i).await,
                    1 => closed_without_stop(addr).await,
                    2 => reset(addr).await,
                    3 => panicking_handler(addr).await,
                    4 => refused(addr).await,
                    _ => not_a_websocket(addr).await,
                }
            });
            futures_util::future::join_all(calls).await;
        }
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);

        // Phase 2: fill the capacity, then 36 more are shed with 503 before upgrading.
        let mut held = Vec::new();
        for n in 0..CAPACITY {
            let mut ws = connect(addr, "/media").await.expect("upgrade under capacity");
            send_all(&mut ws, &[start(&format!("CAH{n}")), media(0)]).await;
            held.push(ws);
        }
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == CAPACITY).await);
        for _ in 0..SHED {
            match connect(addr, "/media").await {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status(), 503);
                    assert_eq!(response.headers()["retry-after"], "5");
                }
                other => panic!("expected 503, got {:?}", other.map(|_| ())),
            }
        }
        let exposition = Exposition::render(&handle);
        assert_eq!(exposition.sum("voice_calls_capacity", &[("transport", "twilio")]), 64.0);
        assert_eq!(exposition.sum(ACTIVE, &[("transport", "twilio")]), 64.0);
        for mut ws in held {
            send_all(&mut ws, &[STOP.to_owned()]).await;
            close(ws, CloseCode::Normal).await;
        }
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
        let messages = seen.messages.load(Ordering::Relaxed);
        // Completed calls: connected, start, 5 media, garbage, stop, close = 10 each.
        assert!(messages >= completed * 10, "the garbage frame stopped calls: {messages}");
    });

    let exposition = Exposition::render(&handle);
    let calls = |outcome| exposition.sum(CALLS, &[("transport", "twilio"), ("outcome", outcome)]);
    let shed = SHED as f64;
    assert_eq!(calls("completed"), (completed + CAPACITY) as f64);
    assert_eq!(calls("dropped"), (without_stop + resets) as f64);
    assert_eq!(calls("failed"), panics as f64);
    assert_eq!(calls("rejected"), refusals as f64 + shed);
    assert_eq!(exposition.sum(CALLS, &[]), 1000.0);
    assert_eq!(exposition.count(DURATION, &[]), 1000);
    assert_eq!(exposition.count(DURATION, &[("outcome", "failed")]), panics as u64);
    assert_eq!(exposition.sum(ACTIVE, &[]), 0.0);
    let frames_in = completed * 5 + without_stop * 3 + CAPACITY;
    assert_eq!(exposition.sum(FRAMES, &[("direction", "in")]), frames_in as f64);
    assert_eq!(exposition.sum(ERRORS, &[("kind", "invalid_json")]), completed as f64);
    // Every call that carried media observed its quality once.
    assert_eq!(
        exposition.count("voice_call_audio_quality", &[]),
        (completed + without_stop + CAPACITY) as u64
    );
}

#[test]
fn malformed_frames_are_counted_by_kind_and_the_call_goes_on() {
    let seen = Seen::default();
    let seen_by_test = seen.clone();
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio).build().expect("layer");
        let addr = serve(app(layer.clone(), seen)).await;
        let mut ws = connect(addr, "/media").await.expect("upgrade");
        let garbage = [
            "not json",
            r#"{"event":"dance"}"#,
            r#"{"event":"media","media":{}}"#,
            r#"{"event":"media","media":{"payload":"AAAAA"}}"#,
        ];
        send_all(&mut ws, &[start("CAM"), media(0)]).await;
        send_all(&mut ws, &garbage.map(str::to_owned)).await;
        ws.send(tungstenite::Message::binary(vec![1u8, 2, 3])).await.expect("binary");
        send_all(&mut ws, &[media(1), media(2), STOP.to_owned()]).await;
        close(ws, CloseCode::Normal).await;
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
    });
    let exposition = Exposition::render(&handle);
    for kind in
        ["invalid_json", "unknown_event", "missing_field", "invalid_payload", "unexpected_frame"]
    {
        assert_eq!(exposition.sum(ERRORS, &[("kind", kind)]), 1.0, "{kind}");
    }
    assert_eq!(exposition.sum(FRAMES, &[("direction", "in")]), 3.0);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "completed")]), 1.0);
    // start, media, 4 garbage texts, binary, 2 media, stop, close.
    assert_eq!(seen_by_test.messages.load(Ordering::Relaxed), 11);
}

#[test]
fn turn_latency_matches_the_injected_answer_delay() {
    const DELAY_MS: u64 = 300;
    const CALLS_N: usize = 4;
    const TURNS: usize = 2;
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio).build().expect("layer");
        let addr = serve(app(layer.clone(), Seen::default())).await;
        let calls = (0..CALLS_N).map(|n| async move {
            let mut ws = connect(addr, "/media").await.expect("upgrade");
            send_all(&mut ws, &[start(&format!("CAT{n}")), media(0)]).await;
            for _ in 0..TURNS {
                send_all(&mut ws, &[format!("user_done:{DELAY_MS}")]).await;
                // The agent answers with three media frames.
                for _ in 0..3 {
                    ws.next().await.expect("answer").expect("frame");
                }
            }
            send_all(&mut ws, &[STOP.to_owned()]).await;
            close(ws, CloseCode::Normal).await;
        });
        futures_util::future::join_all(calls).await;
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
    });
    let exposition = Exposition::render(&handle);
    let turns = (CALLS_N * TURNS) as u64;
    assert_eq!(exposition.count(TURN, &[]), turns);
    let mean = exposition.sum(&format!("{TURN}_sum"), &[]) / turns as f64;
    let delay = DELAY_MS as f64 / 1000.0;
    assert!(mean >= delay && mean < delay + 0.25, "mean turn latency {mean} s");
    // Only the first audio frame of each answer is timed; all three count as frames.
    assert_eq!(exposition.sum(FRAMES, &[("direction", "out")]), (turns * 3) as f64);
}

#[test]
fn count_only_mode_records_capacity_but_never_refuses() {
    let handle = with_local_prometheus(|handle| async move {
        let layer = CallLayer::builder(Protocol::Twilio)
            .max_calls(1)
            .count_only(true)
            .build()
            .expect("layer");
        let addr = serve(app(layer.clone(), Seen::default())).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(connect(addr, "/media").await.expect("never refused"));
        }
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 3).await);
        let exposition = Exposition::render(&handle);
        assert_eq!(exposition.sum("voice_calls_capacity", &[]), 1.0);
        assert_eq!(exposition.sum(ACTIVE, &[]), 3.0);
        for ws in held {
            close(ws, CloseCode::Away).await;
        }
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
    });
    let exposition = Exposition::render(&handle);
    // Twilio without stop: a close, even 1001, is a dropped stream.
    assert_eq!(exposition.sum(CALLS, &[("outcome", "dropped")]), 3.0);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "rejected")]), 0.0);
}

#[test]
fn vonage_completes_on_close_and_counts_linear_pcm_seconds() {
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Vonage).build().expect("layer");
        let addr = serve(app(layer.clone(), Seen::default())).await;
        let mut ws = connect(addr, "/media").await.expect("upgrade");
        let header = r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}"#;
        send_all(&mut ws, &[header.to_owned()]).await;
        // 100 frames of 20 ms at 16 kHz, 16-bit: 640 bytes each, two seconds.
        for _ in 0..100 {
            ws.send(tungstenite::Message::binary(vec![0u8; 640])).await.expect("audio");
        }
        close(ws, CloseCode::Normal).await;
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
    });
    let exposition = Exposition::render(&handle);
    let vonage = [("transport", "vonage"), ("direction", "in")];
    assert_eq!(exposition.sum(FRAMES, &vonage), 100.0);
    assert_eq!(exposition.sum("voice_call_audio_seconds_total", &vonage), 2.0);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "completed")]), 1.0);
}

#[test]
fn ten_seconds_lost_in_a_minute_of_audio_scores_five_sixths() {
    // Arrival on a frozen clock: the frames' own timestamps alone show the gap, however
    // the scheduler spaces the reads.
    let (clock, _mock) = quanta::Clock::mock();
    let handle = quanta::with_clock(&clock, || {
        with_local_prometheus(|_| async move {
            let layer = CallLayer::builder(Protocol::Twilio).build().expect("layer");
            let addr = serve(app(layer.clone(), Seen::default())).await;
            let mut ws = connect(addr, "/media").await.expect("upgrade");
            // 3,000 frames of 20 ms; those from 25 s to 35 s never arrive.
            let mut frames = vec![start("CAgap")];
            frames.extend((0..3_000).filter(|n| !(1_250..1_750).contains(n)).map(media));
            frames.push(STOP.to_owned());
            send_all(&mut ws, &frames).await;
            close(ws, CloseCode::Normal).await;
            assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
        })
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.count("voice_call_audio_quality", &[]), 1);
    assert_eq!(exposition.sum("voice_call_audio_quality_sum", &[]), 2_500.0 / 3_000.0);
    assert_eq!(exposition.sum("voice_call_media_gaps_total", &[]), 1.0);
    assert_eq!(exposition.sum(FRAMES, &[("direction", "in")]), 2_500.0);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "completed")]), 1.0);
}

#[test]
fn calls_the_service_hangs_up_complete() {
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio).build().expect("layer");
        let addr = serve(app(layer.clone(), Seen::default())).await;
        for how in ["close", "frame", "split"] {
            let mut ws = connect(addr, &format!("/hangup/{how}")).await.expect("upgrade");
            send_all(&mut ws, &[start(&format!("CA{how}")), media(0)]).await;
            // The service's close arrives; tungstenite echoes it and ends the stream.
            while let Some(Ok(_)) = ws.next().await {}
            assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
        }
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "completed")]), 3.0);
    assert_eq!(exposition.sum(CALLS, &[]), 3.0);
}

#[test]
fn racing_upgrades_at_exactly_capacity_are_all_admitted() {
    const CAPACITY: usize = 32;
    let handle = with_local_prometheus(|_| async move {
        let layer =
            CallLayer::builder(Protocol::Twilio).max_calls(CAPACITY).build().expect("layer");
        let addr = serve(app(layer.clone(), Seen::default())).await;
        for round in 0..3 {
            let upgrades = (0..CAPACITY).map(|_| connect(addr, "/media"));
            let held: Vec<Client> = futures_util::future::join_all(upgrades)
                .await
                .into_iter()
                .map(|ws| {
                    ws.unwrap_or_else(|e| panic!("round {round}: shed with a slot free: {e}"))
                })
                .collect();
            assert!(eventually(Duration::from_secs(10), || layer.active_calls() == CAPACITY).await);
            match connect(addr, "/media").await {
                Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
                other => panic!("expected 503 over capacity, got {:?}", other.map(|_| ())),
            }
            let closes = held.into_iter().map(|mut ws| async move {
                send_all(&mut ws, &[STOP.to_owned()]).await;
                close(ws, CloseCode::Normal).await;
            });
            futures_util::future::join_all(closes).await;
            assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
        }
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "completed")]), (3 * CAPACITY) as f64);
    assert_eq!(exposition.sum(CALLS, &[("outcome", "rejected")]), 3.0);
}
