//! Twilio, Telnyx and Plivo media streams: JSON text frames with `event` `start`, `media`,
//! `stop` and a few controls. A `media` frame takes the [`borrowed`](super::borrowed) fast
//! path; anything else the full serde_json parse into a `Value`.

use serde_json::Value;

use super::reading::{Payload, Reading};
use super::{
    Frame, NOMINAL_TIMING, Protocol, ProtocolErrorKind, borrowed, codec_byte_rate, plivo, telnyx,
    twilio,
};

/// A Twilio, Telnyx or Plivo text frame from the caller.
#[cfg(test)]
pub(crate) fn media_stream(text: &str, protocol: Protocol) -> Frame {
    read(text, protocol).frame
}

/// A Twilio, Telnyx or Plivo text frame from the caller, with its payload's place (fast
/// path) or its `Value` (full parse).
pub(crate) fn read(text: &str, protocol: Protocol) -> Reading {
    if let Some(reading) = borrowed::media_read(text) {
        return reading;
    }
    match serde_json::from_str(text) {
        Ok(value) => Reading {
            frame: parse_value(&value, protocol),
            payload: Payload::None,
            json: Some(value),
        },
        Err(_) => Reading::frame(Frame::Error(ProtocolErrorKind::InvalidJson)),
    }
}

/// A Twilio or Telnyx text frame to the caller: only the audio length matters.
pub(crate) fn media_stream_out(text: &str, protocol: Protocol) -> Frame {
    if let Some(frame) = borrowed::outbound_media(text) {
        return frame;
    }
    parse(text, protocol)
}

/// The full parse into a `serde_json::Value`: every frame the fast path leaves.
pub(super) fn parse(text: &str, protocol: Protocol) -> Frame {
    match serde_json::from_str(text) {
        Ok(value) => parse_value(&value, protocol),
        Err(_) => Frame::Error(ProtocolErrorKind::InvalidJson),
    }
}

/// A frame already parsed into a `Value`.
pub(super) fn parse_value(value: &Value, protocol: Protocol) -> Frame {
    let Some(event) = value.get("event").and_then(Value::as_str) else {
        return Frame::Error(ProtocolErrorKind::MissingField);
    };
    match (event, protocol) {
        ("media", _) => parse_media(value),
        ("start", Protocol::Twilio) => Frame::Start(Box::new(twilio::start(value))),
        ("start", Protocol::Plivo) => Frame::Start(Box::new(plivo::start(value))),
        ("start", _) => Frame::Start(Box::new(telnyx::start(value))),
        ("stop", _) => Frame::Stop,
        ("connected" | "mark" | "dtmf" | "clear", _) => Frame::Control,
        ("error", Protocol::Telnyx) => Frame::Error(ProtocolErrorKind::RemoteError),
        (event, Protocol::Plivo) if plivo::is_control(event) => Frame::Control,
        _ => Frame::Error(ProtocolErrorKind::UnknownEvent),
    }
}

fn parse_media(value: &Value) -> Frame {
    let media = value.get("media");
    let Some(payload) = media.and_then(|m| m.get("payload")).and_then(Value::as_str) else {
        return Frame::Error(ProtocolErrorKind::MissingField);
    };
    let timestamp_ms = media.and_then(|m| m.get("timestamp")).and_then(|ts| match ts {
        Value::String(s) => s.parse().ok(),
        other => other.as_u64(),
    });
    let track = media.and_then(|m| m.get("track")).and_then(Value::as_str);
    media_frame(payload, timestamp_ms, track != Some("outbound"))
}

/// Audio length from the base64 text alone; the payload is never decoded.
pub(super) fn media_frame(payload: &str, timestamp_ms: Option<u64>, caller_track: bool) -> Frame {
    let len = payload.len();
    if !len.is_multiple_of(4) {
        return Frame::Error(ProtocolErrorKind::InvalidPayload);
    }
    let padding = payload.as_bytes().iter().rev().take(2).take_while(|&&b| b == b'=').count();
    Frame::Media { bytes: len / 4 * 3 - padding, timestamp_ms, caller_track }
}

/// The byte rate a media format announces: `None` without an encoding,
/// [`NOMINAL_TIMING`] for an encoding without a fixed byte rate (Opus, AMR-WB) or an
/// unusable rate.
pub(super) fn format_byte_rate(format: &Value, encoding: &str, rate: &str) -> Option<u32> {
    let encoding = format.get(encoding)?.as_str()?;
    let rate = format.get(rate).and_then(Value::as_u64).and_then(|r| u32::try_from(r).ok());
    let channels = format.get("channels").and_then(Value::as_u64).unwrap_or(1);
    let channels = u32::try_from(channels).unwrap_or(1);
    Some(rate.and_then(|rate| codec_byte_rate(encoding, rate, channels)).unwrap_or(NOMINAL_TIMING))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 160 bytes of mu-law, 20 ms at 8 kHz: 216 base64 characters, two of them padding.
    const PAYLOAD_20MS: &str = concat!(
        "////////////////////////////////////////////////////////////////////////////////",
        "////////////////////////////////////////////////////////////////////////////////",
        "//////////////////////////////////////////////////////=="
    );

    fn twilio_media(ts: &str) -> String {
        format!(
            r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"2","timestamp":"{ts}","payload":"{PAYLOAD_20MS}"}},"streamSid":"MZ1"}}"#
        )
    }

    #[test]
    fn twenty_ms_of_mulaw_is_160_bytes_from_216_base64_characters() {
        assert_eq!(PAYLOAD_20MS.len(), 216);
        let frame = media_stream(&twilio_media("40"), Protocol::Twilio);
        assert_eq!(frame, Frame::Media { bytes: 160, timestamp_ms: Some(40), caller_track: true });
        let truncated = twilio_media("40").replace("==\"}", "=\"}");
        assert_eq!(
            media_stream(&truncated, Protocol::Twilio),
            Frame::Error(ProtocolErrorKind::InvalidPayload)
        );
    }

    #[test]
    fn pretty_printed_frames_read_the_same_as_compact_ones() {
        let compact = twilio_media("60");
        let value: Value = serde_json::from_str(&compact).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(
            media_stream(&pretty, Protocol::Twilio),
            media_stream(&compact, Protocol::Twilio)
        );
    }

    #[test]
    fn field_order_does_not_matter_and_outbound_reads_only_the_payload() {
        let reordered = format!(
            r#"{{"media":{{"payload":"{PAYLOAD_20MS}","timestamp":"60","track":"outbound"}},"event":"media"}}"#
        );
        assert_eq!(
            media_stream(&reordered, Protocol::Twilio),
            Frame::Media { bytes: 160, timestamp_ms: Some(60), caller_track: false }
        );
        let out = format!(
            r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{PAYLOAD_20MS}"}}}}"#
        );
        assert_eq!(
            media_stream_out(&out, Protocol::Twilio),
            Frame::Media { bytes: 160, timestamp_ms: None, caller_track: false }
        );
        let clear = r#"{"event":"clear","streamSid":"MZ1"}"#;
        assert_eq!(media_stream_out(clear, Protocol::Twilio), Frame::Control);
    }

    #[test]
    fn escaped_or_numeric_fields_fall_back_to_the_full_parse() {
        let numeric = r#"{"event":"media","media":{"timestamp":80,"payload":"AAAA"}}"#;
        assert_eq!(
            media_stream(numeric, Protocol::Telnyx),
            Frame::Media { bytes: 3, timestamp_ms: Some(80), caller_track: true }
        );
        let escaped = r#"{"event":"med\u0069a","media":{"payload":"AAA="}}"#;
        assert_eq!(
            media_stream(escaped, Protocol::Twilio),
            Frame::Media { bytes: 2, timestamp_ms: None, caller_track: true }
        );
    }

    #[test]
    fn garbage_is_classified_not_fatal() {
        let kind = |text: &str| match media_stream(text, Protocol::Twilio) {
            Frame::Error(kind) => Some(kind),
            _ => None,
        };
        assert_eq!(kind("not json"), Some(ProtocolErrorKind::InvalidJson));
        assert_eq!(
            kind(r#"{"event":"media","media":{"payload":"AAAA""#),
            Some(ProtocolErrorKind::InvalidJson)
        );
        assert_eq!(kind(r#"{"sequenceNumber":"1"}"#), Some(ProtocolErrorKind::MissingField));
        assert_eq!(kind(r#"{"event":"media","media":{}}"#), Some(ProtocolErrorKind::MissingField));
        assert_eq!(kind(r#"{"event":"dance"}"#), Some(ProtocolErrorKind::UnknownEvent));
        assert_eq!(kind(r#"{"event":"mark","mark":{"name":"a"}}"#), None);
    }

    #[test]
    fn start_messages_reveal_ids_and_format() {
        let twilio = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ9","start":{"accountSid":"AC1","callSid":"CA7","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
        let Frame::Start(info) = media_stream(twilio, Protocol::Twilio) else { panic!() };
        assert_eq!(info.call_sid.as_deref(), Some("CA7"));
        assert_eq!(info.stream_sid.as_deref(), Some("MZ9"));
        assert_eq!(info.byte_rate, Some(8000));

        let telnyx = r#"{"event":"start","sequence_number":"1","stream_id":"s1","start":{"call_control_id":"v3:x","from":"+15550001","to":"+15550002","media_format":{"encoding":"L16","sample_rate":16000,"channels":1}}}"#;
        let Frame::Start(info) = media_stream(telnyx, Protocol::Telnyx) else { panic!() };
        assert_eq!(info.call_sid.as_deref(), Some("v3:x"));
        assert_eq!(info.from.as_deref(), Some("+15550001"));
        assert_eq!(info.byte_rate, Some(32_000));
    }

    #[test]
    fn codecs_without_a_fixed_byte_rate_fall_back_to_nominal_frames() {
        for encoding in ["OPUS", "AMR-WB"] {
            let start = format!(
                r#"{{"event":"start","stream_id":"s1","start":{{"media_format":{{"encoding":"{encoding}","sample_rate":16000,"channels":1}}}}}}"#
            );
            let Frame::Start(info) = media_stream(&start, Protocol::Telnyx) else { panic!() };
            assert_eq!(info.byte_rate, Some(NOMINAL_TIMING), "{encoding}");
        }
        let no_format = r#"{"event":"start","stream_id":"s1","start":{}}"#;
        let Frame::Start(info) = media_stream(no_format, Protocol::Telnyx) else { panic!() };
        assert_eq!(info.byte_rate, None, "the protocol's default stays");
    }

    /// Every prefix and every one-character deletion of each frame.
    fn mutations(frame: &str) -> Vec<String> {
        let cuts = frame.char_indices().map(|(at, _)| at);
        let mut out: Vec<String> = cuts.clone().map(|at| frame[..at].to_owned()).collect();
        out.extend(frame.char_indices().map(|(at, c)| {
            let mut deleted = frame.to_owned();
            deleted.replace_range(at..at + c.len_utf8(), "");
            deleted
        }));
        out
    }

    #[test]
    fn the_fast_path_and_the_full_parse_classify_every_mutation_alike() {
        let value: Value = serde_json::from_str(&twilio_media("60")).unwrap();
        let frames = [
            twilio_media("40"),
            serde_json::to_string_pretty(&value).unwrap(),
            format!(r#"{{"media":{{"payload":"{PAYLOAD_20MS}","timestamp":60,"track":"outbound"}},"event":"media"}}"#),
            r#"{"event":"med\u0069a","media":{"payload":"AA\u0041=","timestamp":"-3"}}"#.to_owned(),
            r#"{"event":"media","media":[1,{"payload":"AAAA"}],"media":{"payload":"AAAA","track":7}}"#.to_owned(),
            r#"["media",{"payload":"AAAA"}]"#.to_owned(),
        ];
        for frame in &frames {
            for text in mutations(frame) {
                for protocol in [Protocol::Twilio, Protocol::Telnyx] {
                    assert_eq!(media_stream(&text, protocol), parse(&text, protocol), "{text}");
                    assert_eq!(
                        media_stream_out(&text, protocol).is_media_like(),
                        parse(&text, protocol).is_media_like(),
                        "{text}"
                    );
                }
            }
        }
        let unclosed = r#"{"event":"media","media":{"payload":"AAAA"}"#;
        assert_eq!(
            media_stream(unclosed, Protocol::Twilio),
            Frame::Error(ProtocolErrorKind::InvalidJson)
        );
    }

    impl Frame {
        /// Media (and its length) or the error kind: what an outbound frame counts.
        fn is_media_like(&self) -> Option<Result<usize, ProtocolErrorKind>> {
            match self {
                Frame::Media { bytes, .. } => Some(Ok(*bytes)),
                Frame::Error(kind) => Some(Err(*kind)),
                _ => None,
            }
        }
    }
}
