//! The demo's `/media` endpoint, called as Twilio would: the agent ends the caller's
//! turn after 200 ms of silence and answers after its responder's delay.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use voice_agent::media::{self, FixedDelayResponder};
use voxscope::MetricsHandle;
use voxscope_tests::{Exposition, eventually, serve, start_demo, with_local_prometheus};

fn media_frame(n: u64, silent: bool) -> String {
    let payload = if silent { "/".repeat(214) } else { "AQID".repeat(53) + "AQ" };
    format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}=="}},"streamSid":"MZdemo"}}"#,
        n * 20
    )
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
        let url = format!("ws://{addr}{}?callSid=CAdemo", media::MEDIA_PATH);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZdemo","start":{"callSid":"CAdemo","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
        ws.send(Message::text(start)).await.expect("start");
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

#[test]
fn media_turns_run_through_the_provider_pipeline() {
    let handle = with_local_prometheus(|handle| async move {
        let addr = start_demo(&[], |_| None, &handle).await;
        let url = format!("ws://{addr}{}?callSid=CApipeline", media::MEDIA_PATH);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZdemo","start":{"callSid":"CApipeline","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
        ws.send(Message::text(start)).await.expect("start");
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
