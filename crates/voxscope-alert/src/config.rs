//! Thresholds, objectives and notification settings, from TOML, validated once.
//!
//! ```
//! let config = voxscope_alert::Config::from_toml(r#"
//!     [thresholds]
//!     http_error_ratio = 0.02
//!     [slo]
//!     http_availability = 0.995
//! "#).unwrap();
//! assert_eq!(config.thresholds.http_error_ratio, 0.02);
//!
//! let err = voxscope_alert::Config::from_toml("[thresholds]\nhttp_latency_p95_seconds = 1.2")
//!     .unwrap_err();
//! assert!(err.to_string().contains("add 1.2 to [buckets] http_server_request_duration_seconds"));
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use voxscope_core::catalog::{self, AppCatalog, MetricKind};
use voxscope_core::families::Families;

use crate::Error;
use crate::custom::{CustomRule, RuleOverride};
use crate::engine::{Engine, Escalation};
use crate::expr::Matcher;
use crate::routing::{Cooldowns, InhibitRuleConfig};

/// The whole configuration; every section and key is optional.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the service and its docs live.
    pub service: Service,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// Service level objectives.
    pub slo: Slos,
    /// Bucket bounds the service installs instead of the catalog's, by metric name.
    pub buckets: BTreeMap<String, Vec<f64>>,
    /// Receivers and routing timings.
    pub alertmanager: Alertmanager,
    /// Overrides of any rule by alertname, or `"AlertName/severity"` for one variant.
    pub rules: BTreeMap<String, RuleOverride>,
    /// Threshold rules on any catalog metric.
    pub custom_rules: Vec<CustomRule>,
    /// The Prometheus, Alertmanager and Grafana stack of `deploy/`.
    pub deploy: Deploy,
    /// Per-severity repeat intervals of notifications.
    pub cooldowns: Cooldowns,
    /// The embedded alerting engine.
    pub engine: Engine,
    /// Escalation of unacknowledged alerts.
    pub escalation: Escalation,
    /// Inhibit rules added to the built-in ones.
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// The embedded engine's HTTP API.
    pub api: Api,
    /// Named receivers beyond the built-in ones, for escalation steps
    /// ([`crate::receiver::named_configs`] adds the default ones).
    pub receivers: BTreeMap<String, crate::receiver::ReceiverConfig>,
    /// How the embedded engine sends notifications.
    pub delivery: crate::delivery::Delivery,
    /// How the embedded engine keeps its own metrics (tiers and persistence).
    pub history: crate::history::History,
    /// Targets of the KPI report.
    pub report: crate::report::Targets,
    /// SMS paging of critical and emergency alerts through Twilio.
    pub sms: crate::receiver::SmsConfig,
    /// The blackbox probe of the service's health endpoint.
    pub probe: crate::probe::Probe,
    /// The host under the service, from the node exporter.
    pub host: crate::host::Host,
    /// The application's own metrics (`[[metrics]]`): their thresholds become alerts,
    /// and they get a business dashboard, like voxscope's.
    pub metrics: AppCatalog,
    /// The metric families recorded (see [`voxscope_core::families`]); absent: all. The
    /// rules and panels of the others are left out of what is generated.
    pub enabled_metrics: Option<Vec<String>>,
    /// Call capacity and provider budgets, and how far ahead their trend is watched.
    pub capacity: crate::capacity::Capacity,
}

/// The embedded engine's HTTP API (`/api/v1/alerts`, `/api/v1/rules` and the
/// Alertmanager-compatible silences). Its write endpoints (add or expire a silence,
/// acknowledge an alert) need `Authorization: Bearer <token>`; the token comes from the
/// `VOXSCOPE_ALERT_API_TOKEN` environment variable, else from `token_file`. With
/// neither, the write endpoints refuse every request.
///
/// ```
/// let config = voxscope_alert::Config::from_toml(
///     "[api]\ntoken_file = \"/run/secrets/alert_api_token\"\n",
/// ).unwrap();
/// assert_eq!(config.api.token_file, "/run/secrets/alert_api_token");
///
/// let err = voxscope_alert::Config::from_toml("[api]\ntoken_file = \"token \"\n").unwrap_err();
/// assert!(err.to_string().contains("api.token_file"), "{err}");
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Api {
    /// File holding the bearer token of the write endpoints; empty for none.
    pub token_file: String,
}

/// The Prometheus, Alertmanager and Grafana stack of `deploy/`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Deploy {
    /// Where Prometheus scrapes the service from the compose network (the demo bound to
    /// `0.0.0.0:3000` on the host, reached through the host gateway).
    pub target: String,
    /// Days of samples Prometheus keeps.
    pub retention_days: u64,
    /// Scrape interval, seconds.
    pub scrape_interval_seconds: u64,
    /// Rule evaluation interval, seconds.
    pub evaluation_interval_seconds: u64,
    /// Where the OpenTelemetry Collector of `deploy/` forwards the service's log records.
    pub logs: LogBackend,
    /// The service's instances in the scale-out variant (`deploy/scale-out/`), each a
    /// `host:port` that its Prometheus scrapes under the one job.
    pub instances: Vec<String>,
}

/// The log store the Collector of `deploy/` forwards log records to (`[deploy] logs`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogBackend {
    /// Grafana Loki, over its native OTLP endpoint, with a Grafana datasource.
    #[default]
    Loki,
    /// Elasticsearch, with Kibana beside it.
    Elasticsearch,
}

impl Default for Deploy {
    fn default() -> Self {
        Self {
            target: "host.docker.internal:3000".to_owned(),
            retention_days: 15,
            scrape_interval_seconds: 15,
            evaluation_interval_seconds: 30,
            logs: LogBackend::Loki,
            instances: vec![
                "host.docker.internal:3000".to_owned(),
                "host.docker.internal:3002".to_owned(),
            ],
        }
    }
}

/// Where the service and its docs live.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// The Prometheus scrape job of the service: the generated `prometheus.yml` scrapes
    /// under it and the unit-test fixtures carry it.
    pub job: String,
    /// The matcher that scopes every selector of every rule and SLO to the service, as
    /// monitoring mixins do, e.g. `job=~"voice-agent-.*"`; it must select `job`.
    /// Empty: `job="<job>"`.
    pub job_selector: String,
    /// Base URL of the runbooks; `runbook_url` is `<base>/<AlertName>.md`.
    pub runbook_base_url: String,
    /// Base URL of Grafana; `dashboard` is `<base>/d/<uid>`.
    pub grafana_url: String,
}

impl Default for Service {
    fn default() -> Self {
        Self {
            job: "voice_agent".to_owned(),
            job_selector: String::new(),
            runbook_base_url: "https://example.invalid/voxscope/deploy/runbooks".to_owned(),
            grafana_url: "http://localhost:3001".to_owned(),
        }
    }
}

/// Warning and critical p95 TTFB for one provider kind, in seconds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TtfbLimits {
    /// Warning above this p95.
    pub warning: f64,
    /// Critical above this p95; also the provider TTFB SLO threshold.
    pub critical: f64,
}

/// Provider TTFB limits by kind.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Ttfb {
    /// Speech-to-text.
    pub stt: TtfbLimits,
    /// LLM.
    pub llm: TtfbLimits,
    /// Text-to-speech.
    pub tts: TtfbLimits,
}

impl Default for Ttfb {
    fn default() -> Self {
        Self {
            stt: TtfbLimits { warning: 0.2, critical: 0.5 },
            llm: TtfbLimits { warning: 1.0, critical: 2.0 },
            tts: TtfbLimits { warning: 0.5, critical: 1.0 },
        }
    }
}

impl Ttfb {
    /// `(kind, limits)` in a fixed order.
    pub fn by_kind(&self) -> [(&'static str, TtfbLimits); 3] {
        [("stt", self.stt), ("llm", self.llm), ("tts", self.tts)]
    }
}

/// Alert thresholds: the operators' defaults, each one overridable from TOML.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// HighAIResponseTime: p95 LLM request duration, seconds (a bucket bound).
    pub llm_duration_p95_seconds: f64,
    /// HighProviderTTFB limits.
    pub ttfb: Ttfb,
    /// LowAudioQuality: mean per-call share of on-time frames.
    pub audio_quality_min: f64,
    /// NegativeSentiment: median sentiment below this (a bucket bound).
    pub sentiment_min: f64,
    /// HighCallErrorRate: share of failed and dropped calls.
    pub call_error_ratio: f64,
    /// HighHTTPErrorRate: share of 5xx responses.
    pub http_error_ratio: f64,
    /// HighResponseTime: p95 HTTP duration, seconds (a bucket bound).
    pub http_latency_p95_seconds: f64,
    /// ProviderErrors: provider errors per minute.
    pub provider_errors_per_minute: f64,
    /// HighFallbackRate warning: fallbacks per provider request.
    pub fallback_ratio_warning: f64,
    /// HighFallbackRate critical.
    pub fallback_ratio_critical: f64,
    /// CallsNearCapacity: live calls over capacity.
    pub calls_capacity_ratio: f64,
    /// HighCPUUsage: CPU seconds per second.
    pub cpu_ratio: f64,
    /// HighMemoryUsage: resident bytes.
    pub memory_bytes: f64,
    /// The memory the service may use (its container or cgroup limit), bytes: resident
    /// memory above 95 % of it for 2 minutes is an emergency.
    pub memory_limit_bytes: f64,
    /// Events an error-ratio or burn-rate alert needs in its window before it may fire:
    /// in a quiet hour one failed call out of three is noise, not an outage.
    pub min_events: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            llm_duration_p95_seconds: 3.0,
            ttfb: Ttfb::default(),
            audio_quality_min: 0.7,
            sentiment_min: -0.3,
            call_error_ratio: 0.05,
            http_error_ratio: 0.05,
            http_latency_p95_seconds: 2.0,
            provider_errors_per_minute: 1.0,
            fallback_ratio_warning: 0.05,
            fallback_ratio_critical: 0.10,
            calls_capacity_ratio: 0.8,
            cpu_ratio: 0.8,
            memory_bytes: 2.0 * 1024.0 * 1024.0 * 1024.0,
            memory_limit_bytes: 4.0 * 1024.0 * 1024.0 * 1024.0,
            min_events: 10,
        }
    }
}

/// A latency objective: `objective` of events at or under `threshold_seconds`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LatencySlo {
    /// Share of good events over 30 days, in (0, 1).
    pub objective: f64,
    /// The good-event bound, seconds (a bucket bound).
    pub threshold_seconds: f64,
}

/// Service level objectives over a 30-day period.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Slos {
    /// Completed calls over all ended calls.
    pub call_availability: f64,
    /// Non-5xx responses over all responses.
    pub http_availability: f64,
    /// Turns answered within the threshold; HighCallLatency uses the same threshold.
    pub turn_latency: LatencySlo,
    /// Provider first bytes within the kind's critical TTFB.
    pub provider_ttfb_objective: f64,
}

impl Default for Slos {
    fn default() -> Self {
        Self {
            call_availability: 0.99,
            http_availability: 0.999,
            turn_latency: LatencySlo { objective: 0.95, threshold_seconds: 0.8 },
            provider_ttfb_objective: 0.99,
        }
    }
}

/// Receivers and routing. Secrets are paths to files Alertmanager reads, never values.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Alertmanager {
    /// SMTP relay, `host:port`.
    pub smtp_smarthost: String,
    /// Sender address.
    pub smtp_from: String,
    /// SMTP user.
    pub smtp_auth_username: String,
    /// File holding the SMTP password.
    pub smtp_auth_password_file: String,
    /// Whether SMTP must use TLS (implicit on port 465, STARTTLS elsewhere).
    pub smtp_require_tls: bool,
    /// On-call mailbox (critical and emergency).
    pub oncall_email: String,
    /// Product team mailbox (quality warnings).
    pub quality_email: String,
    /// File holding the Slack webhook URL.
    pub slack_api_url_file: String,
    /// Slack channel of critical alerts.
    pub slack_critical_channel: String,
    /// Slack channel of warnings.
    pub slack_warning_channel: String,
    /// File holding the PagerDuty Events v2 routing key.
    pub pagerduty_routing_key_file: String,
    /// URL that receives info alerts and unrouted ones as JSON. Alertmanager 0.25 has
    /// no `url_file` for webhooks, so the secret is the bearer token, not the URL.
    pub webhook_url: String,
    /// File holding the webhook's bearer token.
    pub webhook_token_file: String,
    /// Dead-man's-switch URL the always-firing Watchdog alert is sent to every minute.
    pub watchdog_url: String,
    /// Wait before the first notification of a group, seconds; 0 sends at once. The
    /// default 15 s (5 s on the critical and emergency routes, a third of it) with the
    /// embedded engine's 5 s evaluations notifies a firing alert within 20 s.
    pub group_wait_seconds: u64,
    /// Wait between two flushes of a group, seconds: new alerts of a group are notified
    /// at the next flush, and a repeat (see [`Cooldowns`]) only happens at a flush, so a
    /// cooldown below it repeats at every flush.
    pub group_interval_seconds: u64,
}

impl Default for Alertmanager {
    fn default() -> Self {
        let secret = |name: &str| format!("/etc/alertmanager/secrets/{name}");
        Self {
            smtp_smarthost: "smtp.example.org:587".to_owned(),
            smtp_from: "voxscope@example.org".to_owned(),
            smtp_auth_username: "voxscope@example.org".to_owned(),
            smtp_auth_password_file: secret("smtp_password"),
            smtp_require_tls: true,
            oncall_email: "oncall@example.org".to_owned(),
            quality_email: "voice-quality@example.org".to_owned(),
            slack_api_url_file: secret("slack_api_url"),
            slack_critical_channel: "#voice-oncall".to_owned(),
            slack_warning_channel: "#voice-alerts".to_owned(),
            pagerduty_routing_key_file: secret("pagerduty_routing_key"),
            webhook_url: "http://incident-bot:8080/alertmanager".to_owned(),
            webhook_token_file: secret("webhook_token"),
            watchdog_url: "http://incident-bot:8080/watchdog".to_owned(),
            group_wait_seconds: 15,
            group_interval_seconds: 60,
        }
    }
}

impl Config {
    /// Parses and validates a TOML config.
    ///
    /// # Errors
    /// [`Error::Toml`] for syntax, unknown keys and wrong types; otherwise the first
    /// setting out of range, naming its field and value.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The matcher that scopes every rule to the service's job.
    ///
    /// ```
    /// let config = voxscope_alert::Config::default();
    /// assert_eq!(config.job_matcher().render(), r#"job="voice_agent""#);
    /// ```
    pub fn job_matcher(&self) -> Matcher {
        Matcher::parse(&self.service.job_selector)
            .unwrap_or_else(|_| Matcher::eq("job", &self.service.job))
    }

    /// The bucket bounds in effect for `metric`: the override, else the catalog's.
    ///
    /// ```
    /// let config = voxscope_alert::Config::default();
    /// assert!(config.buckets_of("voice_turn_latency_seconds").contains(&0.8));
    /// ```
    pub fn buckets_of(&self, metric: &str) -> &[f64] {
        match (self.buckets.get(metric), self.metrics.find(metric)) {
            (Some(bounds), _) => bounds,
            (None, Some(app)) => &app.buckets,
            (None, None) => catalog::find(metric).map(|def| def.buckets).unwrap_or(&[]),
        }
    }

    /// The families `enabled_metrics` switches on (all when it is absent or invalid;
    /// [`Config::validate`] reports an invalid one).
    ///
    /// ```
    /// let config = voxscope_alert::Config::from_toml("enabled_metrics = [\"http\", \"calls\"]").unwrap();
    /// assert!(config.families().is_enabled("calls"));
    /// assert!(!config.families().is_enabled("process"));
    /// let err = voxscope_alert::Config::from_toml("enabled_metrics = [\"billing\"]").unwrap_err();
    /// assert!(err.to_string().starts_with("enabled_metrics: a family"), "{err}");
    /// ```
    pub fn families(&self) -> Families {
        match &self.enabled_metrics {
            Some(names) => Families::only(names, &self.metrics).unwrap_or_default(),
            None => Families::all(),
        }
    }

    /// Checks every setting; [`Config::from_toml`] calls it.
    ///
    /// # Errors
    /// The first setting out of range.
    pub fn validate(&self) -> Result<(), Error> {
        self.metrics.validate()?;
        if let Some(names) = &self.enabled_metrics {
            Families::only(names, &self.metrics)?;
        }
        for (metric, bounds) in &self.buckets {
            let field = format!("buckets.{metric}");
            let kind = catalog::find(metric)
                .map(|def| def.kind)
                .or_else(|| self.metrics.find(metric).map(|m| m.kind));
            if kind != Some(MetricKind::Histogram) {
                return Err(Error::invalid(&field, metric, "not a histogram of the catalog"));
            }
            voxscope_core::validate_buckets(&field, bounds)?;
        }
        let t = &self.thresholds;
        let quantile = |field: &str, value: f64, metric: &'static str| {
            self.bound(field, value, metric, Edge::NeedsBoundAbove)
        };
        quantile("thresholds.llm_duration_p95_seconds", t.llm_duration_p95_seconds, LLM_DURATION)?;
        quantile("thresholds.http_latency_p95_seconds", t.http_latency_p95_seconds, HTTP_DURATION)?;
        for (kind, limits) in t.ttfb.by_kind() {
            let warning = format!("thresholds.ttfb.{kind}.warning");
            let critical = format!("thresholds.ttfb.{kind}.critical");
            quantile(&warning, limits.warning, TTFB)?;
            quantile(&critical, limits.critical, TTFB)?;
            if limits.critical <= limits.warning {
                return Err(Error::invalid(&critical, limits.critical, "must exceed the warning"));
            }
        }
        self.bound("thresholds.sentiment_min", t.sentiment_min, SENTIMENT, Edge::NeedsBoundBelow)?;
        self.bound(
            "slo.turn_latency.threshold_seconds",
            self.slo.turn_latency.threshold_seconds,
            TURN_LATENCY,
            Edge::NeedsBoundAbove,
        )?;
        for (field, value) in [
            ("thresholds.audio_quality_min", t.audio_quality_min),
            ("thresholds.call_error_ratio", t.call_error_ratio),
            ("thresholds.http_error_ratio", t.http_error_ratio),
            ("thresholds.fallback_ratio_warning", t.fallback_ratio_warning),
            ("thresholds.fallback_ratio_critical", t.fallback_ratio_critical),
            ("thresholds.calls_capacity_ratio", t.calls_capacity_ratio),
        ] {
            open_unit(field, value, "a share between 0 and 1, exclusive")?;
        }
        if t.fallback_ratio_critical <= t.fallback_ratio_warning {
            return Err(Error::invalid(
                "thresholds.fallback_ratio_critical",
                t.fallback_ratio_critical,
                "must exceed thresholds.fallback_ratio_warning",
            ));
        }
        for (field, value) in [
            ("thresholds.provider_errors_per_minute", t.provider_errors_per_minute),
            ("thresholds.cpu_ratio", t.cpu_ratio),
            ("thresholds.memory_bytes", t.memory_bytes),
            ("thresholds.memory_limit_bytes", t.memory_limit_bytes),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::invalid(field, value, "must be a positive number"));
            }
        }
        for (field, value) in [
            ("slo.call_availability", self.slo.call_availability),
            ("slo.http_availability", self.slo.http_availability),
            ("slo.turn_latency.objective", self.slo.turn_latency.objective),
            ("slo.provider_ttfb_objective", self.slo.provider_ttfb_objective),
        ] {
            // Below 1/14.4 the page burn rate would need more than 100 % errors.
            if !(value.is_finite() && value > 1.0 - 1.0 / 14.4 && value < 1.0) {
                return Err(Error::invalid(
                    field,
                    value,
                    "an objective between 0.931 and 1, exclusive",
                ));
            }
        }
        let am = &self.alertmanager;
        for (field, value) in [
            ("alertmanager.group_interval_seconds", am.group_interval_seconds),
            ("deploy.retention_days", self.deploy.retention_days),
            ("deploy.scrape_interval_seconds", self.deploy.scrape_interval_seconds),
            ("deploy.evaluation_interval_seconds", self.deploy.evaluation_interval_seconds),
        ] {
            if value == 0 {
                return Err(Error::invalid(field, value, "must be greater than 0"));
            }
        }
        let instances = &self.deploy.instances;
        if instances.is_empty()
            || instances.iter().any(|i| !i.contains(':') || i.contains(['"', ' ', '\n']))
        {
            return Err(Error::invalid(
                "deploy.instances",
                format!("{instances:?}"),
                "one host:port or more",
            ));
        }
        if self.service.job.is_empty() || self.service.job.contains(['"', '\\', '\n']) {
            return Err(Error::invalid("service.job", &self.service.job, "a plain job name"));
        }
        if !self.service.job_selector.is_empty() {
            let matcher = Matcher::parse(&self.service.job_selector).map_err(|e| {
                Error::invalid("service.job_selector", &self.service.job_selector, e)
            })?;
            if matcher.label != "job" {
                return Err(Error::invalid(
                    "service.job_selector",
                    &self.service.job_selector,
                    "must match on the job label",
                ));
            }
        }
        if t.memory_limit_bytes * EMERGENCY_MEMORY_SHARE <= t.memory_bytes {
            return Err(Error::invalid(
                "thresholds.memory_limit_bytes",
                t.memory_limit_bytes,
                "95 % of it must exceed thresholds.memory_bytes",
            ));
        }
        if self.api.token_file.trim() != self.api.token_file {
            return Err(Error::invalid(
                "api.token_file",
                &self.api.token_file,
                "a path without leading or trailing whitespace",
            ));
        }
        if self.thresholds.min_events == 0 {
            return Err(Error::invalid("thresholds.min_events", 0, "must be at least 1"));
        }
        self.cooldowns.validate()?;
        self.engine.validate()?;
        self.history.validate()?;
        self.escalation.validate()?;
        crate::routing::validate_inhibit_rules(&self.inhibit_rules)?;
        crate::custom::validate(self, &crate::builtin_alerts(self))?;
        crate::receiver::validate(self)?;
        let known: Vec<String> =
            crate::receiver::receivers(self).into_iter().map(|r| r.name).collect();
        for (i, step) in self.escalation.steps.iter().enumerate() {
            if !known.contains(&step.receiver) {
                return Err(Error::invalid(
                    &format!("escalation.steps[{i}].receiver"),
                    &step.receiver,
                    format!(
                        "no receiver of that name; [receivers] and the built-in ones are {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        crate::delivery::validate(&self.delivery)?;
        self.report.validate()?;
        crate::receiver::validate_sms(&self.sms)?;
        crate::probe::validate(&self.probe, &self.service.job)?;
        crate::host::validate(&self.host, &self.service.job, &self.probe.job)?;
        crate::capacity::validate(&self.capacity)?;
        Ok(())
    }

    pub(crate) fn bound(
        &self,
        field: &str,
        value: f64,
        metric: &str,
        edge: Edge,
    ) -> Result<(), Error> {
        let bounds = self.buckets_of(metric);
        let listed = || bounds.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
        let Some(i) = bounds.iter().position(|b| *b == value) else {
            return Err(Error::NotABucketBound {
                field: field.to_owned(),
                value,
                metric: metric.to_owned(),
                buckets: listed(),
            });
        };
        // histogram_quantile cannot report above the highest finite bound, nor below
        // the lowest one when it is not positive: a threshold there never fires.
        let blocked = match edge {
            Edge::NeedsBoundAbove => i + 1 == bounds.len(),
            Edge::NeedsBoundBelow => i == 0,
        };
        if blocked {
            let (which, fix) = match edge {
                Edge::NeedsBoundAbove => ("highest", "a larger"),
                Edge::NeedsBoundBelow => ("lowest", "a smaller"),
            };
            return Err(Error::invalid(
                field,
                value,
                format!(
                    "the {which} bucket bound of {metric} ({}), where a quantile saturates and \
                     the alert could never fire; add {fix} bound to [buckets] {metric}",
                    listed()
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Edge {
    NeedsBoundAbove,
    NeedsBoundBelow,
}

fn open_unit(field: &str, value: f64, reason: &str) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(field, value, reason))
    }
}

/// Share of `memory_limit_bytes` whose crossing is an emergency.
pub(crate) const EMERGENCY_MEMORY_SHARE: f64 = 0.95;

pub(crate) const HTTP_DURATION: &str = "http_server_request_duration_seconds";
pub(crate) const LLM_DURATION: &str = "voice_provider_request_duration_seconds";
pub(crate) const TTFB: &str = "voice_provider_ttfb_seconds";
pub(crate) const TURN_LATENCY: &str = "voice_turn_latency_seconds";
pub(crate) const SENTIMENT: &str = "voice_call_sentiment";
