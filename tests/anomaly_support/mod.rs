//! The anomaly scoring harness: a labelled synthetic month from
//! `scripts/synthetic_month.py`, read from its OpenMetrics file, run through the
//! embedded evaluator's anomaly rules minute by minute and through a z-score baseline
//! over the same recorded signal, each scored against the labels: detection rate, time
//! to detect, false alerts per day.

#![allow(dead_code)]

pub mod openmetrics;
pub mod prometheus;
pub mod score;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use voxscope::alert::anomaly::{AnomalyRules, AnomalySettings, SIGNAL, VOLUME, anomaly_rules};
use voxscope::alert::eval::{AlertState, Labels, RuleEvaluator, StepTier, StorageLimits};
use voxscope::alert::expr::{Matcher, Scope};
use voxscope::alert::{Config, RuleCatalog};

pub use score::{Episode, Labelled, Scores};

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 1_440 * MINUTE_MS;

/// The metrics the anomaly rules read: the rest of the file is skipped.
pub const READ: [&str; 6] = [
    "voice_turn_latency_seconds_sum",
    "voice_turn_latency_seconds_count",
    "voice_provider_ttfb_seconds_sum",
    "voice_provider_ttfb_seconds_count",
    "voice_provider_requests_total",
    "voice_calls_total",
];

/// One generated month: its directory, labels and samples.
pub struct Month {
    pub dir: PathBuf,
    pub start_ms: i64,
    pub end_ms: i64,
    pub anomalies: Vec<Labelled>,
}

/// Runs the generator into `dir`.
pub fn generate(dir: &Path, seed: u64, days: u32, clean: bool) -> Month {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/synthetic_month.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .args(["--seed", &seed.to_string(), "--days", &days.to_string(), "--out"])
        .arg(dir);
    if clean {
        cmd.arg("--clean");
    }
    let out = cmd.output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json")).unwrap()).unwrap();
    let anomalies = labels["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| Labelled {
            kind: a["kind"].as_str().unwrap().to_owned(),
            signal: a["signal"].as_str().unwrap().to_owned(),
            labels: a["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            onset_ms: a.get("onset").unwrap_or(&a["start"]).as_i64().unwrap() * 1000,
            start_ms: a["start"].as_i64().unwrap() * 1000,
            end_ms: a["end"].as_i64().unwrap() * 1000,
        })
        .collect();
    Month {
        dir: dir.to_owned(),
        start_ms: labels["start"].as_i64().unwrap() * 1000,
        end_ms: labels["end"].as_i64().unwrap() * 1000,
        anomalies,
    }
}

/// The rules under the scope the month's series need (they carry no job label).
pub fn rules() -> (RuleCatalog, AnomalyRules) {
    let mut config = Config::default();
    config.service.job_selector = "job=~\".*\"".to_owned();
    let catalog = RuleCatalog::new(config).expect("valid config");
    let scope = Scope::rules(Matcher::re("job", ".*"), 300);
    let rules = anomaly_rules(&AnomalySettings::default(), &scope);
    (catalog, rules)
}

/// What the embedded run leaves: the firing episodes of each alert series and the
/// recorded signal and volume a minute, by series.
pub struct EmbeddedRun {
    pub episodes: Vec<Episode>,
    pub signal: BTreeMap<Labels, Vec<(i64, f64)>>,
    pub volume: BTreeMap<Labels, Vec<(i64, f64)>>,
}

fn catalog_of(base: &RuleCatalog, rules: &AnomalyRules, signals_only: bool) -> RuleCatalog {
    let mut catalog = base.clone();
    catalog.recording = rules
        .recording
        .iter()
        .filter(|r| !signals_only || r.record == SIGNAL || r.record == VOLUME)
        .cloned()
        .collect();
    catalog.alerts = if signals_only { Vec::new() } else { rules.alerts.clone() };
    catalog
}

/// Feeds the month's samples minute by minute to the embedded evaluator: the signals
/// only until `bands_from_ms` (nothing reads the bands before), every rule after it.
/// Firing episodes are kept from `score_from_ms` on.
pub fn run_embedded(month: &Month, bands_from_ms: i64, score_from_ms: i64) -> EmbeddedRun {
    let clock = std::time::Instant::now();
    let samples = openmetrics::read(&month.dir.join("month.om"), &READ);
    eprintln!("read {} series in {:?}", samples.len(), clock.elapsed());
    let (base, rules) = rules();
    let minute = StepTier { step_ms: MINUTE_MS, retention_ms: 8 * DAY_MS + 2 * 3_600_000 };
    let limits = StorageLimits { aggregates: minute, ..StorageLimits::default() };
    let mut signals = RuleEvaluator::new(&catalog_of(&base, &rules, true));
    let mut full = RuleEvaluator::new(&catalog_of(&base, &rules, false));
    let mut storage = full.storage(limits);
    let mut by_time: BTreeMap<i64, Vec<(usize, f64)>> = BTreeMap::new();
    for (i, (_, points)) in samples.iter().enumerate() {
        for &(t, v) in points {
            by_time.entry(t).or_default().push((i, v));
        }
    }
    let labels: Vec<&Labels> = samples.keys().collect();
    let mut episodes = score::Tracker::default();
    for (&t, row) in &by_time {
        for &(i, v) in row {
            storage.append(labels[i], t, v).expect("sample stored");
        }
        if t < bands_from_ms {
            signals.evaluate(&mut storage, t);
            continue;
        }
        let alerts = full.evaluate(&mut storage, t);
        if t >= score_from_ms {
            let firing = alerts.iter().filter(|a| a.state == AlertState::Firing);
            episodes.observe(t, firing.map(|a| a.labels.clone()));
        }
    }
    eprintln!("evaluated in {:?}", clock.elapsed());
    let read = |name: &str| {
        let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let query = voxscope::alert::eval::Query::new(
            &voxscope::alert::expr::Expr::vector(voxscope::alert::expr::Selector::new(name)),
            &Scope::rules(Matcher::re("job", ".*"), 300),
        )
        .unwrap();
        let from = bands_from_ms - 2 * DAY_MS;
        for series in
            query.range(&storage, from.max(month.start_ms), month.end_ms, MINUTE_MS).unwrap()
        {
            let mut labels = series.labels;
            labels.remove("__name__");
            out.entry(labels).or_default().extend(series.points);
        }
        out
    };
    EmbeddedRun { episodes: episodes.finish(), signal: read(SIGNAL), volume: read(VOLUME) }
}
