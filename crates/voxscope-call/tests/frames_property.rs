//! The borrowed fast path of a media frame and the full `serde_json::Value` parse read
//! every text frame alike: vendor-shaped Twilio, Telnyx, Plivo and Vonage frames, JSON built
//! from the keys and values a media frame uses, their truncations and mutations, and
//! random bytes.

use proptest::prelude::*;
use serde_json::{Value, json};
use voxscope_call::MediaFrame;
use voxscope_call::Protocol;
use voxscope_call::frame_paths::{fast, full, inbound, outbound};

/// Base64 text, canonical or not, and a few strings that are not base64 at all.
fn payload() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9+/]{0,24}={0,2}",
        Just("/w==".repeat(2)),
        "[ -~]{0,12}",
        Just(String::new()),
    ]
}

fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(|t| json!(t.to_string())),
        any::<u64>().prop_map(|t| json!(t)),
        any::<i64>().prop_map(|t| json!(t)),
        Just(json!(1.5)),
        Just(json!("-3")),
        Just(Value::Null),
    ]
}

fn track() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("inbound")),
        Just(json!("outbound")),
        Just(json!("inbound_track")),
        Just(json!(7)),
        Just(Value::Null),
    ]
}

/// Frames as Twilio, Telnyx and Vonage document them.
fn vendor_frame() -> impl Strategy<Value = Value> {
    let media = (payload(), timestamp(), track(), any::<u8>()).prop_map(|(p, ts, track, n)| {
        json!({"event": "media", "sequenceNumber": n.to_string(), "streamSid": "MZ1",
               "media": {"track": track, "chunk": n.to_string(), "timestamp": ts, "payload": p}})
    });
    let telnyx_media = (payload(), timestamp()).prop_map(|(p, ts)| {
        json!({"event": "media", "sequence_number": "4", "stream_id": "s1",
               "media": {"track": "inbound", "chunk": "2", "timestamp": ts, "payload": p}})
    });
    let fixed = prop_oneof![
        Just(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
        Just(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ9",
                    "start": {"callSid": "CA7", "tracks": ["inbound"],
                              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})),
        Just(json!({"event": "start", "sequence_number": "1", "stream_id": "s1",
                    "start": {"call_control_id": "v3:x", "from": "+15550001", "to": "+15550002",
                              "media_format": {"encoding": "OPUS", "sample_rate": 16000, "channels": 1}}})),
        Just(json!({"event": "stop", "streamSid": "MZ9", "stop": {"callSid": "CA7"}})),
        Just(json!({"event": "mark", "streamSid": "MZ9", "mark": {"name": "turn-1"}})),
        Just(json!({"event": "dtmf", "streamSid": "MZ9", "dtmf": {"digit": "1"}})),
        Just(json!({"event": "clear", "streamSid": "MZ9"})),
        Just(json!({"event": "error", "payload": {"code": 100002, "title": "Unknown error"}})),
        Just(json!({"event": "websocket:connected", "content-type": "audio/l16;rate=16000"})),
        Just(json!({"action": "clear"})),
        Just(json!({"sequenceNumber": 0, "event": "start", "extra_headers": "{}",
                    "start": {"callId": "6f7a3b1e", "streamId": "b3c4d5e6", "tracks": ["inbound"],
                              "mediaFormat": {"encoding": "audio/x-l16", "sampleRate": 16000}}})),
        Just(json!({"event": "playedStream", "streamId": "b3c4d5e6", "name": "turn-1"})),
    ];
    prop_oneof![4 => media, 2 => telnyx_media, 3 => fixed]
}

/// JSON made of the keys and values a media frame is read by, nested a little.
fn jsonish() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("event".to_owned()),
        Just("media".to_owned()),
        Just("payload".to_owned()),
        Just("timestamp".to_owned()),
        Just("track".to_owned()),
        "[a-z]{1,3}",
    ];
    let leaf = prop_oneof![
        Just(json!("media")),
        Just(json!("start")),
        Just(json!("stop")),
        Just(json!("outbound")),
        payload().prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 24, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A well-formed frame's text, compact or pretty, with one of: nothing, a truncation, a
/// deleted, inserted or replaced character, a duplicated key.
fn mutated(base: impl Strategy<Value = Value>) -> impl Strategy<Value = String> {
    let special =
        prop::sample::select(vec!['{', '}', '[', ']', '"', ':', ',', '\\', '=', 'x', ' ']);
    (base, any::<bool>(), 0..6u8, any::<prop::sample::Index>(), special).prop_map(
        |(value, pretty, op, at, c)| {
            let mut text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            };
            let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            let i = cuts[at.index(cuts.len())];
            match op {
                1 => text.truncate(i),
                2 => {
                    text.remove(i);
                }
                3 => text.insert(i, c),
                4 => {
                    text.remove(i);
                    text.insert(i, c);
                }
                5 => text = text.replacen('{', r#"{"event":"media","#, 1),
                _ => {}
            }
            text
        },
    )
}

fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mutated(vendor_frame()),
        3 => mutated(jsonish()),
        1 => prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_000))]

    #[test]
    fn the_fast_path_and_the_full_parse_read_every_frame_alike(text in frame_text()) {
        let fast = fast(&text);
        for protocol in [Protocol::Twilio, Protocol::Telnyx, Protocol::Plivo] {
            let full = full(protocol, &text).expect("a JSON media-stream protocol");
            if let Some(fast) = &fast {
                prop_assert_eq!(fast, &full, "fast path and full parse differ");
            }
            if matches!(full, MediaFrame::Media { .. }) {
                prop_assert!(fast.is_some(), "a media frame missed the fast path");
            }
            prop_assert_eq!(&inbound(protocol, &text), &full);
            let expected_out = match &full {
                MediaFrame::Media { bytes, .. } => {
                    MediaFrame::Media { bytes: *bytes, timestamp_ms: None, caller_track: false }
                }
                other => other.clone(),
            };
            // Plivo's outbound audio is `playAudio`, read by its own parse.
            if protocol != Protocol::Plivo {
                prop_assert_eq!(outbound(protocol, &text), expected_out);
            }
        }
    }
}

#[test]
fn a_twilio_media_frame_takes_the_fast_path() {
    let frame = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40","payload":"/w=="},"streamSid":"MZ1"}"#;
    let reading = MediaFrame::Media { bytes: 1, timestamp_ms: Some(40), caller_track: true };
    assert_eq!(fast(frame), Some(reading.clone()));
    assert_eq!(full(Protocol::Twilio, frame), Some(reading));
    assert_eq!(fast(&frame[..frame.len() - 1]), None, "unclosed: the full parse decides");
    assert_eq!(full(Protocol::Vonage, frame), None, "Vonage has no fast path");
}
