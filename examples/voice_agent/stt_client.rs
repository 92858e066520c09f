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
    // `Some(socket)` until the stream has ended or failed.
    let results = stream::unfold(Some((from_stt, writer)), |state| async move {
        let (mut from_stt, writer) = state?;
        loop {
            let transcript = match from_stt.next().await {
                Some(Ok(Message::Text(text))) => match read(text.as_str()) {
                    Ok(Some(transcript)) => Ok(transcript),
                    Ok(None) => continue,
                    Err(error) => Err(error),
                },
                // The provider's close codes: 1000 after the final result, anything else a
                // failure mid-utterance.
                Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) != 1000 => {
                    Err(SimError(ErrorClass::Unavailable))
                }
                Some(Ok(Message::Close(_))) => return None,
                Some(Ok(_)) => continue,
                // A connection lost without a close frame failed too.
                Some(Err(_)) | None => Err(SimError(ErrorClass::Unavailable)),
            };
            let next = transcript.is_ok().then_some((from_stt, writer));
            return Some((transcript, next));
        }
    });
    Ok(Box::pin(results))
}

/// The transcript in a live API message, if it is a `Results` one.
fn read(message: &str) -> Result<Option<Transcript>, SimError> {
    match serde_json::from_str::<Live>(message) {
        Ok(Live::Results { is_final, duration, channel }) => {
            let text = channel.alternatives.into_iter().next().map(|a| a.transcript);
            Ok(Some(Transcript {
                text: text.unwrap_or_default(),
                is_final,
                audio_seconds: if is_final { duration } else { 0.0 },
            }))
        }
        Ok(Live::Other) => Ok(None),
        Err(_) => Err(SimError(ErrorClass::Other)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use voxscope::provider::live_audio;

    use super::*;
    use crate::faults::{Fault, Faults, LiveFaults};
    use crate::providers::Sim;
    use crate::stt_server;

    /// Everything one live transcription of `speech` bytes of speech, then 400 ms of
    /// silence, returns; the provider's failure as its class.
    async fn transcribe_once(faults: Vec<Fault>, speech: usize) -> Vec<Result<String, ErrorClass>> {
        let faults = LiveFaults::new(Faults::for_provider("deepgram", &faults).expect("faults"));
        let sim = Sim::new("deepgram", faults, Duration::ZERO, Duration::ZERO, 1);
        let addr = stt_server::start(Arc::new([("deepgram", sim)])).await.expect("server");
        let (feed, audio) = live_audio(8_000, Duration::from_secs(2)).expect("audio");
        for _ in 0..speech / 160 {
            feed.send(vec![0x01; 160]);
        }
        // The quiet 400 ms that ended the turn.
        for _ in 0..20 {
            feed.send(vec![0xFF; 160]);
        }
        feed.close();
        let results = match transcribe(addr, "deepgram", audio).await {
            Ok(results) => results,
            Err(error) => return vec![Err(error.0)],
        };
        let results: Vec<_> = results.collect().await;
        let text = |t: Transcript| if t.is_final { format!("final: {}", t.text) } else { t.text };
        results.into_iter().map(|r| r.map(text).map_err(|e| e.0)).collect()
    }

    #[tokio::test]
    async fn the_server_answers_interim_then_final_results_and_its_faults_as_their_class() {
        let heard = transcribe_once(vec![], 8_000).await;
        // Audio the agent judges quiet is no speech: nothing heard, an empty final.
        assert_eq!(transcribe_once(vec![], 0).await, [Ok("final: ".to_owned())]);
        let want = ["I need", "I need to", "final: I need to"].map(|t| Ok(t.to_owned()));
        assert_eq!(heard, want);
        // Dropped after 0.6 s of speech: after the first interim result, mid-utterance.
        let dropped = transcribe_once(vec![Fault::Drop(Duration::from_millis(600))], 8_000);
        let want = [Ok("I need".to_owned()), Err(ErrorClass::Unavailable)];
        assert_eq!(dropped.await, want);
        for class in ErrorClass::ALL {
            let refused = transcribe_once(vec![Fault::Error(class, 1.0)], 8_000).await;
            let got = match refused.as_slice() {
                [] => ErrorClass::Empty,
                [Err(class)] => *class,
                other => panic!("{class}: {other:?}"),
            };
            assert_eq!(got, class);
        }
        assert_eq!(
            transcribe_once(vec![Fault::Outage], 8_000).await,
            [Err(ErrorClass::Unavailable)]
        );
    }

    #[test]
    fn reads_the_live_api_messages_as_documented() {
        // A final result with words, metadata and from_finalize, as Deepgram documents it.
        let results = r#"{"type":"Results","channel_index":[0,1],"duration":1.98,"start":5.99,
            "is_final":true,"speech_final":true,"from_finalize":false,
            "channel":{"alternatives":[{"transcript":"another big","confidence":0.99,
              "languages":["en"],"words":[{"word":"another","start":6.0,"end":6.4,
              "confidence":0.99,"language":"en","punctuated_word":"Another"}]}]},
            "metadata":{"request_id":"a1b2","model_info":{"name":"general","version":"2024",
              "arch":"nova-3"},"model_uuid":"c3d4"}}"#;
        let transcript = read(results).unwrap().unwrap();
        assert_eq!(transcript.text, "another big");
        assert!(transcript.is_final);
        assert_eq!(transcript.audio_seconds, 1.98);
        let interim = results.replace(r#""is_final":true"#, r#""is_final":false"#);
        assert_eq!(read(&interim).unwrap().unwrap().audio_seconds, 0.0);
        // Messages without a transcript are skipped, garbage is an error.
        let metadata = r#"{"type":"Metadata","transaction_key":"deprecated","request_id":"a1b2",
            "sha256":"00","created":"2024-01-01T00:00:00.000Z","duration":7.97,"channels":1}"#;
        assert!(read(metadata).unwrap().is_none());
        assert!(
            read(r#"{"type":"SpeechStarted","channel":[0,1],"timestamp":5.9}"#).unwrap().is_none()
        );
        assert!(
            read(r#"{"type":"UtteranceEnd","channel":[0,1],"last_word_end":7.9}"#)
                .unwrap()
                .is_none()
        );
        assert_eq!(read("not json").unwrap_err(), SimError(ErrorClass::Other));
    }
}
