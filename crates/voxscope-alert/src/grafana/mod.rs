//! Grafana dashboards as JSON: current schema, a Prometheus datasource variable, no
//! hard-coded datasource uid, panels laid out on the 24-column grid.
//!
//! ```
//! let catalog = voxscope_alert::RuleCatalog::new(Default::default()).unwrap();
//! let dashboards = voxscope_alert::grafana::dashboards(&catalog);
//! assert!(dashboards.iter().any(|d| d.uid == "voxscope-providers"));
//! assert!(dashboards[0].json().contains("${datasource}"));
//! ```

use serde_json::{Value, json};

use crate::expr::Expr;

mod boards;
mod business;
mod host;
pub mod instances;

pub use boards::dashboards;
pub use business::BUSINESS;

/// How a panel draws its queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Lines over time.
    Timeseries,
    /// Histogram buckets over time.
    Heatmap,
    /// One big number, coloured by its thresholds.
    Stat,
}

/// One panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The title.
    pub title: String,
    /// How it draws.
    pub kind: Kind,
    /// Grafana unit id (`s`, `percentunit`, `bytes`, `reqps`, `short`).
    pub unit: &'static str,
    /// `(PromQL, legend)`; queries may use `$__rate_interval`.
    pub queries: Vec<(String, String)>,
    /// The typed queries the PromQL of [`Panel::queries`] renders, in the same order,
    /// windows still free: an in-process reader binds them ([`Expr::bind`]) and
    /// evaluates them over the engine's store, showing what Grafana shows.
    pub exprs: Vec<Expr>,
    /// Threshold lines (warning, then critical).
    pub thresholds: Vec<f64>,
    /// Whether values under the thresholds are the bad ones (audio quality, sentiment,
    /// budget remaining): the colours run red to green instead of green to red.
    pub lower_is_worse: bool,
    /// The values its queries can take when the service works as designed, inclusive.
    pub range: (f64, f64),
    /// Width in grid columns (of 24).
    pub width: u32,
}

/// One dashboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// The job the `job` variable selects at first.
    pub job: String,
    /// The uid alerts link to.
    pub uid: &'static str,
    /// The title.
    pub title: &'static str,
    /// Panels, in reading order.
    pub panels: Vec<Panel>,
}

const HEIGHT: u32 = 8;

impl Dashboard {
    /// The dashboard JSON, pretty-printed with a final newline.
    pub fn json(&self) -> String {
        let datasource = json!({"type": "prometheus", "uid": "${datasource}"});
        let (mut x, mut y) = (0, 0);
        let mut panels = Vec::new();
        for (i, panel) in self.panels.iter().enumerate() {
            if x + panel.width > 24 {
                x = 0;
                y += HEIGHT;
            }
            panels.push(panel_json(panel, i + 1, (x, y), &datasource));
            x += panel.width;
        }
        let doc = json!({
            "uid": self.uid,
            "title": self.title,
            "tags": ["voxscope"],
            "editable": true,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "timezone": "browser",
            "annotations": {"list": []},
            "templating": {"list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "hide": 0,
                    "refresh": 1,
                    "options": [],
                },
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": datasource,
                    "query": {"query": "label_values(up, job)", "refId": "job"},
                    "current": {"text": self.job, "value": self.job},
                    "hide": 0,
                    "refresh": 2,
                    "sort": 1,
                    "options": [],
                },
                {
                    "name": "instance",
                    "label": "Instance",
                    "type": "query",
                    "datasource": datasource,
                    "query": {
                        "query": "label_values(up{job=~\"$job\"}, instance)",
                        "refId": "instance",
                    },
                    "includeAll": true,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "hide": 0,
                    "refresh": 2,
                    "sort": 1,
                    "options": [],
                },
            ]},
            "links": [{
                "title": "voxscope",
                "type": "dashboards",
                "tags": ["voxscope"],
                "asDropdown": true,
                "icon": "external link",
                "includeVars": false,
                "keepTime": true,
                "targetBlank": false,
                "tooltip": "",
            }],
            "panels": panels,
        });
        let mut text = serde_json::to_string_pretty(&sorted(doc)).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The same value with every object's keys in order, whether or not serde_json's
/// `preserve_order` feature is on in this build.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn panel_json(panel: &Panel, id: usize, (x, y): (u32, u32), datasource: &Value) -> Value {
    let targets: Vec<Value> = panel
        .queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            let mut target = json!({
                "refId": ref_id(i),
                "datasource": datasource,
                "expr": expr,
                "legendFormat": legend,
                "range": true,
            });
            if panel.kind == Kind::Heatmap {
                target["format"] = json!("heatmap");
            }
            target
        })
        .collect();
    // Steps run upwards from the base colour: green to red where higher is worse,
    // red to green where lower is.
    let mut bounds = panel.thresholds.clone();
    bounds.sort_by(f64::total_cmp);
    let colors: &[&str] = match (panel.lower_is_worse, bounds.len()) {
        (false, _) => &["green", "orange", "red"],
        (true, 1) => &["red", "green"],
        (true, _) => &["red", "orange", "green"],
    };
    let mut steps = vec![json!({"color": colors[0], "value": null})];
    for (value, color) in bounds.iter().zip(&colors[1..]) {
        steps.push(json!({"color": color, "value": value}));
    }
    let mut defaults = json!({
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
    });
    let (kind, options) = match panel.kind {
        Kind::Timeseries => {
            let style = if panel.thresholds.is_empty() { "off" } else { "dashed" };
            defaults["custom"] = json!({"thresholdsStyle": {"mode": style}});
            (
                "timeseries",
                json!({
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                    "tooltip": {"mode": "multi", "sort": "desc"},
                }),
            )
        }
        Kind::Stat => (
            "stat",
            json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "background",
                "graphMode": "area",
                "textMode": "value_and_name",
                "orientation": "auto",
                "justifyMode": "auto",
            }),
        ),
        Kind::Heatmap => (
            "heatmap",
            json!({
                "calculate": false,
                "yAxis": {"unit": panel.unit},
                "color": {"mode": "scheme", "scheme": "Oranges"},
                "cellGap": 1,
            }),
        ),
    };
    json!({
        "id": id,
        "type": kind,
        "title": panel.title,
        "datasource": datasource,
        "gridPos": {"h": HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": targets,
    })
}

fn ref_id(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}
