//! Usage: LLM tokens, TTS characters, STT audio seconds.

/// What one request consumed. Fields left at zero are not recorded.
///
/// Recorded once, when the request ends: tokens as one `gen_ai_client_token_usage`
/// observation per token type (the OpenTelemetry GenAI histogram is per request), the
/// others added to `voice_tts_characters_total` and `voice_stt_audio_seconds_total`.
///
/// ```
/// use voxscope_provider::Usage;
///
/// let usage = Usage::tokens(120, 35) + Usage::tokens(0, 5);
/// assert_eq!(usage.output_tokens, 40);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// LLM prompt tokens.
    pub input_tokens: u64,
    /// LLM completion tokens.
    pub output_tokens: u64,
    /// Characters of text sent to TTS.
    pub characters: u64,
    /// Seconds of audio sent to STT.
    pub audio_seconds: f64,
}

impl Usage {
    /// LLM token counts.
    pub const fn tokens(input: u64, output: u64) -> Self {
        Self { input_tokens: input, output_tokens: output, characters: 0, audio_seconds: 0.0 }
    }

    /// Characters sent to TTS.
    pub const fn characters(characters: u64) -> Self {
        Self { input_tokens: 0, output_tokens: 0, characters, audio_seconds: 0.0 }
    }

    /// Seconds of audio sent to STT.
    pub const fn audio_seconds(seconds: f64) -> Self {
        Self { input_tokens: 0, output_tokens: 0, characters: 0, audio_seconds: seconds }
    }

    /// Whether nothing was consumed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            characters: self.characters.saturating_add(other.characters),
            audio_seconds: self.audio_seconds + other.audio_seconds,
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        *self = *self + other;
    }
}

/// Reads the usage a response or stream item reports: an LLM's final chunk carries its
/// token counts. [`NoUsage`] reads nothing; any `Fn(&T) -> Usage` plugs in.
///
/// ```
/// use voxscope_provider::{Usage, UsageOf};
///
/// struct Chunk { text: String, total_tokens: Option<(u64, u64)> }
/// let read = |c: &Chunk| c.total_tokens.map_or(Usage::default(), |(i, o)| Usage::tokens(i, o));
/// let last = Chunk { text: String::new(), total_tokens: Some((10, 3)) };
/// assert_eq!(read.usage_of(&last), Usage::tokens(10, 3));
/// ```
pub trait UsageOf<T> {
    /// The usage reported by `item`; zero when it reports none.
    fn usage_of(&self, item: &T) -> Usage;
}

/// Reads no usage from responses; the app may still report it on a
/// [`ProviderCall`](crate::ProviderCall).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoUsage;

impl<T> UsageOf<T> for NoUsage {
    fn usage_of(&self, _: &T) -> Usage {
        Usage::default()
    }
}

impl<T, F: Fn(&T) -> Usage> UsageOf<T> for F {
    fn usage_of(&self, item: &T) -> Usage {
        self(item)
    }
}
