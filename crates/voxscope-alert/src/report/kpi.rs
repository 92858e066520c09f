//! The report's KPIs: each a typed [`Expr`], how it is read over the period, and its
//! target.

use serde::Serialize;

use super::Targets;
use crate::config::TTFB;
use crate::expr::{Expr, Matcher, Selector, Window, aggregate, number, quantile};
use crate::model::ValueFormat;
use crate::rules::{Ratio, fallback_share_by, http_error_share};

/// Which side of its target a figure must stay on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The figure must not exceed the target.
    AtMost,
    /// The figure must reach the target.
    AtLeast,
}

/// A target: a value and the side a figure must stay on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Target {
    /// The side.
    pub comparison: Comparison,
    /// The value.
    pub value: f64,
}

impl Target {
    /// Whether `actual` meets the target.
    ///
    /// ```
    /// use voxscope_alert::report::{Comparison, Target};
    /// let at_most = Target { comparison: Comparison::AtMost, value: 0.05 };
    /// assert!(at_most.met_by(0.05) && !at_most.met_by(0.051));
    /// ```
    pub fn met_by(self, actual: f64) -> bool {
        match self.comparison {
            Comparison::AtMost => actual <= self.value,
            Comparison::AtLeast => actual >= self.value,
        }
    }

    /// `≤ 5%`, `≥ 99%`, the value in `format`.
    pub fn render(self, format: ValueFormat) -> String {
        let sign = match self.comparison {
            Comparison::AtMost => "≤",
            Comparison::AtLeast => "≥",
        };
        format!("{sign} {}", crate::humanize::render(format, self.value))
    }
}

/// How a KPI's expression is read over the report's period.
#[derive(Clone, Debug, PartialEq)]
pub enum Measure {
    /// Its free windows bound to the period, read once at the period's end; trends bind
    /// them to the trend step.
    Over(Expr),
    /// The largest value it takes at any step of the period.
    Peak(Expr),
    /// The share of the period's steps at which it is at least `at_least`; a step with
    /// no sample counts as missing it. No sample at all in the period is no data.
    Share {
        /// An instant expression.
        expr: Expr,
        /// The value a step must reach.
        at_least: f64,
    },
}

impl Measure {
    /// The expression it reads.
    pub fn expr(&self) -> &Expr {
        match self {
            Measure::Over(expr) | Measure::Peak(expr) | Measure::Share { expr, .. } => expr,
        }
    }
}

/// One row of the KPI table.
#[derive(Clone, Debug, PartialEq)]
pub struct Kpi {
    /// Stable key, the JSON field of the row: `fallback_rate`.
    pub key: &'static str,
    /// What the row is called: `Fallback rate`.
    pub name: &'static str,
    /// What it counts, for the reader.
    pub description: &'static str,
    /// How its expression is read.
    pub measure: Measure,
    /// Its target.
    pub target: Target,
    /// How its figures are shown.
    pub format: ValueFormat,
}

/// The KPIs of `targets`: config warnings, fallback rate, TTS TTFB p95, error rate,
/// uptime.
///
/// ```
/// let kpis = voxscope_alert::report::kpis(&Default::default());
/// let keys: Vec<&str> = kpis.iter().map(|k| k.key).collect();
/// assert_eq!(keys, ["config_warnings", "fallback_rate", "tts_ttfb_p95", "error_rate", "uptime"]);
/// ```
pub fn kpis(targets: &Targets) -> Vec<Kpi> {
    let at_most = |value| Target { comparison: Comparison::AtMost, value };
    let free = Window::Free;
    let tts = Selector::new(TTFB).with(Matcher::eq("kind", "tts"));
    vec![
        Kpi {
            key: "config_warnings",
            name: "Config warnings",
            description: "most settings missing or left as placeholders at once",
            measure: Measure::Peak(aggregate(
                "sum",
                &[],
                Expr::vector(Selector::new("voxscope_config_missing")),
            )),
            target: at_most(targets.config_warnings as f64),
            format: ValueFormat::Plain,
        },
        Kpi {
            key: "fallback_rate",
            name: "Fallback rate",
            description: "turns of a fallback chain that switched to a fallback provider",
            measure: Measure::Over(share(&fallback_share_by(&[], free))),
            target: at_most(targets.fallback_rate),
            format: ValueFormat::Percent,
        },
        Kpi {
            key: "tts_ttfb_p95",
            name: "TTS TTFB p95",
            description: "95th percentile of text-to-speech time to first audio byte",
            measure: Measure::Over(quantile(0.95, &[], tts, free)),
            target: at_most(targets.tts_ttfb_p95_seconds),
            format: ValueFormat::Duration,
        },
        Kpi {
            key: "error_rate",
            name: "Error rate",
            description: "HTTP responses that are 5xx",
            measure: Measure::Over(share(&http_error_share(&[], free))),
            target: at_most(targets.error_rate),
            format: ValueFormat::Percent,
        },
        Kpi {
            key: "uptime",
            name: "Uptime",
            description: "steps at which every scraped target was up",
            measure: Measure::Share {
                expr: aggregate("min", &[], Expr::vector(Selector::new("up"))),
                at_least: 1.0,
            },
            target: Target { comparison: Comparison::AtLeast, value: targets.uptime },
            format: ValueFormat::Percent,
        },
    ]
}

/// `(bad or all * 0) / all`: a period without a single bad event reads 0, not "no data"
/// (no bad series exists then).
fn share(ratio: &Ratio) -> Expr {
    let none = ratio.all.clone() * number(0.0);
    ratio.bad.clone().or(none) / ratio.all.clone()
}
