//! The media-stream protocols a tracked socket understands, and what it learns from a
//! frame: one file per protocol (Twilio, Telnyx, Plivo, Vonage; raw PCM needs none), the JSON
//! they share, and the borrowed fast path of a media frame.

use voxscope_core::ConfigError;

pub use custom::{MediaAdapter, MediaFrame};
pub(crate) use reading::{Payload, Reading};

use crate::handles::Direction;

mod borrowed;
mod custom;
#[doc(hidden)]
pub mod frame_paths;
mod media_stream;
mod plivo;
mod reading;
mod telnyx;
mod twilio;
mod vonage;

/// The media-stream protocol spoken on a call's WebSocket. It names the `transport`
/// label, tells the socket how to find media frames and how many bytes make a second.
///
/// ```
/// use voxscope_call::Protocol;
///
/// assert_eq!(Protocol::Twilio.label(), "twilio");
/// assert_eq!(Protocol::RawPcm { sample_rate: 16_000, sample_width: 2 }.label(), "raw_pcm");
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Protocol {
    /// Twilio Media Streams: JSON text frames, mu-law 8 kHz, `stop` ends the call.
    Twilio,
    /// Telnyx media streaming: snake_case JSON; frames may arrive out of order.
    Telnyx,
    /// Plivo Audio Streams: JSON text frames, mu-law 8 kHz unless `start` says
    /// otherwise, `stop` ends the call; the app plays audio with `playAudio`.
    Plivo,
    /// Vonage: a JSON header, then binary 16-bit linear PCM; no stop event.
    Vonage,
    /// Binary frames of linear PCM; text frames pass unread.
    RawPcm {
        /// Samples per second (8000, 16000, 24000, 48000).
        sample_rate: u32,
        /// Bytes per sample (1 to 4).
        sample_width: u8,
    },
    /// A provider the application reads itself: see [`MediaAdapter`].
    Custom(&'static dyn MediaAdapter),
}

/// Built-in protocols are equal by variant (and raw PCM format); custom ones by label.
impl PartialEq for Protocol {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Protocol::Custom(a), Protocol::Custom(b)) => a.label() == b.label(),
            (
                Protocol::RawPcm { sample_rate: a, sample_width: w },
                Protocol::RawPcm { sample_rate: b, sample_width: v },
            ) => a == b && w == v,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for Protocol {}

impl Protocol {
    /// The `transport` label value.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Twilio => "twilio",
            Protocol::Telnyx => "telnyx",
            Protocol::Plivo => "plivo",
            Protocol::Vonage => "vonage",
            Protocol::RawPcm { .. } => "raw_pcm",
            Protocol::Custom(adapter) => adapter.label(),
        }
    }

    /// Whether the protocol has a stop message. Without one, a normal close (1000, 1001)
    /// is how a call completes.
    pub fn has_stop_event(self) -> bool {
        match self {
            Protocol::Custom(adapter) => adapter.has_stop_event(),
            _ => matches!(self, Protocol::Twilio | Protocol::Telnyx | Protocol::Plivo),
        }
    }

    /// Whether text frames are JSON media streams whose `media` frames take the borrowed
    /// fast path.
    pub(crate) const fn has_media_fast_path(self) -> bool {
        matches!(self, Protocol::Twilio | Protocol::Telnyx | Protocol::Plivo)
    }

    /// Audio bytes per second before the stream announces its format.
    pub(crate) fn default_byte_rate(self) -> u32 {
        match self {
            // mu-law / PCMU 8 kHz mono: one byte a sample.
            Protocol::Twilio | Protocol::Telnyx | Protocol::Plivo => 8_000,
            // Vonage's default is 16-bit at 16 kHz until the header says otherwise.
            Protocol::Vonage => 32_000,
            Protocol::RawPcm { sample_rate, sample_width } => {
                sample_rate.saturating_mul(sample_width as u32)
            }
            Protocol::Custom(adapter) => adapter.byte_rate(),
        }
    }

    pub(crate) fn validate(self) -> Result<(), ConfigError> {
        if let Protocol::Custom(adapter) = self {
            let label = adapter.label();
            let valid = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
            if label.is_empty() || !label.bytes().all(valid) {
                return Err(ConfigError::Invalid {
                    field: "protocol.label".to_owned(),
                    value: label.to_owned(),
                    reason: "a transport label: [a-z0-9_], not empty",
                });
            }
        }
        if let Protocol::RawPcm { sample_rate, sample_width } = self {
            if sample_rate == 0 {
                return Err(ConfigError::Zero { field: "protocol.sample_rate".to_owned() });
            }
            if !(1..=4).contains(&sample_width) {
                return Err(ConfigError::Invalid {
                    field: "protocol.sample_width".to_owned(),
                    value: sample_width.to_string(),
                    reason: "bytes per sample, 1 to 4",
                });
            }
        }
        Ok(())
    }
}

/// Why a frame was counted in `voice_call_protocol_errors_total{kind}`. A closed set:
/// the frame itself goes only to logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolErrorKind {
    /// A text frame that is not JSON.
    InvalidJson,
    /// JSON without a field the protocol requires (`event`, `payload`).
    MissingField,
    /// An `event` the protocol does not define.
    UnknownEvent,
    /// A media payload whose base64 length cannot be audio.
    InvalidPayload,
    /// Binary on a JSON protocol.
    UnexpectedFrame,
    /// The provider reported an error (Telnyx `error` event).
    RemoteError,
}

impl ProtocolErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ProtocolErrorKind; 6] = [
        ProtocolErrorKind::InvalidJson,
        ProtocolErrorKind::MissingField,
        ProtocolErrorKind::UnknownEvent,
        ProtocolErrorKind::InvalidPayload,
        ProtocolErrorKind::UnexpectedFrame,
        ProtocolErrorKind::RemoteError,
    ];

    /// The `kind` label value.
    pub fn label(self) -> &'static str {
        match self {
            ProtocolErrorKind::InvalidJson => "invalid_json",
            ProtocolErrorKind::MissingField => "missing_field",
            ProtocolErrorKind::UnknownEvent => "unknown_event",
            ProtocolErrorKind::InvalidPayload => "invalid_payload",
            ProtocolErrorKind::UnexpectedFrame => "unexpected_frame",
            ProtocolErrorKind::RemoteError => "remote_error",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// What a frame meant, as far as metrics care.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame {
    /// Audio: its length in bytes and, where the protocol stamps it, its timestamp.
    Media { bytes: usize, timestamp_ms: Option<u64>, caller_track: bool },
    /// The stream began; ids and format for the span and the byte rate.
    Start(Box<StartInfo>),
    /// The protocol's graceful end.
    Stop,
    /// Anything else the protocol defines (connected, mark, dtmf, clear, notify).
    Control,
    /// Counted, passed through.
    Error(ProtocolErrorKind),
}

/// What a start message reveals. Ids and numbers go on the span and logs only.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StartInfo {
    pub(crate) call_sid: Option<String>,
    pub(crate) stream_sid: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    /// Bytes per second of the announced codec; [`NOMINAL_TIMING`] for a codec whose
    /// byte rate is not fixed or not known (Opus, AMR-WB).
    pub(crate) byte_rate: Option<u32>,
}

/// Reads frames of one protocol; holds the byte rate the stream announced.
#[derive(Debug)]
pub(crate) struct Adapter {
    protocol: Protocol,
    byte_rate: u32,
}

impl Adapter {
    pub(crate) fn new(protocol: Protocol) -> Self {
        Self { protocol, byte_rate: protocol.default_byte_rate() }
    }

    pub(crate) fn byte_rate(&self) -> u32 {
        self.byte_rate
    }

    /// The rate the stream announced; [`NOMINAL_TIMING`] makes every media frame 20 ms.
    pub(crate) fn set_byte_rate(&mut self, rate: u32) {
        self.byte_rate = rate;
    }

    /// A text frame from the caller.
    pub(crate) fn text_in(&self, text: &str) -> Frame {
        self.read_in(text).frame
    }

    /// A text frame from the caller, with what reading it found for the handler.
    pub(crate) fn read_in(&self, text: &str) -> Reading {
        match self.protocol {
            Protocol::Twilio | Protocol::Telnyx | Protocol::Plivo => {
                media_stream::read(text, self.protocol)
            }
            Protocol::Vonage => vonage::read(text),
            Protocol::RawPcm { .. } => Reading::frame(Frame::Control),
            Protocol::Custom(adapter) => Reading::frame(adapter.text(text, Direction::In).into()),
        }
    }

    /// A text frame to the caller.
    pub(crate) fn text_out(&self, text: &str) -> Frame {
        match self.protocol {
            Protocol::Twilio | Protocol::Telnyx => {
                media_stream::media_stream_out(text, self.protocol)
            }
            Protocol::Plivo => plivo::text_out(text, self.byte_rate),
            Protocol::Vonage => vonage::text(text),
            Protocol::RawPcm { .. } => Frame::Control,
            Protocol::Custom(adapter) => adapter.text(text, Direction::Out).into(),
        }
    }

    /// A binary frame, in either direction.
    pub(crate) fn binary(&self, len: usize, direction: Direction) -> Frame {
        match self.protocol {
            Protocol::Twilio | Protocol::Telnyx | Protocol::Plivo => {
                Frame::Error(ProtocolErrorKind::UnexpectedFrame)
            }
            Protocol::Vonage | Protocol::RawPcm { .. } => {
                Frame::Media { bytes: len, timestamp_ms: None, caller_track: true }
            }
            Protocol::Custom(adapter) => adapter.binary(len, direction).into(),
        }
    }
}

/// The byte rate of a codec whose frames are not a fixed number of bytes a second (or
/// whose rate is unknown): each media frame then counts as telephony's nominal 20 ms.
pub(crate) const NOMINAL_TIMING: u32 = 0;

/// Bytes per second of a codec announced by a start message; `None` when unknown.
pub(crate) fn codec_byte_rate(encoding: &str, sample_rate: u32, channels: u32) -> Option<u32> {
    let channels = channels.max(1);
    let encoding = encoding.trim_start_matches("audio/");
    let eq = |name: &str| encoding.eq_ignore_ascii_case(name);
    if eq("x-mulaw") || eq("pcmu") || eq("x-alaw") || eq("pcma") || eq("mulaw") {
        Some(sample_rate.saturating_mul(channels))
    } else if eq("l16") || eq("x-l16") || eq("linear16") {
        Some(sample_rate.saturating_mul(2).saturating_mul(channels))
    } else if eq("g722") {
        // 64 kbit/s whatever the nominal 16 kHz sample rate.
        Some(8_000u32.saturating_mul(channels))
    } else {
        None
    }
}
