//! What a provider does and how one request to it ended.

use std::fmt;

/// The kind of a provider: the `kind` label of every provider metric.
///
/// ```
/// use voxscope_provider::ProviderKind;
///
/// assert_eq!(ProviderKind::Llm.as_str(), "llm");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Speech-to-text.
    Stt,
    /// Large language model.
    Llm,
    /// Text-to-speech.
    Tts,
}

impl ProviderKind {
    /// The label value: `stt`, `llm` or `tts`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Stt => "stt",
            ProviderKind::Llm => "llm",
            ProviderKind::Tts => "tts",
        }
    }

    /// The `gen_ai.operation.name` of its requests: `chat` for LLMs (the OpenTelemetry
    /// GenAI value), `transcription` for STT and `text_to_speech` for TTS (no standard
    /// value exists for those yet).
    ///
    /// ```
    /// use voxscope_provider::ProviderKind;
    ///
    /// assert_eq!(ProviderKind::Llm.operation_name(), "chat");
    /// ```
    pub const fn operation_name(self) -> &'static str {
        match self {
            ProviderKind::Stt => "transcription",
            ProviderKind::Llm => "chat",
            ProviderKind::Tts => "text_to_speech",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a provider request ended: the `outcome` label of `voice_provider_requests_total`.
///
/// ```
/// use voxscope_provider::Outcome;
///
/// assert_eq!(Outcome::Cancelled.as_str(), "cancelled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The response, or the whole stream, arrived.
    Ok,
    /// The provider failed; the class is counted in `voice_provider_errors_total`.
    Error,
    /// The provider failed with a timeout, its own or one voxscope enforced.
    Timeout,
    /// The caller dropped the request or the stream before it ended.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 4] =
        [Outcome::Ok, Outcome::Error, Outcome::Timeout, Outcome::Cancelled];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
