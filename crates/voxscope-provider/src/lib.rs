//! Provider metrics for voice agents: how fast and how reliably each STT, LLM and TTS
//! provider answers, what it costs, when the agent runs on a fallback, and whether the
//! config is complete.
//!
//! ```
//! use std::io;
//! use std::time::Duration;
//! use futures_util::{StreamExt, stream};
//! use voxscope_provider::{FallbackChain, ProviderKind, ProviderSettings, check_config};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At startup: `[Config] ELEVENLABS_API_KEY is not set` and voxscope_config_missing = 1.
//! check_config([("ELEVENLABS_API_KEY", std::env::var("ELEVENLABS_API_KEY").ok().as_deref())]);
//!
//! // TTS through ElevenLabs, falling back to Azure when it is down or stalls.
//! let tts = FallbackChain::builder(ProviderKind::Tts)
//!     .stream_provider(
//!         ProviderSettings::new("elevenlabs").first_byte_timeout(Duration::from_millis(500)),
//!         |_text: String| async {
//!             Err::<stream::Empty<io::Result<Vec<u8>>>, _>(io::ErrorKind::ConnectionRefused.into())
//!         },
//!     )
//!     .stream_provider(ProviderSettings::new("azure"), |text: String| async move {
//!         let words: Vec<io::Result<Vec<u8>>> =
//!             text.split(' ').map(|w| Ok(w.as_bytes().to_vec())).collect();
//!         Ok(stream::iter(words))
//!     })
//!     .build()?;
//!
//! let mut audio = tts.stream("hello caller".to_owned());
//! while let Some(chunk) = audio.next().await {
//!     let _chunk = chunk?; // play it: served by azure, one fallback counted
//! }
//! # Ok(()) }
//! ```
//!
//! # What is recorded
//!
//! By the names of `voxscope_core::catalog`, labelled `kind` (`stt`, `llm`, `tts`) and
//! `provider` (a name given in code, never a URL):
//!
//! - `voice_provider_requests_total{outcome}`: `ok`, `error`, `timeout` or `cancelled`,
//!   exactly once per request however it ends (a stream dropped after three chunks is one
//!   `cancelled`).
//! - `voice_provider_request_duration_seconds`: until the answer, or the stream, ended or
//!   was dropped.
//! - `voice_provider_ttfb_seconds`: time to first byte, defined per kind as voice
//!   frameworks measure it. **LLM**: request sent to first streamed token (not the HTTP
//!   response head). **TTS**: text sent to first audio chunk. **STT**: end of the caller's
//!   speech to final transcript when the app marks both
//!   ([`ProviderMetricsBuilder::ttfb_from_speech_end`], or [`FallbackChain::live`]),
//!   else request to first result.
//! - `voice_provider_errors_total{error}`: the [`ErrorClass`].
//! - `voice_provider_in_flight`, `voice_provider_concurrency_limit`.
//! - Usage ([`Usage`]): `gen_ai_client_token_usage{token_type}` (and `model` where
//!   enabled), `voice_tts_characters_total`, `voice_stt_audio_seconds_total`, and with a
//!   [`Price`], the estimated `voice_provider_cost_total{currency}`.
//! - Chains: `voice_provider_fallbacks_total{from, to, reason}`,
//!   `voice_provider_retries_total{reason}`, `voice_provider_circuit_open`, and what the
//!   caller waited, failovers included: `voice_provider_chain_ttfb_seconds` and
//!   `voice_provider_chain_duration_seconds` (labelled `kind` only).
//! - [`check_config`]: `voxscope_config_missing{field}`, `voxscope_config_warnings_total`.
//!
//! # Ways in
//!
//! - [`ProviderLayer`] wraps any tower service, unary, one that answers with a stream of
//!   `Result` ([`streaming`](ProviderLayer::streaming)), or an HTTP client whose TTFB is
//!   the first body byte ([`http_body`](ProviderLayer::http_body)).
//! - [`ProviderMetrics::observe`], [`observe_stream`](ProviderMetrics::observe_stream) and
//!   [`start`](ProviderMetrics::start) for clients that are plain futures, streams or
//!   callbacks.
//! - [`FallbackChain`] for providers in priority order with breakers, concurrency limits,
//!   retries and timeouts; itself a tower `Service`, so timeout and load-shed layers
//!   compose around it. A stream that ends before a useful item is an error (`empty`),
//!   never a success; [`first_byte_when`](FallbackChainBuilder::first_byte_when) says
//!   which items are useful. Breakers and limits are shared per (kind, provider) by every
//!   chain that names the provider ([`ProviderRegistry`]).
//! - [`FallbackChain::live`] for a streaming STT (over a WebSocket): the app feeds the
//!   caller's audio to [`live_audio`]'s [`AudioFeed`], each provider the chain tries
//!   reads it from the [`LiveAudio`] request, a fallback first hears the last seconds
//!   again (bounded) when the primary fails mid-utterance, and STT TTFB runs from
//!   [`AudioFeed::speech_ended`] to the final transcript.
//!
//! Each request carries a `provider` span, child of the span current when it starts
//! (the request or call span). Handles are cached: a warm request costs no registry
//! lookup and a streamed item no allocation. Errors classify through [`Classify`]
//! (HTTP statuses, `io::Error`, timeouts; `reqwest::Error` and `hyper::Error` with the
//! features of those names) or your own [`ClassifyError`].
#![deny(missing_docs)]

mod body;
mod breaker;
mod call;
mod class;
mod config;
mod duration;
mod error;
mod fallback;
mod handles;
mod kind;
mod layer;
mod live;
pub mod log_line;
mod observe;
mod price;
mod registry;
mod retry;
mod service;
mod usage;

pub use body::{HttpFuture, ObservedBody};
pub use breaker::BreakerConfig;
pub use call::{ProviderCall, ProviderMetrics, ProviderMetricsBuilder};
pub use class::{Classify, ClassifyError, DefaultClassifier, ErrorClass, classify_dyn};
pub use config::{
    ConfigCheck, ConfigReport, DEFAULT_PLACEHOLDERS, MissingReason, MissingSetting, check_config,
};
pub use duration::MAX_SETTING;
pub use error::FallbackError;
pub use fallback::{
    FallbackChain, FallbackChainBuilder, FallbackReason, FallbackStream, FirstItem,
    ProviderSettings,
};
pub use kind::{Outcome, ProviderKind};
pub use layer::{HttpBody, ProviderLayer, Streaming, Unary};
pub use live::{AudioFeed, AudioStream, LiveAudio, LiveTranscripts, MAX_REPLAY, live_audio};
pub use observe::{Observed, ObservedStream};
pub use price::Price;
pub use registry::ProviderRegistry;
pub use retry::RetryConfig;
pub use service::{Provider, StreamingFuture};
pub use usage::{NoUsage, Usage, UsageOf};
