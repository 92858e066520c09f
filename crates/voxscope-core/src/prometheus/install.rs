//! Building and installing the Prometheus recorder.

use std::sync::Arc;
use std::time::Duration;

use metrics::Recorder;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use metrics_util::layers::Layer;

use crate::cardinality::{
    CardinalityGuard, CardinalityLimit, DeclaredLabels, DeclaredLabelsRecorder,
};
use crate::catalog::{self, AppCatalog, MetricKind};
use crate::error::{ConfigError, validate_buckets};
use crate::families::{self, Families, FamilyFilter};

/// The recorder [`PrometheusInstaller::build`] makes: the family filter over the
/// folding of undeclared application label values, over the cardinality guard, over the
/// gate that keeps histogram records out of the exporter's drains, over the Prometheus
/// recorder.
pub type VoxscopeRecorder =
    FamilyFilter<DeclaredLabelsRecorder<CardinalityGuard<Gated<PrometheusRecorder>>>>;

use super::MetricsEndpoint;
use super::gate::{DrainGate, GateLayer, Gated};

/// Why the recorder could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A setting was invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A global `metrics` recorder was already installed in this process.
    #[error("a global metrics recorder is already installed")]
    AlreadyInstalled,
    /// The upkeep thread could not be started.
    #[error("could not start the upkeep thread: {0}")]
    Upkeep(#[source] std::io::Error),
}

/// Builds the metrics-exporter-prometheus recorder with the catalog's buckets and help
/// texts, behind the cardinality guard.
///
/// ```no_run
/// use std::time::Duration;
/// use voxscope_core::prometheus::PrometheusInstaller;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = PrometheusInstaller::new()
///     .upkeep_interval(Duration::from_secs(5))
///     .buckets_for("voice_turn_latency_seconds", &[0.3, 0.5, 0.8, 1.0, 2.0])
///     .install()?;
/// let app: axum::Router = axum::Router::new().merge(metrics.endpoint().into_router());
/// # Ok(()) }
/// ```
///
/// No idle timeout is set: voxscope's layers hold metric handles, and a handle whose
/// series was evicted keeps receiving writes that are never rendered.
#[derive(Clone, Debug)]
pub struct PrometheusInstaller {
    bucket_overrides: Vec<(String, Vec<f64>)>,
    cardinality: CardinalityLimit,
    upkeep_interval: Duration,
    process_metrics: bool,
    global_labels: Vec<(String, String)>,
    app: AppCatalog,
    families: Families,
}

impl Default for PrometheusInstaller {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusInstaller {
    /// Catalog buckets, a 2,000-combination cap per metric, upkeep every 5 s, process
    /// metrics on.
    pub fn new() -> Self {
        Self {
            bucket_overrides: Vec::new(),
            cardinality: CardinalityLimit::default(),
            upkeep_interval: Duration::from_secs(5),
            process_metrics: true,
            global_labels: Vec::new(),
            app: AppCatalog::new(),
            families: Families::all(),
        }
    }

    /// Sets the buckets of one histogram (validated when built): replaces the catalog's
    /// for a voxscope histogram, or gives an application's own histogram its buckets
    /// (without them it would render as a summary).
    ///
    /// ```
    /// use voxscope_core::prometheus::PrometheusInstaller;
    ///
    /// let (recorder, metrics) = PrometheusInstaller::new()
    ///     .buckets_for("appointments_booking_seconds", &[0.5, 1.0, 5.0])
    ///     .build()
    ///     .unwrap();
    /// metrics::with_local_recorder(&recorder, || {
    ///     metrics::histogram!("appointments_booking_seconds").record(0.7);
    /// });
    /// assert!(metrics.render().contains(r#"appointments_booking_seconds_bucket{le="1"} 1"#));
    /// ```
    pub fn buckets_for(mut self, metric: &str, buckets: &[f64]) -> Self {
        self.bucket_overrides.push((metric.to_owned(), buckets.to_vec()));
        self
    }

    /// Sets the per-metric caps on label-value combinations.
    pub fn cardinality_limit(mut self, limit: CardinalityLimit) -> Self {
        self.cardinality = limit;
        self
    }

    /// How often the upkeep thread drains histogram buffers (installed recorders only);
    /// zero is rejected when built.
    pub fn upkeep_interval(mut self, interval: Duration) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// Whether `/metrics` also reports process CPU, memory and file descriptors
    /// (collected by `metrics-process` at each render of an installed recorder).
    pub fn process_metrics(mut self, enabled: bool) -> Self {
        self.process_metrics = enabled;
        self
    }

    /// Declares an application's own metrics (validated when built): they get their
    /// buckets and HELP like voxscope's, and label values outside their declaration are
    /// folded to `__overflow__` and counted in `voxscope_label_overflow_total`.
    ///
    /// ```
    /// use voxscope_core::catalog::{AppCatalog, AppMetric};
    /// use voxscope_core::prometheus::PrometheusInstaller;
    ///
    /// let app = AppCatalog::new().metric(
    ///     AppMetric::histogram("csat_score", "Satisfaction, 1 to 10.", &[3.0, 7.0, 10.0])
    ///         .label_values("tier", ["free", "pro"]),
    /// );
    /// let (recorder, metrics) = PrometheusInstaller::new().app_metrics(&app).build().unwrap();
    /// metrics::with_local_recorder(&recorder, || {
    ///     metrics::histogram!("csat_score", "tier" => "pro").record(8.0);
    ///     metrics::histogram!("csat_score", "tier" => "gold").record(2.0);
    /// });
    /// let text = metrics.render();
    /// assert!(text.contains("# HELP csat_score Satisfaction, 1 to 10."));
    /// assert!(text.contains(r#"csat_score_bucket{tier="pro",le="10"} 1"#));
    /// assert!(text.contains(r#"csat_score_bucket{tier="__overflow__",le="3"} 1"#));
    /// assert!(text.contains(r#"voxscope_label_overflow_total{metric="csat_score"} 1"#));
    /// ```
    pub fn app_metrics(mut self, app: &AppCatalog) -> Self {
        self.app.extend(app);
        self
    }

    /// Records only the families `families` enables: the series of the others are
    /// dropped at registration, their handles do nothing, and a disabled `process`
    /// family starts no process collector.
    pub fn families(mut self, families: Families) -> Self {
        self.families = families;
        self
    }

    /// Adds a label to every series, such as `service` or `region`.
    pub fn global_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.global_labels.push((key.into(), value.into()));
        self
    }

    /// Builds the recorder without installing it, for `metrics::with_local_recorder` or
    /// to compose with other recorder layers. The caller runs
    /// [`MetricsHandle::run_upkeep`] (rendering does it too).
    ///
    /// # Errors
    /// [`InstallError::Config`] for an invalid bucket list, naming the metric; buckets
    /// for a catalog metric that is not a histogram; a zero upkeep interval; an invalid
    /// application metric.
    pub fn build(self) -> Result<(VoxscopeRecorder, MetricsHandle), InstallError> {
        if self.upkeep_interval.is_zero() {
            return Err(ConfigError::Zero { field: "upkeep_interval".into() }.into());
        }
        self.app.validate()?;
        let mut builder = PrometheusBuilder::new();
        let mut cardinality = self.cardinality.clone();
        for metric in self.app.metrics() {
            let cap = metric.max_series();
            if !metric.labels.is_empty() && cap > cardinality.cap_for(&metric.name) {
                cardinality = cardinality.with_cap_for(&metric.name, cap)?;
            }
            let overridden = self.bucket_overrides.iter().any(|(name, _)| *name == metric.name);
            if metric.kind != MetricKind::Histogram || overridden {
                continue;
            }
            let field = format!("buckets.{}", metric.name);
            builder = builder
                .set_buckets_for_metric(Matcher::Full(metric.name.clone()), &metric.buckets)
                .map_err(|_| ConfigError::EmptyBuckets { field })?;
        }
        for def in catalog::ALL.iter().filter(|d| d.kind == MetricKind::Histogram) {
            let buckets = self
                .bucket_overrides
                .iter()
                .rev()
                .find(|(name, _)| name == def.name)
                .map_or(def.buckets, |(_, b)| b.as_slice());
            validate_buckets(&format!("buckets.{}", def.name), buckets)?;
            builder = builder
                .set_buckets_for_metric(Matcher::Full(def.name.to_owned()), buckets)
                .map_err(|_| ConfigError::EmptyBuckets {
                field: format!("buckets.{}", def.name),
            })?;
        }
        let mut own = Vec::<&str>::new();
        for (name, buckets) in self.bucket_overrides.iter().rev() {
            match catalog::find(name) {
                Some(def) if def.kind == MetricKind::Histogram => continue,
                None if self.app.find(name).is_some_and(|m| m.kind != MetricKind::Histogram) => {
                    return Err(ConfigError::Invalid {
                        field: format!("buckets.{name}"),
                        value: name.clone(),
                        reason: "an application metric that is not a histogram",
                    }
                    .into());
                }
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        field: format!("buckets.{name}"),
                        value: name.clone(),
                        reason: "a catalog metric that is not a histogram",
                    }
                    .into());
                }
                None if own.contains(&name.as_str()) => continue,
                None => own.push(name),
            }
            let field = format!("buckets.{name}");
            validate_buckets(&field, buckets)?;
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.clone()), buckets)
                .map_err(|_| ConfigError::EmptyBuckets { field })?;
        }
        for (key, value) in &self.global_labels {
            builder = builder.add_global_label(key, value);
        }
        let recorder = builder.build_recorder();
        let described = catalog::ALL
            .iter()
            .map(|d| (d.name.to_owned(), d.kind, d.unit, d.help.to_owned()))
            .chain(
                self.app.metrics().iter().map(|m| (m.name.clone(), m.kind, m.unit, m.help.clone())),
            );
        for (name, kind, unit, help) in described {
            if !self.families.metric_enabled(&name, &self.app) {
                continue;
            }
            let (unit, help) = (unit.to_metrics_unit(), metrics::SharedString::from(help));
            let name = metrics::KeyName::from(name);
            match kind {
                MetricKind::Counter => recorder.describe_counter(name, unit, help),
                MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
                MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
            }
        }
        let gate = Arc::new(DrainGate::default());
        let handle =
            MetricsHandle { prometheus: recorder.handle(), process: None, gate: Arc::clone(&gate) };
        let recorder = GateLayer(gate).layer(recorder);
        let recorder = self
            .families
            .layer(&self.app)
            .layer(DeclaredLabels::new(&self.app).layer(cardinality.layer(recorder)));
        Ok((recorder, handle))
    }

    /// Builds the recorder, installs it as the global `metrics` recorder and starts the
    /// upkeep thread (without upkeep, histogram memory grows without bound).
    ///
    /// # Errors
    /// [`InstallError::AlreadyInstalled`] when a global recorder exists, and the errors
    /// of [`build`](Self::build).
    pub fn install(self) -> Result<MetricsHandle, InstallError> {
        let interval = self.upkeep_interval;
        let process_metrics = self.process_metrics && self.families.is_enabled(families::PROCESS);
        let (recorder, mut handle) = self.build()?;
        metrics::set_global_recorder(recorder).map_err(|_| InstallError::AlreadyInstalled)?;
        if process_metrics {
            let collector = metrics_process::Collector::default();
            collector.describe();
            handle.process = Some(Arc::new(collector));
        }
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("voxscope-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    upkeep.run_upkeep();
                }
            })
            .map_err(InstallError::Upkeep)?;
        Ok(handle)
    }
}

/// A cheap, cloneable handle to the installed recorder: renders the exposition and
/// builds the `/metrics` endpoint.
#[derive(Clone)]
pub struct MetricsHandle {
    prometheus: PrometheusHandle,
    process: Option<Arc<metrics_process::Collector>>,
    gate: Arc<DrainGate>,
}

impl std::fmt::Debug for MetricsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsHandle").field("process_metrics", &self.process.is_some()).finish()
    }
}

impl MetricsHandle {
    /// Renders the Prometheus text exposition. This blocks for as long as the render
    /// takes (about 100 ms for 10k histogram series): from async code use
    /// [`render_off_thread`](Self::render_off_thread).
    pub fn render(&self) -> String {
        if let Some(process) = &self.process {
            process.collect();
        }
        self.gate.exclusive(|| self.prometheus.render())
    }

    /// Renders on tokio's blocking pool, keeping the async workers free.
    pub async fn render_off_thread(&self) -> Option<String> {
        let handle = self.clone();
        tokio::task::spawn_blocking(move || handle.render()).await.ok()
    }

    /// Drains histogram buffers; the installed recorder's upkeep thread calls this.
    pub fn run_upkeep(&self) {
        self.gate.exclusive(|| self.prometheus.run_upkeep());
    }

    /// The underlying metrics-exporter-prometheus handle. Render and run the upkeep
    /// through [`render`](Self::render) and [`run_upkeep`](Self::run_upkeep): this
    /// handle's own drain histogram samples without waiting for the records in flight,
    /// and can lose those.
    pub fn prometheus_handle(&self) -> &PrometheusHandle {
        &self.prometheus
    }

    /// A `GET /metrics` endpoint for this handle.
    pub fn endpoint(&self) -> MetricsEndpoint {
        MetricsEndpoint::new(self.clone())
    }
}
