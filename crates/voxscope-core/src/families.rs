//! Metric families: voxscope's metrics, and an application's, switched on and off by
//! group (`enabled_metrics` in the config).
//!
//! The built-in families are [`BUILT_IN`]: `http`, `calls`, one per provider kind
//! (`providers.stt`, `providers.llm`, `providers.tts`; `providers` names all three),
//! `tracing` (tracing and self-observation) and `process`; each family of an
//! [`AppCatalog`] is one more. [`Families::layer`] gives the recorder layer that turns
//! every registration of a disabled family into a no-op handle, so recording into it
//! costs nothing; `voxscope_label_overflow_total` is never switched off.
//!
//! ```
//! use metrics_util::debugging::DebuggingRecorder;
//! use metrics_util::layers::Layer;
//! use voxscope_core::catalog::AppCatalog;
//! use voxscope_core::families::Families;
//!
//! let app = AppCatalog::new();
//! let families = Families::only(["http", "providers.llm"], &app).unwrap();
//! let debugging = DebuggingRecorder::new();
//! let snapshotter = debugging.snapshotter();
//! let recorder = families.layer(&app).layer(debugging);
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::gauge!("http_server_active_requests", "method" => "GET").set(1.0);
//!     metrics::gauge!("voice_calls_active", "transport" => "twilio").set(1.0);
//!     metrics::counter!("voice_provider_requests_total", "kind" => "llm").increment(1);
//!     metrics::counter!("voice_provider_requests_total", "kind" => "tts").increment(1);
//! });
//! let mut kept: Vec<String> = snapshotter
//!     .snapshot()
//!     .into_vec()
//!     .into_iter()
//!     .map(|(key, ..)| key.key().to_string())
//!     .collect();
//! kept.sort();
//! assert_eq!(kept.len(), 2, "{kept:?}"); // the HTTP gauge and the LLM requests
//! assert!(kept[1].contains("llm"));
//! ```

use std::collections::{BTreeSet, HashSet};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::layers::Layer;

use crate::catalog::{self, AppCatalog, MetricDef, Subsystem};
use crate::error::ConfigError;

/// HTTP server metrics (voxscope-http).
pub const HTTP: &str = "http";
/// Call metrics (voxscope-call).
pub const CALLS: &str = "calls";
/// Speech-to-text provider metrics.
pub const PROVIDERS_STT: &str = "providers.stt";
/// LLM provider metrics.
pub const PROVIDERS_LLM: &str = "providers.llm";
/// Text-to-speech provider metrics.
pub const PROVIDERS_TTS: &str = "providers.tts";
/// Tracing and self-observation metrics.
pub const TRACING: &str = "tracing";
/// Process CPU, memory and file descriptors.
pub const PROCESS: &str = "process";
/// `enabled_metrics` shorthand for the three provider kinds.
pub const PROVIDERS: &str = "providers";

/// Every built-in family.
pub const BUILT_IN: &[&str] =
    &[HTTP, CALLS, PROVIDERS_STT, PROVIDERS_LLM, PROVIDERS_TTS, TRACING, PROCESS];

const PROVIDER_KINDS: [&str; 3] = [PROVIDERS_STT, PROVIDERS_LLM, PROVIDERS_TTS];

/// Which family decides whether a metric's series are recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership<'a> {
    /// Never switched off (the fold counter, metrics nobody declared).
    Always,
    /// One family.
    Family(&'a str),
    /// A provider metric with a `kind` label: `providers.<kind>` of each series.
    ByKind,
    /// A provider metric of no kind (configuration checks): on while any kind is.
    AnyProvider,
}

/// The family of metric `name`, a built-in or one of `app`'s.
///
/// ```
/// use voxscope_core::catalog::AppCatalog;
/// use voxscope_core::families::{Membership, membership};
///
/// let app = AppCatalog::new();
/// assert_eq!(membership("voice_turn_latency_seconds", &app), Membership::Family("calls"));
/// assert_eq!(membership("gen_ai_client_token_usage", &app), Membership::Family("providers.llm"));
/// assert_eq!(membership("voice_provider_ttfb_seconds", &app), Membership::ByKind);
/// assert_eq!(membership("my_own_total", &app), Membership::Always);
/// ```
pub fn membership<'a>(name: &str, app: &'a AppCatalog) -> Membership<'a> {
    if let Some(metric) = app.find(name) {
        return Membership::Family(&metric.family);
    }
    let Some(def) = catalog::find(name) else { return Membership::Always };
    builtin_membership(def)
}

fn builtin_membership(def: &MetricDef) -> Membership<'static> {
    if def.name == catalog::VOXSCOPE_LABEL_OVERFLOW_TOTAL.name {
        return Membership::Always;
    }
    match def.subsystem {
        Subsystem::Http => Membership::Family(HTTP),
        Subsystem::Call => Membership::Family(CALLS),
        Subsystem::SelfObservation => Membership::Family(TRACING),
        Subsystem::Process => Membership::Family(PROCESS),
        Subsystem::Provider if def.has_label("kind") => Membership::ByKind,
        Subsystem::Provider => match def.name {
            n if n == catalog::GEN_AI_CLIENT_TOKEN_USAGE.name => Membership::Family(PROVIDERS_LLM),
            n if n == catalog::VOICE_TTS_CHARACTERS_TOTAL.name => Membership::Family(PROVIDERS_TTS),
            n if n == catalog::VOICE_STT_AUDIO_SECONDS_TOTAL.name => {
                Membership::Family(PROVIDERS_STT)
            }
            _ => Membership::AnyProvider,
        },
    }
}

/// The families switched on: all of them, or the ones `enabled_metrics` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Families {
    /// `None`: every family.
    enabled: Option<BTreeSet<String>>,
}

impl Families {
    /// Every family on.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only the families `names` lists: built-in ones, `providers` for the three kinds,
    /// and the families of `app`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] on `enabled_metrics` for a name that is no family.
    pub fn only<I, S>(names: I, app: &AppCatalog) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut enabled = BTreeSet::new();
        for name in names {
            let name = name.as_ref();
            if name == PROVIDERS {
                enabled.extend(PROVIDER_KINDS.map(str::to_owned));
            } else if BUILT_IN.contains(&name) || app.families().contains(&name) {
                enabled.insert(name.to_owned());
            } else {
                return Err(ConfigError::Invalid {
                    field: "enabled_metrics".into(),
                    value: name.to_owned(),
                    reason: "a family: http, calls, providers, providers.stt, providers.llm, \
                             providers.tts, tracing, process or one of the application's",
                });
            }
        }
        Ok(Self { enabled: Some(enabled) })
    }

    /// Whether every family is on.
    pub fn is_all(&self) -> bool {
        self.enabled.is_none()
    }

    /// Whether `family` is on.
    pub fn is_enabled(&self, family: &str) -> bool {
        self.enabled.as_ref().is_none_or(|on| on.contains(family))
    }

    /// Whether a series of metric `name` whose `kind` label is `kind` is recorded.
    pub fn series_enabled(&self, name: &str, kind: Option<&str>, app: &AppCatalog) -> bool {
        match membership(name, app) {
            Membership::Always => true,
            Membership::Family(family) => self.is_enabled(family),
            Membership::ByKind => match kind {
                Some(kind) => self.is_enabled(&format!("providers.{kind}")),
                None => self.any_provider(),
            },
            Membership::AnyProvider => self.any_provider(),
        }
    }

    /// Whether any series of metric `name` can be recorded.
    pub fn metric_enabled(&self, name: &str, app: &AppCatalog) -> bool {
        match membership(name, app) {
            Membership::ByKind => self.any_provider(),
            _ => self.series_enabled(name, None, app),
        }
    }

    fn any_provider(&self) -> bool {
        PROVIDER_KINDS.iter().any(|k| self.is_enabled(k))
    }

    /// The recorder layer that drops the series of disabled families.
    pub fn layer(&self, app: &AppCatalog) -> FamilyFilterLayer {
        let mut off_names = HashSet::new();
        let mut by_kind = HashSet::new();
        let names =
            catalog::ALL.iter().map(|d| d.name).chain(app.metrics().iter().map(|m| &*m.name));
        for name in names {
            if !self.metric_enabled(name, app) {
                off_names.insert(name.to_owned());
            } else if membership(name, app) == Membership::ByKind && !self.is_all() {
                by_kind.insert(name.to_owned());
            }
        }
        let off_kinds = PROVIDER_KINDS
            .iter()
            .filter(|k| !self.is_enabled(k))
            .map(|k| k.trim_start_matches("providers.").to_owned())
            .collect();
        FamilyFilterLayer { off_names, by_kind, off_kinds }
    }
}

/// A [`Layer`] that turns the registrations of disabled families into no-op handles;
/// from [`Families::layer`].
#[derive(Clone, Debug, Default)]
pub struct FamilyFilterLayer {
    off_names: HashSet<String>,
    by_kind: HashSet<String>,
    off_kinds: Vec<String>,
}

impl<R> Layer<R> for FamilyFilterLayer {
    type Output = FamilyFilter<R>;

    fn layer(&self, inner: R) -> Self::Output {
        FamilyFilter { inner, filter: self.clone() }
    }
}

/// The recorder that [`FamilyFilterLayer`] wraps around another.
#[derive(Debug)]
pub struct FamilyFilter<R> {
    inner: R,
    filter: FamilyFilterLayer,
}

impl<R> FamilyFilter<R> {
    /// The wrapped recorder.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    fn drops(&self, key: &Key) -> bool {
        let f = &self.filter;
        if f.off_names.is_empty() && f.by_kind.is_empty() {
            return false;
        }
        let name = key.name();
        f.off_names.contains(name)
            || (f.by_kind.contains(name)
                && key
                    .labels()
                    .any(|l| l.key() == "kind" && f.off_kinds.iter().any(|k| k == l.value())))
    }

    fn describes(&self, name: &KeyName) -> bool {
        !self.filter.off_names.contains(name.as_str())
    }
}

impl<R: Recorder> Recorder for FamilyFilter<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.describes(&key) {
            self.inner.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.describes(&key) {
            self.inner.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.describes(&key) {
            self.inner.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.drops(key) { Counter::noop() } else { self.inner.register_counter(key, metadata) }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.drops(key) { Gauge::noop() } else { self.inner.register_gauge(key, metadata) }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.drops(key) {
            Histogram::noop()
        } else {
            self.inner.register_histogram(key, metadata)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::AppMetric;

    #[test]
    fn every_builtin_metric_belongs_to_a_family_that_can_switch_it_off() {
        let app = AppCatalog::new();
        let none = Families::only(Vec::<String>::new(), &app).unwrap();
        for def in catalog::ALL {
            let always = def.name == catalog::VOXSCOPE_LABEL_OVERFLOW_TOTAL.name;
            assert_eq!(none.metric_enabled(def.name, &app), always, "{}", def.name);
            assert!(Families::all().metric_enabled(def.name, &app), "{}", def.name);
        }
    }

    #[test]
    fn provider_kinds_and_app_families_switch_separately() {
        let app = AppCatalog::new()
            .metric(AppMetric::gauge("queue_depth", "Jobs.").family("ops"))
            .metric(AppMetric::gauge("basket_value", "Value.").family("shop"));
        let f = Families::only(["providers.tts", "shop"], &app).unwrap();
        let ttfb = catalog::VOICE_PROVIDER_TTFB.name;
        assert!(f.series_enabled(ttfb, Some("tts"), &app));
        assert!(!f.series_enabled(ttfb, Some("stt"), &app));
        assert!(f.metric_enabled(ttfb, &app));
        assert!(f.metric_enabled(catalog::VOXSCOPE_CONFIG_MISSING.name, &app));
        assert!(!f.metric_enabled(catalog::GEN_AI_CLIENT_TOKEN_USAGE.name, &app));
        assert!(f.metric_enabled("basket_value", &app));
        assert!(!f.metric_enabled("queue_depth", &app));
        let err = Families::only(["calls", "billing"], &app).unwrap_err();
        assert!(err.to_string().starts_with("enabled_metrics: a family"), "{err}");
        let all = Families::only(["providers"], &app).unwrap();
        assert!(all.series_enabled(ttfb, Some("stt"), &app));
    }
}
