//! Not API: the readings of one text frame side by side (what the socket does, the
//! borrowed fast path, the full `serde_json::Value` parse) for the property test and the
//! fuzz target that check they agree. Hidden from the docs; may change at any time.

use super::{Adapter, Frame, Protocol, ProtocolErrorKind, borrowed, media_stream};

/// What a text frame meant, as the metrics see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Audio: bytes, timestamp, whether on the caller's track.
    Media {
        /// Audio bytes the base64 payload holds.
        bytes: usize,
        /// The protocol's timestamp, in milliseconds.
        timestamp_ms: Option<u64>,
        /// `false` for a Twilio `both_tracks` outbound frame.
        caller_track: bool,
    },
    /// The stream began.
    Start {
        /// Provider call id.
        call_id: Option<String>,
        /// Provider stream id.
        stream_id: Option<String>,
        /// Announced byte rate.
        byte_rate: Option<u32>,
    },
    /// The protocol's graceful end.
    Stop,
    /// A control message.
    Control,
    /// Counted as a protocol error of this kind.
    Error(ProtocolErrorKind),
}

impl From<Frame> for Reading {
    fn from(frame: Frame) -> Self {
        match frame {
            Frame::Media { bytes, timestamp_ms, caller_track } => {
                Reading::Media { bytes, timestamp_ms, caller_track }
            }
            Frame::Start(info) => Reading::Start {
                call_id: info.call_sid,
                stream_id: info.stream_sid,
                byte_rate: info.byte_rate,
            },
            Frame::Stop => Reading::Stop,
            Frame::Control => Reading::Control,
            Frame::Error(kind) => Reading::Error(kind),
        }
    }
}

/// A text frame from the caller, read as the tracked socket reads it.
pub fn inbound(protocol: Protocol, text: &str) -> Reading {
    Adapter::new(protocol).text_in(text).into()
}

/// A text frame to the caller, read as the tracked socket reads it.
pub fn outbound(protocol: Protocol, text: &str) -> Reading {
    Adapter::new(protocol).text_out(text).into()
}

/// The borrowed fast path alone; `None` when it leaves the frame to the full parse.
pub fn fast(text: &str) -> Option<Reading> {
    borrowed::media(text).map(Reading::from)
}

/// The full parse into a `serde_json::Value`; `None` for a protocol whose text frames
/// have no fast path (Vonage, raw PCM).
pub fn full(protocol: Protocol, text: &str) -> Option<Reading> {
    protocol.has_media_fast_path().then(|| media_stream::parse(text, protocol).into())
}
