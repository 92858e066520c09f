//! One panel of a metric view: typed queries compiled once, evaluated over the engine's
//! store at each refresh, with the chart history the page draws.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use voxscope_alert::eval::{Labels, Query, Storage};
use voxscope_alert::expr::{Expr, Scope};
use voxscope_alert::grafana;

use crate::error::Error;

/// How the page draws a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The newest value of each series, big, coloured by the thresholds.
    Stat,
    /// Lines over the chart window.
    Chart,
    /// One row per series: its labels and newest value.
    Table,
}

impl Shape {
    fn as_str(self) -> &'static str {
        match self {
            Shape::Stat => "stat",
            Shape::Chart => "chart",
            Shape::Table => "table",
        }
    }
}

/// Labels the page does not show: every series of the engine's store has them.
const HIDDEN: [&str; 3] = ["__name__", "job", "instance"];

/// A panel with compiled queries and, for charts, the points seen so far.
#[derive(Debug)]
pub(crate) struct LivePanel {
    id: String,
    title: String,
    shape: Shape,
    unit: &'static str,
    thresholds: Vec<f64>,
    lower_is_worse: bool,
    queries: Vec<(Query, String)>,
    /// Chart points by series name, oldest first, within the window.
    history: BTreeMap<String, VecDeque<(i64, f64)>>,
    filled: bool,
}

/// What a panel is made of before compilation.
pub(crate) struct PanelDef {
    pub(crate) title: String,
    pub(crate) shape: Shape,
    pub(crate) unit: &'static str,
    pub(crate) thresholds: Vec<f64>,
    pub(crate) lower_is_worse: bool,
    pub(crate) queries: Vec<(Expr, String)>,
}

impl PanelDef {
    /// A Grafana board's panel, drawn as `shape`: the same typed queries Grafana's JSON
    /// renders.
    pub(crate) fn from_board(panel: &grafana::Panel, shape: Shape) -> Self {
        Self {
            title: panel.title.clone(),
            shape,
            unit: panel.unit,
            thresholds: panel.thresholds.clone(),
            lower_is_worse: panel.lower_is_worse,
            queries: panel
                .exprs
                .iter()
                .cloned()
                .zip(panel.queries.iter().map(|(_, legend)| legend.clone()))
                .collect(),
        }
    }

    /// A panel of the page's own.
    pub(crate) fn new(
        title: &str,
        shape: Shape,
        unit: &'static str,
        query: Expr,
        legend: &str,
    ) -> Self {
        Self {
            title: title.to_owned(),
            shape,
            unit,
            thresholds: Vec::new(),
            lower_is_worse: false,
            queries: vec![(query, legend.to_owned())],
        }
    }

    /// Compiles the queries under `scope`, free windows bound to `window_s`.
    pub(crate) fn compile(self, scope: &Scope, window_s: u64) -> Result<LivePanel, Error> {
        let queries = self
            .queries
            .into_iter()
            .map(|(expr, legend)| {
                Query::new(&expr.bind(window_s), scope)
                    .map(|q| (q, legend))
                    .map_err(|source| Error::Query { panel: self.title.clone(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LivePanel {
            id: slug(&self.title),
            title: self.title,
            shape: self.shape,
            unit: self.unit,
            thresholds: self.thresholds,
            lower_is_worse: self.lower_is_worse,
            queries,
            history: BTreeMap::new(),
            filled: false,
        })
    }
}

impl LivePanel {
    /// The panel's frame at `now_ms`: stats and tables their newest values, charts the
    /// points of the last `window_ms` sampled every `step_ms` (the first frame fills the
    /// window from the store with a range query, later ones add one point each).
    pub(crate) fn frame(
        &mut self,
        storage: &Storage,
        now_ms: i64,
        window_ms: i64,
        step_ms: i64,
    ) -> Value {
        let mut series = Vec::new();
        let mut errors = Vec::new();
        for (query, legend) in &self.queries {
            match query.at(storage, now_ms) {
                Ok(samples) => {
                    for sample in samples {
                        series.push((
                            legend_of(legend, &sample.labels),
                            sample.labels,
                            sample.value,
                        ));
                    }
                }
                Err(error) => errors.push(error.to_string()),
            }
        }
        if self.shape == Shape::Chart {
            if !self.filled {
                self.fill(storage, now_ms, window_ms, step_ms);
            }
            for (name, _, value) in &series {
                if value.is_finite() {
                    self.history.entry(name.clone()).or_default().push_back((now_ms, *value));
                }
            }
            for points in self.history.values_mut() {
                while points.front().is_some_and(|&(t, _)| t < now_ms - window_ms) {
                    points.pop_front();
                }
            }
            self.history.retain(|_, points| !points.is_empty());
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<Value> = series
            .into_iter()
            .map(|(name, labels, value)| {
                let labels: BTreeMap<&str, &str> = labels
                    .iter()
                    .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let points = self.history.get(&name).map(points_json);
                json!({"name": name, "labels": labels, "value": finite(value), "points": points})
            })
            .collect();
        if self.shape == Shape::Chart {
            // Series with points in the window but no value now still draw.
            let now: Vec<String> =
                out.iter().filter_map(|s| s["name"].as_str().map(str::to_owned)).collect();
            for (name, points) in self.history.iter().filter(|(n, _)| !now.contains(n)) {
                out.push(json!({"name": name, "labels": {}, "value": null, "points": points_json(points)}));
            }
        }
        json!({
            "id": self.id,
            "title": self.title,
            "shape": self.shape.as_str(),
            "unit": self.unit,
            "thresholds": self.thresholds,
            "lower_is_worse": self.lower_is_worse,
            "series": out,
            "errors": errors,
        })
    }

    /// The chart's window before `now_ms`, from the store.
    /// Tried again at each frame until the store has something to show.
    fn fill(&mut self, storage: &Storage, now_ms: i64, window_ms: i64, step_ms: i64) {
        let start = now_ms - window_ms + step_ms;
        for (query, legend) in &self.queries {
            let Ok(ranges) = query.range(storage, start, now_ms - step_ms, step_ms) else {
                continue;
            };
            for range in ranges {
                let points = self.history.entry(legend_of(legend, &range.labels)).or_default();
                points.extend(range.points.into_iter().filter(|(_, v)| v.is_finite()));
            }
        }
        self.history.retain(|_, points| !points.is_empty());
        self.filled = !self.history.is_empty();
    }
}

fn points_json(points: &VecDeque<(i64, f64)>) -> Value {
    Value::Array(points.iter().map(|&(t, v)| json!([t, v])).collect())
}

fn finite(value: f64) -> Value {
    if value.is_finite() { json!(value) } else { Value::Null }
}

/// A Grafana legend (`{{label}} text`) with the series' labels filled in.
pub(crate) fn legend_of(template: &str, labels: &Labels) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find("}}") else {
            rest = &rest[open..];
            break;
        };
        let name = rest[open + 2..open + close].trim();
        out.push_str(labels.get(name).map_or("", String::as_str));
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.is_empty() { "value".to_owned() } else { out }
}

/// `Live calls of capacity` → `live-calls-of-capacity`.
pub(crate) fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_fill_labels_and_drop_empty_ones() {
        let labels = Labels::from([("transport".to_owned(), "twilio".to_owned())]);
        assert_eq!(legend_of("live {{transport}}", &labels), "live twilio");
        assert_eq!(legend_of("{{kind}} {{ transport }} x", &labels), "twilio x");
        assert_eq!(legend_of("{{kind}}", &labels), "value");
        assert_eq!(legend_of("open {{", &labels), "open {{");
    }

    #[test]
    fn slugs_are_lowercase_words_joined_by_dashes() {
        assert_eq!(slug("Live calls of capacity"), "live-calls-of-capacity");
        assert_eq!(
            slug("STT time to first byte (goal 0.3 s)"),
            "stt-time-to-first-byte-goal-0-3-s"
        );
    }
}
