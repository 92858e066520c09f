//! `CallLayer` for Plivo Audio Streams on a real server on loopback: a tokio-tungstenite
//! client speaks Plivo's documented frames, the agent answers with `playAudio`, and the
//! exposition counts exact frames and audio seconds.

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;
use voxscope::call::{Call, CallLayer, Protocol};
use voxscope_tests::{Exposition, eventually, serve, with_local_prometheus};

const STREAM: &str = "b3c4d5e6-f7a8-4b9c-8d0e-abcdef012345";

/// 160 bytes of mu-law silence (0xFF): 20 ms at 8 kHz.
fn mulaw_20ms() -> String {
    "/".repeat(212) + "/w=="
}

/// 640 bytes of 16-bit PCM silence at 16 kHz: 20 ms too.
fn l16_16k_20ms() -> String {
    "A".repeat(852) + "AA=="
}

fn start() -> String {
    format!(
        r#"{{"sequenceNumber":0,"event":"start","start":{{"callId":"6f7a3b1e-0a1b-4c2d-9e8f-123456789abc","streamId":"{STREAM}","accountId":"MAXXXXXXXXXXXXXXXXXX","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000}}}},"extra_headers":"{{}}"}}"#
    )
}

fn media(seq: u64) -> String {
    format!(
        r#"{{"sequenceNumber":{},"streamId":"{STREAM}","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{seq},"payload":"{}"}},"extra_headers":"{{}}"}}"#,
        seq + 1,
        1_700_000_000_000 + seq * 20,
        mulaw_20ms()
    )
}

/// Answers every inbound media frame with 20 ms of `playAudio` in 16-bit PCM at 16 kHz,
/// then a `checkpoint`; clears its audio when the caller presses a key.
async fn media_route(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |mut socket, _call| async move {
            let play = format!(
                r#"{{"event":"playAudio","media":{{"contentType":"audio/x-l16","sampleRate":16000,"payload":"{}"}}}}"#,
                l16_16k_20ms()
            );
            let checkpoint = format!(r#"{{"event":"checkpoint","streamId":"{STREAM}","name":"turn"}}"#);
            let clear = format!(r#"{{"event":"clearAudio","streamId":"{STREAM}"}}"#);
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = &message else { continue };
                let reply = if text.contains(r#""event":"media""#) {
                    &play
                } else if text.contains(r#""event":"dtmf""#) {
                    &clear
                } else {
                    continue;
                };
                if socket.send(Message::text(reply.as_str())).await.is_err() {
                    return;
                }
                if reply == &play && socket.send(Message::text(checkpoint.as_str())).await.is_err() {
                    return;
                }
            }
        })
    })
}

#[test]
fn a_plivo_call_counts_exact_frames_and_audio_seconds() {
    let handle = with_local_prometheus(|handle| async move {
        let layer = CallLayer::builder(Protocol::Plivo).max_calls(4).build().unwrap();
        let addr = serve(Router::new().route("/stream", any(media_route)).route_layer(layer)).await;
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/stream")).await.expect("upgrade");
        let send = |text: String| tungstenite::Message::text(text);
        ws.send(send(start())).await.unwrap();
        // 2 s of caller audio: 100 frames of 20 ms.
        for seq in 0..100 {
            ws.send(send(media(seq))).await.unwrap();
        }
        let dtmf = format!(r#"{{"event":"dtmf","streamId":"{STREAM}","dtmf":{{"digit":"5"}}}}"#);
        ws.send(send(dtmf)).await.unwrap();
        let played = format!(r#"{{"event":"playedStream","streamId":"{STREAM}","name":"turn"}}"#);
        ws.send(send(played)).await.unwrap();
        // The agent's 100 playAudio, 100 checkpoints and one clearAudio.
        let mut replies = 0;
        while replies < 201 {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(_))) => replies += 1,
                Some(Ok(_)) => {}
                other => panic!("socket ended early: {other:?}"),
            }
        }
        let stop = format!(r#"{{"sequenceNumber":102,"streamId":"{STREAM}","event":"stop"}}"#);
        ws.send(send(stop)).await.unwrap();
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
        let ended = eventually(Duration::from_secs(5), || {
            Exposition::render(&handle).sum("voice_calls_total", &[("transport", "plivo")]) == 1.0
        })
        .await;
        assert!(ended, "the call ended");
    });
    let exposition = Exposition::render(&handle);
    let plivo = |extra: (&'static str, &'static str)| [("transport", "plivo"), extra];
    assert_eq!(exposition.sum("voice_calls_total", &plivo(("outcome", "completed"))), 1.0);
    assert_eq!(exposition.sum("voice_calls_active", &[("transport", "plivo")]), 0.0);
    assert_eq!(exposition.sum("voice_call_frames_total", &plivo(("direction", "in"))), 100.0);
    assert_eq!(exposition.sum("voice_call_frames_total", &plivo(("direction", "out"))), 100.0);
    let audio = "voice_call_audio_seconds_total";
    assert_eq!(exposition.sum(audio, &plivo(("direction", "in"))), 2.0, "100 frames of mu-law");
    assert_eq!(
        exposition.sum(audio, &plivo(("direction", "out"))),
        2.0,
        "100 frames of L16 16 kHz"
    );
    assert_eq!(exposition.sum("voice_call_protocol_errors_total", &[("transport", "plivo")]), 0.0);
    assert_eq!(exposition.sum("voice_call_media_gaps_total", &[("transport", "plivo")]), 0.0);
    assert_eq!(exposition.count("voice_call_audio_quality", &[("transport", "plivo")]), 1);
}
