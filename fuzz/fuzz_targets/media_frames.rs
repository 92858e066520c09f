//! Any text frame, to every media adapter (Twilio, Telnyx, Plivo, Vonage, raw PCM), in
//! both directions: never a panic; for the JSON media streams, the borrowed fast path
//! and the full `serde_json::Value` parse read it alike, and the tracked socket reads it
//! as the full parse does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxscope_call::MediaFrame;
use voxscope_call::Protocol;
use voxscope_call::frame_paths::{fast, full, inbound, outbound};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fast = fast(text);
    for protocol in [Protocol::Twilio, Protocol::Telnyx, Protocol::Plivo] {
        let full = full(protocol, text).expect("a JSON media-stream protocol");
        if let Some(fast) = &fast {
            assert_eq!(fast, &full, "fast path and full parse differ on {text:?}");
        }
        if matches!(full, MediaFrame::Media { .. }) {
            assert!(fast.is_some(), "a media frame missed the fast path: {text:?}");
        }
        assert_eq!(inbound(protocol, text), full);
        let expected_out = match &full {
            MediaFrame::Media { bytes, .. } => {
                MediaFrame::Media { bytes: *bytes, timestamp_ms: None, caller_track: false }
            }
            other => other.clone(),
        };
        // Plivo's outbound audio is `playAudio`, read by its own parse.
        if protocol != Protocol::Plivo {
            assert_eq!(outbound(protocol, text), expected_out);
        }
    }
    // Vonage and raw PCM text frames have no fast path; they must still not panic.
    let _ = outbound(Protocol::Plivo, text);
    let _ = inbound(Protocol::Vonage, text);
    let _ = outbound(Protocol::Vonage, text);
    let _ = inbound(Protocol::RawPcm { sample_rate: 8_000, sample_width: 2 }, text);
});
