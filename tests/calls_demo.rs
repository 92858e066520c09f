//! The demo's `/media` endpoint, called as Twilio would: the agent ends the caller's
//! turn after 200 ms of silence and answers after its responder's delay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use voice_agent::media::{self, FixedDelayResponder};
use voxscope::MetricsHandle;
use voxscope_tests::{Exposition, eventually, serve, start_demo, with_local_prometheus};

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Python's base64 of 20 ms frames of mu-law: synthesized speech, then line noise.
const CALLER_TURN: &str = include_str!("fixtures/caller_turn.b64");
/// Frames of speech at the start of [`CALLER_TURN`]; line noise follows.
const SPEECH_FRAMES: usize = 177;
/// 160 bytes of 0xFF, as Twilio writes line silence: canonical base64 ends in `/w==`.
fn silence() -> String {
    "/".repeat(212) + "/w=="
}

fn media_frame(n: u64, silent: bool) -> String {
    let payload = if silent { silence() } else { "AQID".repeat(53) + "AQ==" };
    format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}"}},"streamSid":"MZdemo"}}"#,
        n * 20
    )
}

/// Connects to the demo's `/media` as Twilio would and sends `start`.
async fn start_call(addr: SocketAddr, call_sid: &str) -> Client {
    let url = format!("ws://{addr}{}?callSid={call_sid}", media::MEDIA_PATH);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZ{call_sid}","start":{{"callSid":"{call_sid}","mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}}}}"#
    );
    ws.send(Message::text(start)).await.expect("start");
    ws
}

/// Ends the call as Twilio does (`stop`, then close) and waits until the server has
/// counted it completed.
async fn hang_up_and_await_completion<S>(ws: &mut S, handle: &MetricsHandle, call_sid: &str)
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Debug,
{
    let stop =
        format!(r#"{{"event":"stop","sequenceNumber":"9999","stop":{{"callSid":"{call_sid}"}}}}"#);
    ws.send(Message::text(stop)).await.expect("stop");
    let _ = ws.close().await;
    let ended = eventually(Duration::from_secs(10), || {
        Exposition::render(handle).sum("voice_calls_total", &[("outcome", "completed")]) == 1.0
    });
    assert!(ended.await, "the call completed");
}

#[test]
fn the_demo_agent_answers_a_turn_and_the_call_completes() {
    const DELAY: Duration = Duration::from_millis(250);
    let handle = with_local_prometheus(|handle| async move {
        let responder = Arc::new(FixedDelayResponder { delay: DELAY, frames: 5 });
        let addr = serve(media::router(responder).expect("router")).await;
        let mut ws = start_call(addr, "CAdemo").await;
        let mut n = 2;
        // 400 ms of speech, then silence, paced at 20 ms, until the agent speaks.
        let mut answered = 0;
        while answered < 5 && n < 300 {
            ws.send(Message::text(media_frame(n, n >= 22))).await.expect("media");
            n += 1;
            if let Ok(Some(Ok(Message::Text(_)))) =
                tokio::time::timeout(Duration::from_millis(20), ws.next()).await
            {
                answered += 1;
            }
        }
        assert_eq!(answered, 5, "the agent answered with its five frames");
        hang_up_and_await_completion(&mut ws, &handle, "CAdemo").await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.count("voice_turn_latency_seconds", &[]), 1);
    let latency = exposition.sum("voice_turn_latency_seconds_sum", &[]);
    assert!(latency >= DELAY.as_secs_f64() && latency < DELAY.as_secs_f64() + 0.5, "{latency}");
    assert_eq!(exposition.sum("voice_call_frames_total", &[("direction", "out")]), 5.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
}

fn twilio_media(n: u64, payload: &str) -> Message {
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}"}},"streamSid":"MZpy"}}"#,
        n * 20
    ))
}

/// Reads until `frames` media frames of the agent arrived (other events skipped), at most
/// 10 s.
async fn read_answer<S>(ws: &mut S, frames: usize) -> usize
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut media = 0;
    let read = async {
        while media < frames {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str().contains(r#""event":"media""#) => {
                    media += 1;
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    media
}

#[test]
fn speech_encoded_by_python_is_heard_turn_by_turn_and_line_noise_is_not() {
    const TURNS: usize = 3;
    const ANSWER_FRAMES: usize = 5;
    let lines: &[&str] = &CALLER_TURN.lines().collect::<Vec<_>>();
    assert_eq!(lines.len(), SPEECH_FRAMES + 25);
    let noise = &lines[SPEECH_FRAMES..];
    let handle = with_local_prometheus(|handle| async move {
        let responder = Arc::new(FixedDelayResponder {
            delay: Duration::from_millis(50),
            frames: ANSWER_FRAMES,
        });
        let addr = serve(media::router(responder).expect("router")).await;
        let mut ws = start_call(addr, "CApython").await;
        let mut n = 2..;
        // Four seconds of line noise and silence before anyone speaks: no turn.
        let silence = silence();
        for i in 0..200 {
            let payload = if i % 2 == 0 { noise[i % noise.len()] } else { &silence };
            ws.send(twilio_media(n.next().unwrap(), payload)).await.expect("media");
        }
        // A payload a strict decoder refuses: counted, not heard.
        let sloppy = format!("{}==", "/".repeat(214));
        ws.send(twilio_media(n.next().unwrap(), &sloppy)).await.expect("media");
        let mut answered = Vec::new();
        for _ in 0..TURNS {
            // The utterance, then its trailing line noise: 400 ms of quiet ends the turn.
            for payload in lines {
                ws.send(twilio_media(n.next().unwrap(), payload)).await.expect("media");
            }
            answered.push(read_answer(&mut ws, ANSWER_FRAMES).await);
        }
        assert_eq!(answered, [ANSWER_FRAMES; TURNS], "each turn answered in full");
        hang_up_and_await_completion(&mut ws, &handle, "CApython").await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.count("voice_turn_latency_seconds", &[]), TURNS as u64);
    let out = exposition.sum("voice_call_frames_total", &[("direction", "out")]);
    assert_eq!(out, (TURNS * ANSWER_FRAMES) as f64);
    let frames_in = 200 + 1 + TURNS * lines.len();
    let inbound = exposition.sum("voice_call_frames_total", &[("direction", "in")]);
    assert_eq!(inbound, frames_in as f64);
    let invalid = [("kind", "invalid_payload")];
    assert_eq!(exposition.sum("voice_call_protocol_errors_total", &invalid), 1.0);
}

#[test]
fn media_turns_run_through_the_provider_pipeline() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = start_demo(&[], |_| None, &handle).await;
        let mut ws = start_call(addr, "CApipeline").await;
        // One second of speech, then silence until the agent's first audio (at most 20 s).
        let mut n = 2;
        let mut answered = false;
        while !answered && n < 1_000 {
            ws.send(Message::text(media_frame(n, n >= 52))).await.expect("media");
            n += 1;
            answered = matches!(
                tokio::time::timeout(Duration::from_millis(20), ws.next()).await,
                Ok(Some(Ok(Message::Text(_))))
            );
        }
        assert!(answered, "the agent answered");
        hang_up_and_await_completion(&mut ws, &handle, "CApipeline").await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.count("voice_turn_latency_seconds", &[]), 1);
    for kind in ["stt", "llm", "tts"] {
        let ok =
            exposition.sum("voice_provider_requests_total", &[("kind", kind), ("outcome", "ok")]);
        assert!(ok >= 1.0, "{kind} served the turn\n{}", exposition.text);
    }
}

#[test]
fn plain_http_requests_to_unknown_paths_and_to_the_media_path_are_not_calls() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = start_demo(&[], |_| None, &handle).await;
        let client = reqwest::Client::new();
        let paths = (0..1_000).map(|n| {
            if n % 2 == 0 { format!("/wp-login-{n}.php") } else { media::MEDIA_PATH.to_owned() }
        });
        let statuses: Vec<u16> = futures_util::stream::iter(paths)
            .map(|path| {
                let request = client.get(format!("http://{addr}{path}"));
                async move { request.send().await.expect("get").status().as_u16() }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        assert_eq!(statuses.iter().filter(|&&s| s == 404).count(), 500, "unknown paths");
        assert_eq!(statuses.iter().filter(|&&s| s == 400).count(), 500, "GET /media");
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[]), 0.0);
    assert_eq!(exposition.count("voice_call_duration_seconds", &[]), 0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    let requests = exposition.count("http_server_request_duration_seconds", &[]);
    assert_eq!(requests, 1_000, "the HTTP layer saw every request");
}

/// Places a call at `addr`, speaks one turn, and leaves while the agent is still writing
/// its answer (far larger than loopback's socket buffers, so the agent waits on a full
/// socket): with `stop` sent first when `says_stop`, then the connection reset, the
/// agent's audio unread. Returns once the service counted the call.
async fn leave_under_the_answer(addr: SocketAddr, handle: &MetricsHandle, says_stop: bool) {
    let mut ws = start_call(addr, "CAleaves").await;
    // 400 ms of speech, then the 400 ms of quiet that end the turn.
    for n in 2..50 {
        ws.send(Message::text(media_frame(n, n >= 22))).await.expect("media");
    }
    // The agent is blocked on the full socket once its outbound frame count stops moving.
    let frames_out =
        || Exposition::render(handle).sum("voice_call_frames_total", &[("direction", "out")]);
    let mut last = 0.0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = frames_out();
        if now > 0.0 && now == last {
            break;
        }
        last = now;
    }
    assert!(last > 0.0 && last < 200_000.0, "the agent is stuck in its answer: {last}");
    if says_stop {
        let stop = r#"{"event":"stop","sequenceNumber":"50","streamSid":"MZCAleaves","stop":{"accountSid":"ACtest","callSid":"CAleaves"}}"#;
        ws.send(Message::text(stop)).await.expect("stop");
    }
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() else { unreachable!() };
    tcp.set_zero_linger().expect("linger");
    drop(ws);
    let ended = eventually(Duration::from_secs(20), || {
        Exposition::render(handle).sum("voice_calls_total", &[]) == 1.0
    });
    assert!(ended.await, "the call ended");
}

fn answer_that_outlasts_the_caller() -> Arc<FixedDelayResponder> {
    Arc::new(FixedDelayResponder { delay: Duration::ZERO, frames: 200_000 })
}

#[test]
fn a_caller_that_sent_stop_is_completed_though_the_agent_was_still_writing_when_it_reset() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = serve(media::router(answer_that_outlasts_the_caller()).expect("router")).await;
        leave_under_the_answer(addr, &handle, true).await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 0.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    let completed = [("status", "completed")];
    assert_eq!(exposition.sum(voice_agent::business::CONVERSATIONS, &completed), 1.0);
}

#[test]
fn a_caller_reset_without_stop_while_the_agent_was_writing_is_dropped() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = serve(media::router(answer_that_outlasts_the_caller()).expect("router")).await;
        leave_under_the_answer(addr, &handle, false).await;
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 0.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    let abandoned = [("status", "abandoned")];
    assert_eq!(exposition.sum(voice_agent::business::CONVERSATIONS, &abandoned), 1.0);
}
