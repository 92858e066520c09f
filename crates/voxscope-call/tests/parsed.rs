//! `TrackedSocket::parsed`: each message from the caller with what the socket read in
//! it, on frames as the vendors document them (written by hand, or built with
//! serde_json, audio encoded by the `base64` crate), and counted exactly as the tracked
//! socket counts them.

use axum::extract::ws::{CloseFrame, Message};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{FutureExt, StreamExt};
use proptest::prelude::*;
use serde_json::{Value, json};
use voxscope_call::{CallLayer, MediaFrame, ParsedMessage, Protocol, ProtocolErrorKind};

mod support;

use support::{Snapshot, drain, peer, recorded, values};

/// Every message `frames` yields through a parsed tracked socket of a `protocol` call.
fn parsed(protocol: Protocol, frames: Vec<Message>) -> Vec<ParsedMessage> {
    let layer = CallLayer::new(protocol).unwrap();
    let call = layer.open_call(None).unwrap();
    let mut socket = call.track(peer(frames)).parsed();
    let mut out = Vec::new();
    while let Some(Some(message)) = socket.next().now_or_never() {
        out.push(message.unwrap());
    }
    out
}

/// 20 ms of mu-law (0xFF is silence, the rest a ramp): base64 with `/` and `+` in it.
fn audio() -> Vec<u8> {
    (0..160u32).map(|i| if i < 80 { 0xFF } else { (i * 7) as u8 }).collect()
}

const STREAM_SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";
const CALL_SID: &str = "CA1f4ae2ae4a9ff4c1b3a8f8a3cb6b0f8e";

/// Twilio's `start`, as its Media Streams docs show it, with two `<Parameter>`s.
fn twilio_start() -> String {
    format!(
        r#"{{"event": "start", "sequenceNumber": "1", "start": {{"accountSid": "AC2e2a3bc94b1c9f0f12c8a4b5a1c2d3e4", "streamSid": "{STREAM_SID}", "callSid": "{CALL_SID}", "tracks": ["inbound"], "mediaFormat": {{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}, "customParameters": {{"tier": "pro", "FirstName": "Jane"}}}}, "streamSid": "{STREAM_SID}"}}"#
    )
}

/// Twilio's `media`, as its docs show it.
fn twilio_media(n: u64, payload: &str) -> String {
    format!(
        r#"{{"event": "media", "sequenceNumber": "{}", "media": {{"track": "inbound", "chunk": "{n}", "timestamp": "{}", "payload": "{payload}"}}, "streamSid": "{STREAM_SID}"}}"#,
        n + 2,
        n * 20
    )
}

#[test]
fn twilio_documented_messages_come_with_what_the_socket_read() {
    let payload = STANDARD.encode(audio());
    assert!(payload.contains('/') && payload.contains('+'));
    let frames = vec![
        Message::text(r#"{"event": "connected", "protocol": "Call", "version": "1.0.0"}"#),
        Message::text(twilio_start()),
        Message::text(twilio_media(1, &payload)),
        Message::text(format!(
            r#"{{"event": "mark", "sequenceNumber": "4", "streamSid": "{STREAM_SID}", "mark": {{"name": "turn 1"}}}}"#
        )),
        Message::text(format!(
            r#"{{"event": "dtmf", "streamSid": "{STREAM_SID}", "sequenceNumber": "5", "dtmf": {{"track": "inbound_track", "digit": "1"}}}}"#
        )),
        Message::Ping(vec![1, 2].into()),
        Message::text(format!(
            r#"{{"event": "stop", "sequenceNumber": "6", "stop": {{"accountSid": "AC2e2a3bc94b1c9f0f12c8a4b5a1c2d3e4", "callSid": "{CALL_SID}"}}, "streamSid": "{STREAM_SID}"}}"#
        )),
        Message::Close(Some(CloseFrame { code: 1000, reason: "".into() })),
    ];
    let sent = frames.clone();
    let messages = parsed(Protocol::Twilio, frames);
    assert_eq!(messages.len(), 8);
    for (message, sent) in messages.iter().zip(&sent) {
        assert_eq!(message.message(), sent, "the message passes through unchanged");
    }
    let frames: Vec<_> = messages.iter().map(ParsedMessage::frame).collect();
    assert_eq!(frames[0], Some(&MediaFrame::Control));
    assert_eq!(
        frames[1],
        Some(&MediaFrame::Start {
            call_id: Some(CALL_SID.to_owned()),
            stream_id: Some(STREAM_SID.to_owned()),
            byte_rate: Some(8_000),
        })
    );
    assert_eq!(
        frames[2],
        Some(&MediaFrame::Media { bytes: 160, timestamp_ms: Some(20), caller_track: true })
    );
    assert_eq!(frames[3..5], [Some(&MediaFrame::Control), Some(&MediaFrame::Control)]);
    assert_eq!(frames[5], None, "a ping is not a media-stream frame");
    assert_eq!(frames[6], Some(&MediaFrame::Stop));
    assert_eq!(frames[7], None);

    // The media frame's payload, as sent; it decodes to the audio.
    assert_eq!(messages[2].payload(), Some(payload.as_str()));
    assert_eq!(STANDARD.decode(messages[2].payload().unwrap()).unwrap(), audio());
    assert_eq!(messages[2].json(), None, "a media frame is read in place");
    // The start message's JSON, with the stream's parameters.
    let start = messages[1].json().expect("the start message as JSON");
    assert_eq!(start, &serde_json::from_str::<Value>(&twilio_start()).unwrap());
    assert_eq!(start.pointer("/start/customParameters/tier"), Some(&json!("pro")));
    for (i, message) in messages.iter().enumerate().filter(|(i, _)| *i != 2) {
        assert_eq!(message.payload(), None, "message {i} is not audio");
    }
    assert_eq!(messages[6].json().and_then(|j| j.pointer("/stop/callSid")), Some(&json!(CALL_SID)));
    assert_eq!(messages[5].json(), None);
}

#[test]
fn an_escaped_payload_comes_unescaped_and_counts_the_same() {
    // PHP's json_encode writes `/` as `\/`.
    let payload = STANDARD.encode(audio());
    let escaped = twilio_media(1, &payload.replace('/', "\\/"));
    let mut messages = Vec::new();
    let snapshot = recorded(|| {
        messages = parsed(Protocol::Twilio, vec![Message::text(escaped.clone())]);
    });
    assert_eq!(messages[0].payload(), Some(payload.as_str()));
    assert_eq!(
        messages[0].frame(),
        Some(&MediaFrame::Media { bytes: 160, timestamp_ms: Some(20), caller_track: true })
    );
    assert_eq!(values(&snapshot, "voice_call_frames_total", &[("direction", "in")]), [1.0]);

    // A payload whose length cannot be audio is still given, and counted as an error.
    let cut = twilio_media(2, &payload[..payload.len() - 1]);
    let messages = parsed(Protocol::Twilio, vec![Message::text(cut)]);
    assert_eq!(messages[0].payload(), Some(&payload[..payload.len() - 1]));
    assert_eq!(messages[0].frame(), Some(&MediaFrame::Error(ProtocolErrorKind::InvalidPayload)));
}

#[test]
fn other_protocols_give_what_their_frames_hold() {
    // Telnyx: numeric timestamps, snake_case ids.
    let payload = STANDARD.encode([0xD5u8; 160]);
    let telnyx = json!({"event": "media", "sequence_number": "4", "stream_id": "32de0dea",
                        "media": {"track": "inbound", "chunk": "2", "timestamp": 40, "payload": payload}});
    let messages = parsed(Protocol::Telnyx, vec![Message::text(telnyx.to_string())]);
    assert_eq!(messages[0].payload(), Some(payload.as_str()));
    assert_eq!(
        messages[0].frame(),
        Some(&MediaFrame::Media { bytes: 160, timestamp_ms: Some(40), caller_track: true })
    );

    // Vonage: a JSON header, then binary audio, which has no payload to give.
    let header = r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}"#;
    let messages = parsed(
        Protocol::Vonage,
        vec![Message::text(header), Message::binary(vec![0u8; 640]), Message::text("not json")],
    );
    assert_eq!(messages[0].json(), Some(&serde_json::from_str::<Value>(header).unwrap()));
    assert_eq!(messages[1].frame(), Some(&MediaFrame::media(640)));
    assert_eq!((messages[1].payload(), messages[1].json()), (None, None));
    assert_eq!(messages[2].frame(), Some(&MediaFrame::Error(ProtocolErrorKind::InvalidJson)));
    assert_eq!((messages[2].payload(), messages[2].json()), (None, None));

    // Binary on a JSON protocol: an error, nothing to give.
    let messages = parsed(Protocol::Twilio, vec![Message::binary(vec![0xFF; 160])]);
    assert_eq!(messages[0].frame(), Some(&MediaFrame::Error(ProtocolErrorKind::UnexpectedFrame)));
    assert_eq!((messages[0].payload(), messages[0].json()), (None, None));
}

/// Base64 of audio the `base64` crate encoded, or text whose length cannot be audio.
fn payload() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|audio| STANDARD.encode(audio)),
        "[A-Za-z0-9+/]{1,23}",
    ]
}

/// Frames as Twilio, Telnyx and Plivo document them, built with serde_json.
fn vendor_frame() -> impl Strategy<Value = Value> {
    let media = (payload(), any::<u16>(), prop::bool::ANY).prop_map(|(p, n, numeric)| {
        let ts = if numeric { json!(n) } else { json!(n.to_string()) };
        json!({"event": "media", "sequenceNumber": n.to_string(), "streamSid": STREAM_SID,
               "media": {"track": "inbound", "chunk": n.to_string(), "timestamp": ts, "payload": p}})
    });
    let other = prop_oneof![
        Just(serde_json::from_str::<Value>(&twilio_start()).unwrap()),
        Just(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
        Just(json!({"event": "mark", "streamSid": STREAM_SID, "mark": {"name": "a/b"}})),
        Just(json!({"event": "stop", "streamSid": STREAM_SID, "stop": {"callSid": CALL_SID}})),
        Just(json!({"event": "media", "media": {"payload": 7}})),
        Just(json!({"event": "dance"})),
    ];
    prop_oneof![3 => media, 1 => other]
}

/// The counts of a call that read `frames` on the tracked socket, or on its parsed one.
fn counts(frames: &[Message], parsed: bool) -> Snapshot {
    recorded(|| {
        let layer = CallLayer::new(Protocol::Twilio).unwrap();
        let call = layer.open_call(None).unwrap();
        let socket = call.track(peer(frames.to_vec()));
        if parsed {
            drop(drain(socket.parsed()));
        } else {
            drop(drain(socket));
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn what_is_given_is_what_serde_json_reads_and_the_counts_do_not_change(
        frames in prop::collection::vec((vendor_frame(), prop::bool::ANY), 1..12),
    ) {
        // Some frames as PHP writes them, every `/` escaped.
        let texts: Vec<String> = frames
            .iter()
            .map(|(value, escaped)| {
                let text = value.to_string();
                if *escaped { text.replace('/', "\\/") } else { text }
            })
            .collect();
        let messages: Vec<Message> = texts.iter().map(|text| Message::text(text.as_str())).collect();
        let read = parsed(Protocol::Twilio, messages.clone());
        prop_assert_eq!(read.len(), frames.len());
        for ((value, _), message) in frames.iter().zip(&read) {
            let expected = (value["event"] == "media")
                .then(|| value.pointer("/media/payload").and_then(Value::as_str))
                .flatten();
            prop_assert_eq!(message.payload(), expected);
            if expected.is_none() {
                prop_assert_eq!(message.json(), Some(value));
            }
        }
        let (plain, parsed) = (counts(&messages, false), counts(&messages, true));
        for name in ["voice_call_frames_total", "voice_call_audio_seconds_total", "voice_call_protocol_errors_total"] {
            prop_assert_eq!(values(&plain, name, &[]), values(&parsed, name, &[]), "{}", name);
        }
        let inbound = values(&parsed, "voice_call_frames_total", &[("direction", "in")]);
        let audio = read.iter().filter(|m| matches!(m.frame(), Some(MediaFrame::Media { .. }))).count();
        prop_assert_eq!(inbound, vec![audio as f64]);
    }
}
