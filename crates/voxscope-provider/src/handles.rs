//! The warm-handle cache of one (kind, provider): after the first request, recording
//! takes no allocation, no lock and no registry lookup.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Gauge, Histogram, SharedString};
use voxscope_core::catalog::{
    GEN_AI_CLIENT_TOKEN_USAGE, VOICE_PROVIDER_CIRCUIT_OPEN, VOICE_PROVIDER_CONCURRENCY_LIMIT,
    VOICE_PROVIDER_COST_TOTAL, VOICE_PROVIDER_ERRORS_TOTAL, VOICE_PROVIDER_IN_FLIGHT,
    VOICE_PROVIDER_REQUEST_DURATION, VOICE_PROVIDER_REQUESTS_TOTAL, VOICE_PROVIDER_TTFB,
    VOICE_STT_AUDIO_SECONDS_TOTAL, VOICE_TTS_CHARACTERS_TOTAL,
};

use crate::class::ErrorClass;
use crate::kind::{Outcome, ProviderKind};
use crate::price::Price;
use crate::usage::Usage;

/// Handles are registered on first use with whichever recorder is current then, so a
/// provider set up before the recorder was installed still records into it.
#[derive(Debug)]
pub(crate) struct Instruments {
    kind: ProviderKind,
    provider: SharedString,
    concurrency_limit: Option<usize>,
    /// The `model` label of token usage, when enabled.
    token_model: Option<SharedString>,
    price: Option<Price>,
    cost_micros: AtomicU64,
    warm: OnceLock<Handles>,
    circuit: OnceLock<Gauge>,
    usage: OnceLock<UsageHandles>,
    audio_micros: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Handles {
    requests: [Counter; Outcome::ALL.len()],
    errors: [Counter; ErrorClass::ALL.len()],
    pub(crate) duration: Histogram,
    pub(crate) ttfb: Histogram,
    pub(crate) in_flight: Gauge,
}

#[derive(Debug)]
struct UsageHandles {
    input_tokens: Histogram,
    output_tokens: Histogram,
    characters: Counter,
    audio_seconds: Counter,
    cost: Option<Counter>,
}

impl Instruments {
    pub(crate) fn new(
        kind: ProviderKind,
        provider: SharedString,
        concurrency_limit: Option<usize>,
        token_model: Option<SharedString>,
        price: Option<Price>,
    ) -> Self {
        Self {
            kind,
            provider,
            concurrency_limit,
            token_model,
            price,
            cost_micros: AtomicU64::new(0),
            warm: OnceLock::new(),
            circuit: OnceLock::new(),
            usage: OnceLock::new(),
            audio_micros: AtomicU64::new(0),
        }
    }

    pub(crate) fn kind(&self) -> ProviderKind {
        self.kind
    }

    pub(crate) fn provider(&self) -> &SharedString {
        &self.provider
    }

    pub(crate) fn handles(&self) -> &Handles {
        self.warm.get_or_init(|| self.register())
    }

    /// `voice_provider_circuit_open`, at 0 from its first use.
    pub(crate) fn circuit(&self) -> &Gauge {
        self.circuit.get_or_init(|| {
            let gauge = metrics::gauge!(VOICE_PROVIDER_CIRCUIT_OPEN.name, &self.labels());
            gauge.set(0.0);
            gauge
        })
    }

    /// Sets `voice_provider_circuit_open` in the recorder current now, without caching
    /// the handle: a chain built before the recorder was installed still registers its
    /// handles at first use.
    pub(crate) fn publish_circuit(&self, value: f64) {
        metrics::gauge!(VOICE_PROVIDER_CIRCUIT_OPEN.name, &self.labels()).set(value);
    }

    /// Publishes `voice_provider_concurrency_limit` in the recorder current now.
    pub(crate) fn publish_limit(&self) {
        if let Some(limit) = self.concurrency_limit {
            metrics::gauge!(VOICE_PROVIDER_CONCURRENCY_LIMIT.name, &self.labels())
                .set(limit as f64);
        }
    }

    pub(crate) fn record_usage(&self, usage: &Usage) {
        let handles = self.usage.get_or_init(|| {
            let provider = self.provider.clone();
            let tokens = |token_type: &'static str| match &self.token_model {
                Some(model) => metrics::histogram!(
                    GEN_AI_CLIENT_TOKEN_USAGE.name,
                    "provider" => provider.clone(),
                    "token_type" => token_type,
                    "model" => model.clone()
                ),
                None => metrics::histogram!(
                    GEN_AI_CLIENT_TOKEN_USAGE.name,
                    "provider" => provider.clone(),
                    "token_type" => token_type
                ),
            };
            UsageHandles {
                input_tokens: tokens("input"),
                output_tokens: tokens("output"),
                characters: metrics::counter!(
                    VOICE_TTS_CHARACTERS_TOTAL.name, "provider" => provider.clone()
                ),
                audio_seconds: metrics::counter!(
                    VOICE_STT_AUDIO_SECONDS_TOTAL.name, "provider" => provider.clone()
                ),
                cost: self.price.as_ref().map(|price| {
                    metrics::counter!(
                        VOICE_PROVIDER_COST_TOTAL.name,
                        "kind" => self.kind.as_str(),
                        "provider" => provider.clone(),
                        "currency" => price.currency().clone()
                    )
                }),
            }
        });
        // A request reports input and output together; a zero on one side is still an
        // observation of that request.
        if usage.input_tokens > 0 || usage.output_tokens > 0 {
            handles.input_tokens.record(usage.input_tokens as f64);
            handles.output_tokens.record(usage.output_tokens as f64);
        }
        if usage.characters > 0 {
            handles.characters.increment(usage.characters);
        }
        if usage.audio_seconds > 0.0 {
            add_whole_units(&self.audio_micros, usage.audio_seconds, &handles.audio_seconds);
        }
        if let (Some(price), Some(cost)) = (&self.price, &handles.cost) {
            add_whole_units(&self.cost_micros, price.cost(usage), cost);
        }
    }

    fn labels(&self) -> [(&'static str, SharedString); 2] {
        [("kind", SharedString::const_str(self.kind.as_str())), ("provider", self.provider.clone())]
    }

    fn register(&self) -> Handles {
        let [kind, provider] = self.labels();
        let with = |key: &'static str, value: &'static str| {
            [kind.clone(), provider.clone(), (key, SharedString::const_str(value))]
        };
        let labels = self.labels();
        let in_flight = metrics::gauge!(VOICE_PROVIDER_IN_FLIGHT.name, &labels);
        self.publish_limit();
        Handles {
            requests: Outcome::ALL.map(|outcome| {
                metrics::counter!(
                    VOICE_PROVIDER_REQUESTS_TOTAL.name,
                    &with("outcome", outcome.as_str())
                )
            }),
            errors: ErrorClass::ALL.map(|class| {
                metrics::counter!(VOICE_PROVIDER_ERRORS_TOTAL.name, &with("error", class.as_str()))
            }),
            duration: metrics::histogram!(VOICE_PROVIDER_REQUEST_DURATION.name, &labels),
            ttfb: metrics::histogram!(VOICE_PROVIDER_TTFB.name, &labels),
            in_flight,
        }
    }
}

/// Adds `amount` to a counter of whole units: the `metrics` counter counts integers, so
/// the millionths are kept in `micros` and each whole unit is added once complete; many
/// small amounts (short utterances, cheap requests) still sum to the right total.
fn add_whole_units(micros: &AtomicU64, amount: f64, counter: &Counter) {
    let added = (amount * 1e6).round() as u64;
    let before = micros.fetch_add(added, Ordering::Relaxed);
    let whole = (before + added) / 1_000_000 - before / 1_000_000;
    if whole > 0 {
        counter.increment(whole);
    }
}

impl Handles {
    pub(crate) fn request(&self, outcome: Outcome) -> &Counter {
        &self.requests[outcome.index()]
    }

    pub(crate) fn error(&self, class: ErrorClass) -> &Counter {
        &self.errors[class.index()]
    }
}
