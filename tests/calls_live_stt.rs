//! A media-stream call to the demo whose live STT primary drops the connection
//! mid-utterance: the fallback hears the utterance again from the replay window, the
//! turn is still answered, and the switch is counted with its reason.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use voice_agent::media;
use voxscope_tests::{Exposition, eventually, start_demo, with_local_prometheus};

/// A Twilio `media` message: 20 ms of speech (bytes 1, 2, 3) or of silence (0xFF).
fn media_frame(n: u64, silent: bool) -> String {
    // 0xFF is mu-law silence; canonical base64 of 160 of them ends in `/w==`.
    let payload = if silent { "/".repeat(212) + "/w" } else { "AQID".repeat(53) + "AQ" };
    format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}=="}},"streamSid":"MZlive"}}"#,
        n * 20
    )
}

#[test]
fn a_live_stt_primary_dropping_mid_utterance_falls_back_and_the_turn_is_answered() {
    let handle = with_local_prometheus(|handle| async move {
        // deepgram drops the socket once it heard 0.6 s of the caller's 1 s of speech,
        // after its first interim result.
        let addr = start_demo(&["--faults", "stt.primary=drop:0.6s"], |_| None, &handle).await;
        let url = format!("ws://{addr}{}?callSid=CAlive", media::MEDIA_PATH);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("upgrade");
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZlive","start":{"callSid":"CAlive","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
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
        let stop = r#"{"event":"stop","sequenceNumber":"9999","stop":{"callSid":"CAlive"}}"#;
        ws.send(Message::text(stop)).await.expect("stop");
        let _ = ws.close(None).await;
        let ended = eventually(Duration::from_secs(10), || {
            Exposition::render(&handle).sum("voice_calls_total", &[("outcome", "completed")]) == 1.0
        });
        assert!(ended.await, "the call completed");
    });
    let exposition = Exposition::render(&handle);
    let stt = |provider, outcome| [("kind", "stt"), ("provider", provider), ("outcome", outcome)];
    let requests = "voice_provider_requests_total";
    assert_eq!(exposition.sum(requests, &stt("deepgram", "error")), 1.0, "{}", exposition.text);
    assert_eq!(exposition.sum(requests, &stt("google", "ok")), 1.0);
    let switch =
        [("kind", "stt"), ("from", "deepgram"), ("to", "google"), ("reason", "unavailable")];
    assert_eq!(exposition.sum("voice_provider_fallbacks_total", &switch), 1.0);
    // The fallback heard the whole second again: 1 s of audio transcribed, and TTFB from
    // the end of speech to its final transcript.
    let google = [("kind", "stt"), ("provider", "google")];
    let heard = exposition.sum("voice_stt_audio_seconds_total", &[("provider", "google")]);
    assert_eq!(heard, 1.0);
    assert_eq!(exposition.count("voice_provider_ttfb_seconds", &google), 1);
    assert_eq!(exposition.count("voice_provider_ttfb_seconds", &[("provider", "deepgram")]), 0);
    assert_eq!(exposition.count("voice_turn_latency_seconds", &[]), 1);
    for kind in ["llm", "tts"] {
        let ok = exposition.sum(requests, &[("kind", kind), ("outcome", "ok")]);
        assert_eq!(ok, 1.0, "{kind} served the turn");
    }
}
