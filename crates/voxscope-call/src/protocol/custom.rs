//! A media-stream protocol the application brings: [`MediaAdapter`], used through
//! [`Protocol::Custom`](super::Protocol::Custom), and the [`MediaFrame`] it reads.

use std::fmt;

use super::{Frame, ProtocolErrorKind, StartInfo};
use crate::handles::Direction;

/// A media-stream provider the application reads itself: what one of its frames means
/// for the call's metrics. Handed to [`CallLayer`](crate::CallLayer) as
/// [`Protocol::Custom`](super::Protocol::Custom) with a `'static` reference (a `static`
/// value, or `Box::leak` of one built from configuration).
///
/// ```
/// use voxscope_call::{CallLayer, Direction, MediaAdapter, MediaFrame, Protocol};
///
/// /// A provider that sends `{"audio":"<base64>"}` and `{"hangup":true}`.
/// #[derive(Debug)]
/// struct Acme;
///
/// impl MediaAdapter for Acme {
///     fn label(&self) -> &'static str {
///         "acme"
///     }
///     fn has_stop_event(&self) -> bool {
///         true
///     }
///     fn byte_rate(&self) -> u32 {
///         8_000 // mu-law at 8 kHz
///     }
///     fn text(&self, text: &str, _direction: Direction) -> MediaFrame {
///         let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
///             return MediaFrame::Error(voxscope_call::ProtocolErrorKind::InvalidJson);
///         };
///         match value.get("audio").and_then(|a| a.as_str()) {
///             Some(b64) => MediaFrame::media((b64.len() / 4 * 3).saturating_sub(b64.matches('=').count())),
///             None if value.get("hangup").is_some() => MediaFrame::Stop,
///             None => MediaFrame::Control,
///         }
///     }
/// }
///
/// static ACME: Acme = Acme;
/// let layer = CallLayer::new(Protocol::Custom(&ACME))?;
/// assert_eq!(Protocol::Custom(&ACME).label(), "acme");
/// # Ok::<(), voxscope_core::ConfigError>(())
/// ```
pub trait MediaAdapter: fmt::Debug + Send + Sync + 'static {
    /// The `transport` label value: a short, fixed name (`[a-z0-9_]`).
    fn label(&self) -> &'static str;

    /// Whether the protocol has a stop message ([`MediaFrame::Stop`]). Without one, a
    /// normal close (1000, 1001) is how a call completes.
    fn has_stop_event(&self) -> bool;

    /// Audio bytes per second until a [`MediaFrame::Start`] announces another; 0 counts
    /// every media frame as telephony's nominal 20 ms.
    fn byte_rate(&self) -> u32;

    /// What a text frame means, in either direction. Must not panic on any input: a
    /// frame it cannot read is a [`MediaFrame::Error`], counted and passed through.
    fn text(&self, text: &str, direction: Direction) -> MediaFrame;

    /// What a binary frame of `len` bytes means; by default, that many bytes of audio
    /// on the caller's track (inbound) or the agent's (outbound).
    fn binary(&self, len: usize, direction: Direction) -> MediaFrame {
        let _ = direction;
        MediaFrame::media(len)
    }
}

/// What one frame means for a call's metrics, as a [`MediaAdapter`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaFrame {
    /// Audio, counted in `voice_call_frames_total` and `voice_call_audio_seconds_total`.
    Media {
        /// Audio bytes (decoded length: for base64, 3 bytes per 4 characters less padding).
        bytes: usize,
        /// The provider's timestamp in milliseconds, if it stamps frames: gaps and
        /// reordering are then judged by it as well as by arrival.
        timestamp_ms: Option<u64>,
        /// `false` for the agent's own audio echoed on an inbound frame (Twilio
        /// `both_tracks`): counted `out`, not timed as the caller's.
        caller_track: bool,
    },
    /// The stream began: ids for the call's span and logs, and its byte rate.
    Start {
        /// The provider's call id; replaces the call id from then on.
        call_id: Option<String>,
        /// The provider's stream id.
        stream_id: Option<String>,
        /// Audio bytes per second from now on; `Some(0)` for frames of no fixed rate
        /// (each then counts as 20 ms).
        byte_rate: Option<u32>,
    },
    /// The protocol's graceful end: the call completes.
    Stop,
    /// Any other message the protocol defines.
    Control,
    /// A frame not understood: counted in `voice_call_protocol_errors_total{kind}`.
    Error(ProtocolErrorKind),
}

impl MediaFrame {
    /// Audio of `bytes` bytes, without a timestamp, on the caller's track.
    pub const fn media(bytes: usize) -> Self {
        MediaFrame::Media { bytes, timestamp_ms: None, caller_track: true }
    }
}

impl From<MediaFrame> for Frame {
    fn from(frame: MediaFrame) -> Self {
        match frame {
            MediaFrame::Media { bytes, timestamp_ms, caller_track } => {
                Frame::Media { bytes, timestamp_ms, caller_track }
            }
            MediaFrame::Start { call_id, stream_id, byte_rate } => {
                Frame::Start(Box::new(StartInfo {
                    call_sid: call_id,
                    stream_sid: stream_id,
                    from: None,
                    to: None,
                    byte_rate,
                }))
            }
            MediaFrame::Stop => Frame::Stop,
            MediaFrame::Control => Frame::Control,
            MediaFrame::Error(kind) => Frame::Error(kind),
        }
    }
}

impl From<Frame> for MediaFrame {
    fn from(frame: Frame) -> Self {
        match frame {
            Frame::Media { bytes, timestamp_ms, caller_track } => {
                MediaFrame::Media { bytes, timestamp_ms, caller_track }
            }
            Frame::Start(info) => MediaFrame::Start {
                call_id: info.call_sid,
                stream_id: info.stream_sid,
                byte_rate: info.byte_rate,
            },
            Frame::Stop => MediaFrame::Stop,
            Frame::Control => MediaFrame::Control,
            Frame::Error(kind) => MediaFrame::Error(kind),
        }
    }
}
