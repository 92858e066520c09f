//! Every media adapter on frames shaped as its vendor documents them, with audio encoded
//! by the `base64` crate (not by voxscope): the audio length counted is the length
//! encoded, start messages give back the ids and format they carry, and no text frame
//! makes any adapter panic in either direction.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::json;
use voxscope_call::frame_paths::{inbound, outbound};
use voxscope_call::{MediaFrame, Protocol};

const ADAPTERS: [Protocol; 5] = [
    Protocol::Twilio,
    Protocol::Telnyx,
    Protocol::Plivo,
    Protocol::Vonage,
    Protocol::RawPcm { sample_rate: 16_000, sample_width: 2 },
];

/// A media frame as Twilio, Telnyx and Plivo document it.
fn media_frame(protocol: Protocol, payload: &str, timestamp: u64) -> String {
    let media = json!({"track": "inbound", "chunk": "2", "timestamp": timestamp.to_string(), "payload": payload});
    match protocol {
        Protocol::Twilio => json!({"event": "media", "sequenceNumber": "3", "media": media,
                                   "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0"}),
        Protocol::Telnyx => json!({"event": "media", "sequence_number": "4", "media": media,
                                   "stream_id": "32de0dea-53cb-4b21-89a4-9eb4ba5a8c5e"}),
        _ => json!({"sequenceNumber": 3, "streamId": "b3c4d5e6-f7a8-4b9c-8d0e-abcdef012345",
                    "event": "media", "media": media, "extra_headers": "{}"}),
    }
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn media_frames_count_the_bytes_another_encoder_encoded(
        audio in prop::collection::vec(any::<u8>(), 0..700),
        timestamp in any::<u64>(),
        protocol in prop::sample::select(vec![Protocol::Twilio, Protocol::Telnyx, Protocol::Plivo]),
    ) {
        let frame = media_frame(protocol, &STANDARD.encode(&audio), timestamp);
        let expected = MediaFrame::Media {
            bytes: audio.len(),
            timestamp_ms: Some(timestamp),
            caller_track: true,
        };
        prop_assert_eq!(inbound(protocol, &frame), expected);
    }

    #[test]
    fn plivo_play_audio_counts_the_seconds_it_plays(
        samples in 0..2_000usize,
        l16 in any::<bool>(),
    ) {
        // 16-bit PCM at 16 kHz plays for the same time as a quarter of its bytes of the
        // stream's 8 kHz mu-law.
        let (content_type, rate, width) =
            if l16 { ("audio/x-l16", 16_000, 2) } else { ("audio/x-mulaw", 8_000, 1) };
        let payload = STANDARD.encode(vec![0u8; samples * width]);
        let play = json!({"event": "playAudio",
                          "media": {"contentType": content_type, "sampleRate": rate, "payload": payload}});
        let bytes = if l16 { samples * 2 / 4 } else { samples };
        let expected = MediaFrame::Media { bytes, timestamp_ms: None, caller_track: false };
        prop_assert_eq!(outbound(Protocol::Plivo, &play.to_string()), expected);
    }

    #[test]
    fn start_messages_give_back_their_ids_and_format(
        call in "[A-Za-z0-9:_-]{1,40}",
        stream in "[A-Za-z0-9-]{1,40}",
        rate in prop::sample::select(vec![8_000u32, 16_000, 24_000, 48_000]),
        channels in 1..3u32,
    ) {
        let format = json!({"encoding": "audio/x-mulaw", "sampleRate": rate, "channels": channels});
        let twilio = json!({"event": "start", "sequenceNumber": "1", "streamSid": stream,
                            "start": {"accountSid": "AC00", "streamSid": stream, "callSid": call,
                                      "tracks": ["inbound"], "mediaFormat": format}});
        let telnyx = json!({"event": "start", "sequence_number": "1", "stream_id": stream,
                            "start": {"call_control_id": call, "from": "+13122010094",
                                      "media_format": {"encoding": "PCMU", "sample_rate": rate, "channels": channels}}});
        let plivo = json!({"sequenceNumber": 0, "event": "start", "extra_headers": "{}",
                           "start": {"callId": call, "streamId": stream, "tracks": ["inbound"],
                                     "mediaFormat": format}});
        let expected = MediaFrame::Start {
            call_id: Some(call.clone()),
            stream_id: Some(stream.clone()),
            byte_rate: Some(rate * channels),
        };
        prop_assert_eq!(inbound(Protocol::Twilio, &twilio.to_string()), expected.clone());
        prop_assert_eq!(inbound(Protocol::Telnyx, &telnyx.to_string()), expected.clone());
        prop_assert_eq!(inbound(Protocol::Plivo, &plivo.to_string()), expected);

        let header = json!({"event": "websocket:connected", "uuid": call,
                            "content-type": format!("audio/l16;rate={rate}")});
        let vonage = MediaFrame::Start { call_id: Some(call), stream_id: None, byte_rate: Some(rate * 2) };
        prop_assert_eq!(inbound(Protocol::Vonage, &header.to_string()), vonage);
    }

    #[test]
    fn no_text_frame_makes_an_adapter_panic(text in "\\PC{0,200}") {
        for protocol in ADAPTERS {
            let _ = inbound(protocol, &text);
            let _ = outbound(protocol, &text);
        }
    }
}
