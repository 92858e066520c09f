//! Plivo Audio Streams: JSON text frames like Twilio's, camelCase. From Plivo: `start`
//! (`callId`, `streamId`, `mediaFormat`), `media` (base64 `payload`), `stop`, `dtmf`,
//! and the acknowledgements `playedStream` and `clearedAudio`. From the app:
//! `playAudio` (audio with its own `contentType` and `sampleRate`), `clearAudio` and
//! `checkpoint`.

use serde_json::Value;

use super::media_stream::{format_byte_rate, media_frame};
use super::{Frame, NOMINAL_TIMING, Protocol, ProtocolErrorKind, StartInfo};

/// Ids and media format of a Plivo `start` message.
pub(super) fn start(value: &Value) -> StartInfo {
    let start = value.get("start");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let format = start.and_then(|s| s.get("mediaFormat"));
    StartInfo {
        call_sid: text(start.and_then(|s| s.get("callId"))),
        stream_sid: text(start.and_then(|s| s.get("streamId")))
            .or_else(|| text(value.get("streamId"))),
        from: None,
        to: None,
        byte_rate: format.and_then(|f| format_byte_rate(f, "encoding", "sampleRate")),
    }
}

/// A text frame to the caller. `playAudio` names its own format, which may differ from
/// the stream's (16-bit PCM out, mu-law in): its length is given in bytes of the stream's
/// format, `stream_rate` bytes a second, so that it counts for the seconds it plays.
pub(super) fn text_out(text: &str, stream_rate: u32) -> Frame {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => return Frame::Error(ProtocolErrorKind::InvalidJson),
    };
    if value.get("event").and_then(Value::as_str) != Some("playAudio") {
        return super::media_stream::parse_value(&value, Protocol::Plivo);
    }
    let media = value.get("media");
    let Some(payload) = media.and_then(|m| m.get("payload")).and_then(Value::as_str) else {
        return Frame::Error(ProtocolErrorKind::MissingField);
    };
    let Frame::Media { bytes, .. } = media_frame(payload, None, false) else {
        return Frame::Error(ProtocolErrorKind::InvalidPayload);
    };
    let frame_rate = media
        .and_then(|m| format_byte_rate(m, "contentType", "sampleRate"))
        .filter(|&rate| rate != NOMINAL_TIMING);
    let bytes = match frame_rate {
        Some(rate) if stream_rate != NOMINAL_TIMING => {
            (bytes as u64 * u64::from(stream_rate) / u64::from(rate)) as usize
        }
        _ => bytes,
    };
    Frame::Media { bytes, timestamp_ms: None, caller_track: false }
}

/// Whether a Plivo event other than start, media and stop is one Plivo defines.
pub(super) fn is_control(event: &str) -> bool {
    matches!(event, "dtmf" | "playedStream" | "clearedAudio" | "clearAudio" | "checkpoint")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Adapter;

    /// 160 bytes of mu-law silence: 20 ms at 8 kHz.
    fn mulaw_20ms() -> String {
        "/".repeat(212) + "/w=="
    }

    /// 640 bytes of 16-bit PCM at 16 kHz: also 20 ms.
    fn l16_16k_20ms() -> String {
        "A".repeat(852) + "AA=="
    }

    const START: &str = r#"{"sequenceNumber":0,"event":"start","start":{"callId":"6f7a3b1e-0a1b-4c2d-9e8f-123456789abc","streamId":"b3c4d5e6-f7a8-4b9c-8d0e-abcdef012345","accountId":"MAXXXXXXXXXXXXXXXXXX","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"{}"}"#;

    fn media(seq: u64) -> String {
        format!(
            r#"{{"sequenceNumber":{seq},"streamId":"b3c4d5e6-f7a8-4b9c-8d0e-abcdef012345","event":"media","media":{{"track":"inbound","timestamp":"{}","chunk":{seq},"payload":"{}"}},"extra_headers":"{{}}"}}"#,
            1_700_000_000_000 + seq * 20,
            mulaw_20ms()
        )
    }

    #[test]
    fn plivo_start_media_and_stop_from_the_caller() {
        let adapter = Adapter::new(Protocol::Plivo);
        let Frame::Start(info) = adapter.text_in(START) else { panic!("start") };
        assert_eq!(info.call_sid.as_deref(), Some("6f7a3b1e-0a1b-4c2d-9e8f-123456789abc"));
        assert_eq!(info.stream_sid.as_deref(), Some("b3c4d5e6-f7a8-4b9c-8d0e-abcdef012345"));
        assert_eq!(info.byte_rate, Some(8_000));
        assert_eq!(
            adapter.text_in(&media(3)),
            Frame::Media { bytes: 160, timestamp_ms: Some(1_700_000_000_060), caller_track: true }
        );
        let stop = r#"{"sequenceNumber":9,"streamId":"b3c4d5e6","event":"stop"}"#;
        assert_eq!(adapter.text_in(stop), Frame::Stop);
        let dtmf = r#"{"event":"dtmf","streamId":"b3c4d5e6","dtmf":{"digit":"5"}}"#;
        assert_eq!(adapter.text_in(dtmf), Frame::Control);
        let played = r#"{"event":"playedStream","streamId":"b3c4d5e6","name":"turn-1"}"#;
        assert_eq!(adapter.text_in(played), Frame::Control);
        let cleared = r#"{"event":"clearedAudio","streamId":"b3c4d5e6","sequenceNumber":12}"#;
        assert_eq!(adapter.text_in(cleared), Frame::Control);
        let unknown = r#"{"event":"transcription","streamId":"b3c4d5e6"}"#;
        assert_eq!(adapter.text_in(unknown), Frame::Error(ProtocolErrorKind::UnknownEvent));
        assert_eq!(
            adapter.binary(160, crate::handles::Direction::In),
            Frame::Error(ProtocolErrorKind::UnexpectedFrame)
        );
    }

    #[test]
    fn play_audio_counts_the_seconds_it_plays_in_the_streams_format() {
        let adapter = Adapter::new(Protocol::Plivo);
        let mulaw = format!(
            r#"{{"event":"playAudio","media":{{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"{}"}}}}"#,
            mulaw_20ms()
        );
        let twenty_ms = Frame::Media { bytes: 160, timestamp_ms: None, caller_track: false };
        assert_eq!(adapter.text_out(&mulaw), twenty_ms);
        let l16 = format!(
            r#"{{"event":"playAudio","media":{{"contentType":"audio/x-l16","sampleRate":16000,"payload":"{}"}}}}"#,
            l16_16k_20ms()
        );
        assert_eq!(adapter.text_out(&l16), twenty_ms, "640 bytes of L16 at 16 kHz are 20 ms");
        let clear = r#"{"event":"clearAudio","streamId":"b3c4d5e6"}"#;
        assert_eq!(adapter.text_out(clear), Frame::Control);
        let checkpoint = r#"{"event":"checkpoint","streamId":"b3c4d5e6","name":"turn-1"}"#;
        assert_eq!(adapter.text_out(checkpoint), Frame::Control);
        let no_payload = r#"{"event":"playAudio","media":{"contentType":"audio/x-mulaw"}}"#;
        assert_eq!(adapter.text_out(no_payload), Frame::Error(ProtocolErrorKind::MissingField));
        let bad = r#"{"event":"playAudio","media":{"payload":"abc"}}"#;
        assert_eq!(adapter.text_out(bad), Frame::Error(ProtocolErrorKind::InvalidPayload));
        assert_eq!(adapter.text_out("{"), Frame::Error(ProtocolErrorKind::InvalidJson));
    }
}
