//! The demo's live STT client: one WebSocket per provider attempt to the loopback
//! [`stt_server`](crate::stt_server), fed from the chain's [`LiveAudio`] (so a fallback
//! first hears the replayed audio) and read as Deepgram's `Results` messages.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt, stream};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::{self, Message};
use voxscope::provider::{Classify, ErrorClass, LiveAudio};

use crate::providers::{Items, SimError, Transcript};
use crate::stt_server::LISTEN_PATH;

/// A message of the live API: results, or anything else (`Metadata`, `SpeechStarted`,
/// `UtteranceEnd`), which carries no transcript.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum Live {
    Results {
        is_final: bool,
        duration: f64,
        channel: Channel,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Channel {
    alternatives: Vec<Alternative>,
}

#[derive(Deserialize)]
struct Alternative {
    transcript: String,
}

/// Aborts the audio writer when the transcripts are dropped (the chain moved on).
struct Writer(tokio::task::JoinHandle<()>);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens a live transcription of `audio` with `provider` at `addr`.
///
/// # Errors
/// The class of a refused handshake (its HTTP status) or of a failed connection.
pub(crate) async fn transcribe(
    addr: SocketAddr,
    provider: &'static str,
    audio: LiveAudio,
) -> Result<Items<Transcript>, SimError> {
    let url =
        format!("ws://{addr}{LISTEN_PATH}?provider={provider}&encoding=mulaw&sample_rate=8000");
    let (socket, _) = tokio_tungstenite::connect_async(url).await.map_err(|error| match error {
        tungstenite::Error::Http(response) => SimError(response.status().error_class()),
        _ => SimError(ErrorClass::Unavailable),
    })?;
    let (mut to_stt, from_stt) = socket.split();
    let writer = Writer(tokio::spawn(async move {
        let mut audio = audio.stream();
        while let Some(chunk) = audio.next().await {
            if to_stt.send(Message::binary(chunk)).await.is_err() {
                return;
            }
        }
        let _ = to_stt.send(Message::text(r#"{"type":"CloseStream"}"#)).await;
    }));
    let results = stream::unfold((from_stt, writer), |(mut from_stt, writer)| async move {
        loop {
            let transcript = match from_stt.next().await? {
                Ok(Message::Text(text)) => match serde_json::from_str::<Live>(text.as_str()) {
                    Ok(Live::Results { is_final, duration, channel }) => Ok(Transcript {
                        text: channel.alternatives.into_iter().next()?.transcript,
                        is_final,
                        audio_seconds: if is_final { duration } else { 0.0 },
                    }),
                    Ok(Live::Other) => continue,
                    Err(_) => Err(SimError(ErrorClass::Other)),
                },
                // The provider's close codes: 1000 after the final result, anything else a
                // failure mid-utterance.
                Ok(Message::Close(Some(frame))) if u16::from(frame.code) != 1000 => {
                    Err(SimError(ErrorClass::Unavailable))
                }
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(_) => Err(SimError(ErrorClass::Unavailable)),
            };
            return Some((transcript, (from_stt, writer)));
        }
    });
    Ok(Box::pin(results))
}
