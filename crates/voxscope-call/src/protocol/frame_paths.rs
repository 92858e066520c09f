//! Not API: the readings of one text frame side by side (what the socket does, the
//! borrowed fast path, the full `serde_json::Value` parse) for the property test and the
//! fuzz target that check they agree. Hidden from the docs; may change at any time.

use super::{Adapter, MediaFrame, Protocol, borrowed, media_stream};

/// A text frame from the caller, read as the tracked socket reads it.
pub fn inbound(protocol: Protocol, text: &str) -> MediaFrame {
    Adapter::new(protocol).text_in(text).into()
}

/// A text frame to the caller, read as the tracked socket reads it.
pub fn outbound(protocol: Protocol, text: &str) -> MediaFrame {
    Adapter::new(protocol).text_out(text).into()
}

/// The borrowed fast path alone; `None` when it leaves the frame to the full parse.
pub fn fast(text: &str) -> Option<MediaFrame> {
    borrowed::media(text).map(MediaFrame::from)
}

/// The full parse into a `serde_json::Value`; `None` for a protocol whose text frames
/// have no fast path (Vonage, raw PCM).
pub fn full(protocol: Protocol, text: &str) -> Option<MediaFrame> {
    protocol.has_media_fast_path().then(|| media_stream::parse(text, protocol).into())
}
