//! [`ProviderMetrics`], the per-provider recorder, and [`ProviderCall`], the drop guard
//! that ends each provider request exactly once.

use crate::log_line::{self, RequestLine, TraceRef};
use std::sync::Arc;

use metrics::SharedString;
use quanta::Instant;
use voxscope_core::ConfigError;

use crate::body::HttpFuture;
use crate::class::{DefaultClassifier, ErrorClass};
use crate::handles::Instruments;
use crate::kind::{Outcome, ProviderKind};
use crate::observe::{Observed, ObservedStream};
use crate::price::Price;
use crate::usage::{NoUsage, Usage};

/// Records the provider metrics of one (kind, provider); cheap to clone, and every clone
/// records into the same cached handles.
///
/// ```
/// use voxscope_provider::{ProviderKind, ProviderMetrics};
///
/// # async fn transcribe(_: &[u8]) -> Result<String, std::io::Error> { Ok(String::new()) }
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let deepgram = ProviderMetrics::builder(ProviderKind::Stt, "deepgram").build()?;
/// let transcript = deepgram.observe(transcribe(b"...")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ProviderMetrics {
    instruments: Arc<Instruments>,
    ttfb_from_speech_end: bool,
    model: Option<SharedString>,
}

impl ProviderMetrics {
    /// A builder for the provider named `provider` (a label value: letters, digits, `_`,
    /// `-` and `.`, at most 64 characters; never a URL or anything with a key in it).
    pub fn builder(
        kind: ProviderKind,
        provider: impl Into<SharedString>,
    ) -> ProviderMetricsBuilder {
        ProviderMetricsBuilder {
            kind,
            provider: provider.into(),
            concurrency_limit: None,
            ttfb_from_speech_end: false,
            model: None,
            model_label: false,
            price: None,
        }
    }

    /// The kind label.
    pub fn kind(&self) -> ProviderKind {
        self.instruments.kind()
    }

    /// The provider label.
    pub fn provider(&self) -> &str {
        self.instruments.provider()
    }

    /// Starts a request by hand, for clients that are neither futures nor streams of
    /// `Result`: mark the first byte, report usage, then end it; dropped, it records
    /// `cancelled`.
    ///
    /// ```
    /// use voxscope_provider::{ProviderKind, ProviderMetrics, Usage};
    ///
    /// let openai = ProviderMetrics::builder(ProviderKind::Llm, "openai").build()?;
    /// let mut call = openai.start();
    /// call.first_byte();
    /// call.add_usage(Usage::tokens(812, 64));
    /// call.succeed();
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn start(&self) -> ProviderCall {
        ProviderCall::start(
            Arc::clone(&self.instruments),
            self.ttfb_from_speech_end,
            self.model.as_deref(),
        )
    }

    /// Observes a request/response future: TTFB and duration end when it resolves.
    pub fn observe<F>(&self, future: F) -> Observed<F, DefaultClassifier, NoUsage> {
        Observed::new(future, self.start(), DefaultClassifier, NoUsage)
    }

    /// As [`observe`](Self::observe), with your error classifier and usage reader.
    pub fn observe_with<F, C, U>(&self, future: F, classify: C, usage: U) -> Observed<F, C, U> {
        Observed::new(future, self.start(), classify, usage)
    }

    /// Observes a unary HTTP request until its body ends: TTFB at the first body byte
    /// (not the response head), duration until the body's end; a 4xx or 5xx status ends
    /// it with the status's class, a body without a byte as `empty`. A reqwest response
    /// becomes one with `http::Response::from(response)`.
    ///
    /// ```
    /// use http_body_util::{BodyExt, Full};
    /// use voxscope_provider::{ProviderKind, ProviderMetrics};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let elevenlabs = ProviderMetrics::builder(ProviderKind::Tts, "elevenlabs").build()?;
    /// # let send = async { Ok::<_, std::io::Error>(http::Response::new(Full::new(bytes::Bytes::from_static(b"RIFF")))) };
    /// let response = elevenlabs.observe_http(send).await?;
    /// let audio = response.into_body().collect().await?.to_bytes(); // the request ends here
    /// # assert_eq!(&audio[..], b"RIFF");
    /// # Ok(()) }
    /// ```
    pub fn observe_http<F>(&self, future: F) -> HttpFuture<F, DefaultClassifier> {
        HttpFuture::new(future, Some(self.start()), DefaultClassifier)
    }

    /// As [`observe_http`](Self::observe_http), with your error classifier.
    pub fn observe_http_with<F, C>(&self, future: F, classify: C) -> HttpFuture<F, C> {
        HttpFuture::new(future, Some(self.start()), classify)
    }

    /// Observes a response stream (tokens, audio chunks, transcripts): TTFB at the first
    /// item, the request ends with the stream, its first error, or its drop.
    pub fn observe_stream<S>(&self, stream: S) -> ObservedStream<S, DefaultClassifier, NoUsage> {
        ObservedStream::new(stream, self.start(), DefaultClassifier, NoUsage)
    }

    /// As [`observe_stream`](Self::observe_stream), with your classifier and usage reader.
    pub fn observe_stream_with<S, C, U>(
        &self,
        stream: S,
        classify: C,
        usage: U,
    ) -> ObservedStream<S, C, U> {
        ObservedStream::new(stream, self.start(), classify, usage)
    }

    pub(crate) fn instruments(&self) -> &Arc<Instruments> {
        &self.instruments
    }
}

/// Settings of a [`ProviderMetrics`], validated by [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct ProviderMetricsBuilder {
    kind: ProviderKind,
    provider: SharedString,
    concurrency_limit: Option<usize>,
    ttfb_from_speech_end: bool,
    model: Option<SharedString>,
    model_label: bool,
    price: Option<Price>,
}

impl ProviderMetricsBuilder {
    /// The provider's list prices: usage adds its estimated cost to
    /// `voice_provider_cost_total`; see [`Price`].
    pub fn price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// The model requested (`gpt-4o-mini`, `nova-3`, `eleven_flash_v2_5`): the
    /// `gen_ai.request.model` attribute of every request's span. Not a metric label.
    pub fn model(mut self, model: impl Into<SharedString>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Publishes the configured maximum of concurrent requests in
    /// `voice_provider_concurrency_limit`, from [`build`](Self::build) on (enforce it with
    /// tower's `ConcurrencyLimitLayer`; a [`FallbackChain`](crate::FallbackChain) enforces
    /// its providers' limits itself).
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = Some(limit);
        self
    }

    /// Labels `gen_ai_client_token_usage` with the [`model`](Self::model) too, to compare
    /// token use across models. Bounded: one model per provider, set in code or config,
    /// never taken from a response. Off by default.
    pub fn model_label(mut self, enabled: bool) -> Self {
        self.model_label = enabled;
        self
    }

    /// STT only: TTFB is end of speech to final transcript, marked by the app with
    /// [`ProviderCall::speech_ended`] and [`ProviderCall::final_transcript`], instead of
    /// request to first result.
    pub fn ttfb_from_speech_end(mut self, enabled: bool) -> Self {
        self.ttfb_from_speech_end = enabled;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a provider name that is not a short label value,
    /// [`ConfigError::Zero`] for a concurrency limit of 0, [`ConfigError::Invalid`] for
    /// a model name that is empty, longer than 128 characters or has control characters,
    /// a model label without a model, or a price that is negative, not finite or not in
    /// an ISO 4217 currency.
    pub fn build(self) -> Result<ProviderMetrics, ConfigError> {
        validate_provider_name(&self.provider)?;
        if let Some(model) = &self.model
            && (model.is_empty()
                || model.chars().count() > 128
                || model.chars().any(char::is_control))
        {
            return Err(ConfigError::Invalid {
                field: format!("{}.model", self.provider),
                value: model.chars().take(128).collect(),
                reason: "1 to 128 characters, none of them control characters",
            });
        }
        if let Some(limit) = self.concurrency_limit {
            voxscope_core::validate_nonzero("concurrency_limit", limit)?;
        }
        if self.model_label && self.model.is_none() {
            return Err(ConfigError::Invalid {
                field: format!("{}.model_label", self.provider),
                value: "true".to_owned(),
                reason: "a model set with model()",
            });
        }
        if let Some(price) = &self.price {
            price.validate(&self.provider)?;
        }
        let token_model = self.model.clone().filter(|_| self.model_label);
        let instruments = Arc::new(Instruments::new(
            self.kind,
            self.provider,
            self.concurrency_limit,
            token_model,
            self.price,
        ));
        instruments.publish_limit();
        Ok(ProviderMetrics {
            instruments,
            ttfb_from_speech_end: self.ttfb_from_speech_end,
            model: self.model,
        })
    }
}

pub(crate) fn validate_provider_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        // The value goes into the message: a name is code, and one that looks like a
        // key is exactly what this check exists to catch before it becomes a label.
        Err(ConfigError::Invalid {
            field: "provider".to_owned(),
            value: name.chars().take(64).collect(),
            reason: "1 to 64 letters, digits, '_', '-' or '.'",
        })
    }
}

/// One provider request in progress. Records `voice_provider_requests_total`, the
/// duration, errors and usage when it ends, and holds `voice_provider_in_flight` up
/// until then. However it ends (success, error, drop, panic), it records exactly once.
///
/// Carries a `provider` span, child of the span current at [`ProviderMetrics::start`]
/// (the request or call span), with the OpenTelemetry GenAI attributes
/// `gen_ai.operation.name` ([`ProviderKind::operation_name`]), `gen_ai.provider.name`,
/// `gen_ai.request.model` (when [set](ProviderMetricsBuilder::model)) and, at the end,
/// `gen_ai.usage.input_tokens` and `gen_ai.usage.output_tokens` (when reported), plus
/// `voice.provider.kind`, `outcome` and `error.type`; never a key, URL or payload.
#[derive(Debug)]
pub struct ProviderCall {
    instruments: Arc<Instruments>,
    span: tracing::Span,
    start: Instant,
    speech_end: Option<Instant>,
    usage: Usage,
    end: Option<(Outcome, Option<ErrorClass>)>,
    first_byte_seen: bool,
    ttfb_from_speech_end: bool,
    /// For the request's log line: TTFB once known, items seen, the trace at start.
    ttfb: Option<std::time::Duration>,
    items: u64,
    trace: TraceRef,
    /// Set while the observed future is polled: still set at drop, the poll panicked,
    /// even when an outer `catch_unwind` has already stopped the unwinding.
    polling: bool,
}

impl ProviderCall {
    fn start(
        instruments: Arc<Instruments>,
        ttfb_from_speech_end: bool,
        model: Option<&str>,
    ) -> Self {
        instruments.handles().in_flight.increment(1.0);
        let span = tracing::info_span!(
            "provider",
            otel.kind = "client",
            voice.provider.kind = instruments.kind().as_str(),
            gen_ai.operation.name = instruments.kind().operation_name(),
            gen_ai.provider.name = instruments.provider().as_ref(),
            gen_ai.request.model = model,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            outcome = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        Self {
            instruments,
            span,
            start: Instant::now(),
            speech_end: None,
            usage: Usage::default(),
            end: None,
            first_byte_seen: false,
            ttfb_from_speech_end,
            ttfb: None,
            items: 0,
            trace: TraceRef::current(),
            polling: false,
        }
    }

    /// The `provider` span, to enter while talking to the provider.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The first chunk, token, audio byte or result arrived: records TTFB, once.
    pub fn first_byte(&mut self) {
        if !self.first_byte_seen {
            self.first_byte_seen = true;
            if !self.ttfb_from_speech_end {
                let ttfb = self.start.elapsed();
                self.ttfb = Some(ttfb);
                self.instruments.handles().ttfb.record(ttfb.as_secs_f64());
            }
        }
    }

    /// STT: the caller stopped speaking (the app's end-of-speech detection).
    pub fn speech_ended(&mut self) {
        self.speech_end = Some(Instant::now());
    }

    /// STT: the final transcript of the turn arrived; records TTFB from the last
    /// [`speech_ended`](Self::speech_ended), once per mark.
    pub fn final_transcript(&mut self) {
        if let Some(mark) = self.speech_end.take() {
            let ttfb = mark.elapsed();
            self.ttfb = Some(ttfb);
            self.instruments.handles().ttfb.record(ttfb.as_secs_f64());
        }
    }

    /// From now on TTFB is only what [`record_ttfb`](Self::record_ttfb) says.
    pub(crate) fn time_from_speech_end(&mut self) {
        self.ttfb_from_speech_end = true;
    }

    /// Records a TTFB measured by the caller (end of speech to final transcript).
    pub(crate) fn record_ttfb(&mut self, waited: std::time::Duration) {
        self.ttfb = Some(waited);
        self.instruments.handles().ttfb.record(waited.as_secs_f64());
    }

    /// Adds usage, recorded when the request ends.
    pub fn add_usage(&mut self, usage: Usage) {
        self.usage += usage;
    }

    /// Ends the request as `ok`.
    pub fn succeed(mut self) {
        self.end_ok();
    }

    /// Ends the request as failed with `class` (outcome `timeout` for
    /// [`ErrorClass::Timeout`], else `error`).
    pub fn fail(mut self, class: ErrorClass) {
        self.end_failed(class);
    }

    pub(crate) fn end_ok(&mut self) {
        self.end.get_or_insert((Outcome::Ok, None));
    }

    pub(crate) fn end_failed(&mut self, class: ErrorClass) {
        let outcome = if class == ErrorClass::Timeout { Outcome::Timeout } else { Outcome::Error };
        self.end.get_or_insert((outcome, Some(class)));
    }

    /// [`poll_in`](Self::poll_in) while the request is on, a plain poll after it ended.
    pub(crate) fn poll_in_while<R>(call: &mut Option<ProviderCall>, poll: impl FnOnce() -> R) -> R {
        match call {
            Some(call) => call.poll_in(poll),
            None => poll(),
        }
    }

    /// One more item (chunk, token, transcript, body frame) for the log line's `chunks`.
    pub(crate) fn count_item(&mut self) {
        self.items = self.items.saturating_add(1);
    }

    pub(crate) fn saw_first_byte(&self) -> bool {
        self.first_byte_seen
    }

    /// Runs one poll of the provider's future or stream: inside the span, so that the
    /// client's own events and spans nest under it, and flagged, so that a panic in it is
    /// told from a cancellation. A disabled span is not entered: with tracing off (or with
    /// no subscriber but `tracing/log`), entering costs more per streamed item than all
    /// the rest of the wrapper.
    pub(crate) fn poll_in<R>(&mut self, poll: impl FnOnce() -> R) -> R {
        self.polling = true;
        let result = if self.span.is_disabled() {
            poll()
        } else {
            let _entered = self.span.enter();
            poll()
        };
        self.polling = false;
        result
    }
}

impl Drop for ProviderCall {
    fn drop(&mut self) {
        let (outcome, class) = match self.end {
            Some(end) => end,
            None if self.polling || std::thread::panicking() => {
                (Outcome::Error, Some(ErrorClass::Other))
            }
            None => (Outcome::Cancelled, None),
        };
        let handles = self.instruments.handles();
        handles.request(outcome).increment(1);
        if let Some(class) = class {
            handles.error(class).increment(1);
            self.span.record("error.type", class.as_str());
        }
        let total = self.start.elapsed();
        handles.duration.record(total.as_secs_f64());
        handles.in_flight.decrement(1.0);
        if !self.usage.is_empty() {
            self.instruments.record_usage(&self.usage);
            if self.usage.input_tokens > 0 || self.usage.output_tokens > 0 {
                self.span.record("gen_ai.usage.input_tokens", self.usage.input_tokens);
                self.span.record("gen_ai.usage.output_tokens", self.usage.output_tokens);
            }
        }
        self.span.record("outcome", outcome.as_str());
        log_line::request(
            &self.span,
            RequestLine {
                kind: self.instruments.kind(),
                provider: self.instruments.provider(),
                trace: self.trace,
                ttfb: self.ttfb,
                total,
                chunks: self.items,
                outcome,
                class,
            },
        );
    }
}
