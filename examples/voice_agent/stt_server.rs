//! A loopback WebSocket server that speaks like a streaming STT provider, after
//! Deepgram's live-streaming API: the client opens `/v1/listen?provider=NAME`, sends
//! binary μ-law 8 kHz audio and `{"type":"CloseStream"}` at the end; the server answers
//! `Results` messages, interim (`"is_final": false`) every half second of speech heard
//! (frames loud enough for [`is_speech`])
//! and one final (`"is_final": true, "speech_final": true`) after `CloseStream`, then a
//! `Metadata` message, and closes.
//!
//! Faults of the provider NAME (see [`crate::providers`]): `outage` and `error:CLASS`
//! refuse the handshake with the class's HTTP status, `stall:D` holds back the first
//! message, `latency:D` delays the final, and `drop:D` closes the socket with 1011 once
//! D of audio was heard, mid-utterance.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;
use voxscope::provider::ErrorClass;

use crate::endpointing::is_speech;
use crate::faults::Fault;
use crate::providers::Sim;

/// The path a client opens.
pub const LISTEN_PATH: &str = "/v1/listen";
/// μ-law 8 kHz.
const BYTES_PER_SECOND: usize = 8_000;
/// The server "hears" these words, about 2.5 a second of caller speech.
const SCRIPT: &[&str] = &[
    "I",
    "need",
    "to",
    "move",
    "my",
    "appointment",
    "to",
    "next",
    "Tuesday",
    "afternoon",
    "if",
    "that",
    "works",
    "for",
    "the",
    "doctor",
    "thank",
    "you",
];

/// The words a caller says in `audio_bytes` of μ-law speech.
pub fn heard(audio_bytes: usize) -> String {
    let seconds = audio_bytes as f64 / BYTES_PER_SECOND as f64;
    let words = ((seconds * 2.5).ceil() as usize).clamp(1, SCRIPT.len());
    SCRIPT[..words].join(" ")
}

/// Serves the STT on 127.0.0.1, port chosen by the OS, as the simulated providers
/// `sims` (name, base latency and faults).
///
/// # Errors
/// When the loopback port cannot be bound.
pub(crate) async fn start(sims: Providers) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(LISTEN_PATH, any(listen)).with_state(sims);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!("the loopback STT server stopped: {error}");
        }
    });
    Ok(addr)
}

#[derive(Deserialize)]
struct Listen {
    provider: String,
}

/// The simulated providers the server speaks as, by name.
pub(crate) type Providers = Arc<[(&'static str, Arc<Sim>)]>;

async fn listen(
    ws: WebSocketUpgrade,
    Query(listen): Query<Listen>,
    State(providers): State<Providers>,
) -> Response {
    let Some((_, sim)) = providers.iter().find(|(name, _)| *name == listen.provider) else {
        return (StatusCode::BAD_REQUEST, "unknown provider\n").into_response();
    };
    let sim = Arc::clone(sim);
    match sim.refusal(&sim.faults()) {
        None => ws.on_upgrade(move |socket| transcribe(socket, sim)),
        Some(class) => match status_of(class) {
            Some(status) => status.into_response(),
            None => ws.on_upgrade(move |socket| fail(socket, class)),
        },
    }
}

/// The HTTP status a provider refuses a handshake with, for the classes a status tells.
fn status_of(class: ErrorClass) -> Option<StatusCode> {
    Some(match class {
        ErrorClass::Auth => StatusCode::UNAUTHORIZED,
        ErrorClass::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorClass::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Empty | ErrorClass::Other => return None,
    })
}

/// The failures a status does not tell: a stream closed before any result (`empty`),
/// or a message that is not the API's (`other`).
async fn fail(mut socket: WebSocket, class: ErrorClass) {
    if class == ErrorClass::Other {
        let _ = socket.send(Message::text("internal error")).await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

async fn transcribe(mut socket: WebSocket, sim: Arc<Sim>) {
    let (mut latency, mut stall, mut drop_after) = (Duration::ZERO, Duration::ZERO, None);
    for fault in sim.faults() {
        match fault {
            Fault::Latency(extra) => latency += extra,
            Fault::Stall(pause) => stall += pause,
            Fault::Drop(after) => drop_after = Some(after.as_secs_f64()),
            Fault::Outage | Fault::Error(..) => {}
        }
    }
    let mut speech = 0_usize;
    let mut sent = 0_usize;
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Binary(audio) => {
                // Frames as the agent's endpointing judges them: the quiet ones that
                // ended the turn are heard as no words.
                if is_speech(&audio) {
                    speech += audio.len();
                }
                let seconds = speech as f64 / BYTES_PER_SECOND as f64;
                if drop_after.is_some_and(|after| seconds >= after) {
                    let close =
                        CloseFrame { code: 1011, reason: "NET-0001: simulated drop".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                // An interim result every half second of speech.
                if speech / (BYTES_PER_SECOND / 2) > sent {
                    sent = speech / (BYTES_PER_SECOND / 2);
                    if !std::mem::take(&mut stall).is_zero() {
                        tokio::time::sleep(stall).await;
                    }
                    let interim = results(&heard(speech), seconds, false);
                    if socket.send(Message::text(interim)).await.is_err() {
                        return;
                    }
                }
            }
            Message::Text(text) if text.contains("CloseStream") => break,
            Message::Close(_) => return,
            _ => {}
        }
    }
    tokio::time::sleep(sim.first_byte() + latency + stall).await;
    let seconds = speech as f64 / BYTES_PER_SECOND as f64;
    let text = if speech == 0 { String::new() } else { heard(speech) };
    let metadata = serde_json::json!({
        "type": "Metadata",
        "request_id": "00000000-0000-0000-0000-000000000000",
        "duration": seconds,
        "channels": 1,
    });
    let _ = socket.send(Message::text(results(&text, seconds, true))).await;
    let _ = socket.send(Message::text(metadata.to_string())).await;
    let _ = socket.send(Message::Close(None)).await;
}

/// A `Results` message as Deepgram's live API sends it.
fn results(transcript: &str, duration: f64, is_final: bool) -> String {
    serde_json::json!({
        "type": "Results",
        "channel_index": [0, 1],
        "duration": duration,
        "start": 0.0,
        "is_final": is_final,
        "speech_final": is_final,
        "channel": {
            "alternatives": [{"transcript": transcript, "confidence": 0.98, "words": []}]
        },
        "metadata": {
            "request_id": "00000000-0000-0000-0000-000000000000",
            "model_info": {"name": "general-nova-3", "version": "loopback", "arch": "nova-3"},
            "model_uuid": "00000000-0000-0000-0000-000000000000",
        },
        "from_finalize": false,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_speech_hears_more_words() {
        assert_eq!(heard(0), "I");
        assert_eq!(heard(8_000), "I need to");
        assert_eq!(heard(8_000 * 60).split(' ').count(), SCRIPT.len());
    }
}
