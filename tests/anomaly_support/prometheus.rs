//! The month scored through a real Prometheus: the signal metrics backfilled with
//! `promtool tsdb create-blocks-from openmetrics`, the anomaly recording rules with
//! `promtool tsdb create-blocks-from rules` one dependency level at a time (a backfilled
//! rule reads only series already in the TSDB, so the bands wait for the signals, the
//! MADs for the deviations), `prometheus` restarted over the TSDB after each level, then
//! `query_range` of every alert's condition, a minute apart, with `for` and
//! `keep_firing_for` applied as Prometheus's rule manager applies them.
//!
//! A rule group evaluates at a phase within its interval that Prometheus derives from
//! the group's name and file. Every level is backfilled from the same file name and
//! group, so all levels are recorded at the same phase, each reading the one before it
//! at the same instant, as one live group evaluates its rules in order; the conditions
//! are read at that phase too, so they see each minute's samples as the embedded
//! evaluator does at the minute.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use voxscope::alert::RuleCatalog;
use voxscope::alert::anomaly::AnomalyRules;
use voxscope::alert::eval::Labels;
use voxscope::alert::model::RecordingRule;

use super::score::{Episode, episodes};
use super::{MINUTE_MS, Month, READ, openmetrics};
use crate::support::{free_port, run};

/// Prometheus's limit of points per series in one `query_range`.
const MAX_POINTS: i64 = 11_000;

/// The two Debian tools.
pub struct Tools {
    pub promtool: PathBuf,
    pub prometheus: PathBuf,
}

/// A `prometheus` serving the TSDB under `dir/data` on loopback, stopped on drop (the
/// data stays: it is the caller's).
struct Server {
    base: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(tools: &Tools, dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new(&tools.prometheus)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::blocking::get(format!("{base}/-/ready"))
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < deadline, "Prometheus not ready within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { base, child }
    }
}

/// How many recorded series `rule` reads through others: 0 for one reading raw metrics.
fn level(rule: &RecordingRule, all: &[RecordingRule]) -> usize {
    let reads = rule.query.metrics();
    all.iter()
        .filter(|other| other.record != rule.record && reads.contains(&other.record))
        .map(|other| 1 + level(other, all))
        .max()
        .unwrap_or(0)
}

/// Moves every block promtool wrote under `from` into the TSDB at `data`.
fn move_blocks(from: &Path, data: &Path) {
    for entry in std::fs::read_dir(from).expect("promtool output") {
        let entry = entry.expect("block");
        std::fs::rename(entry.path(), data.join(entry.file_name())).expect("move block");
    }
}

/// Backfills `rules`' recording rules over the month (the signals from its start, the
/// bands from `bands_from_ms`, as the embedded run records them) and returns the
/// condition of each alert a minute apart from `score_from_ms`, as firing episodes.
pub fn run_prometheus(
    tools: &Tools,
    month: &Month,
    (catalog, rules): (&RuleCatalog, &AnomalyRules),
    bands_from_ms: i64,
    score_from_ms: i64,
) -> Vec<Episode> {
    let clock = Instant::now();
    let dir = month.dir.join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    openmetrics::filter(&month.dir.join("month.om"), &READ, &dir.join("signals.om"));
    let (out, text) = run(
        &tools.promtool,
        &dir,
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            "signals.om",
            "data",
        ],
    );
    assert!(out.status.success(), "promtool openmetrics: {text}");
    // The blocks hold it now; CI's disk is not large.
    std::fs::remove_file(dir.join("signals.om")).expect("remove signals.om");
    std::fs::write(dir.join("prometheus.yml"), "global: {}\n").unwrap();
    eprintln!("prometheus: metrics backfilled in {:?}", clock.elapsed());
    let levels = rules.recording.iter().map(|r| level(r, &rules.recording)).max().unwrap_or(0);
    for depth in 0..=levels {
        let recording: Vec<RecordingRule> = rules
            .recording
            .iter()
            .filter(|r| level(r, &rules.recording) == depth)
            .cloned()
            .collect();
        let pass = AnomalyRules { recording, alerts: Vec::new(), signals: Vec::new() };
        // One file name and group for every level: one evaluation phase (see above).
        let file = "anomaly.rules.yml";
        std::fs::write(dir.join(file), pass.rule_file(catalog)).unwrap();
        let from_ms = if depth == 0 { month.start_ms } else { bands_from_ms };
        let server = Server::start(tools, &dir);
        let output = format!("level{depth}");
        let (out, text) = run(
            &tools.promtool,
            &dir,
            &[
                "tsdb",
                "create-blocks-from",
                "rules",
                "--quiet",
                &format!("--start={}", from_ms / 1000),
                &format!("--end={}", month.end_ms / 1000),
                &format!("--url={}", server.base),
                &format!("--output-dir={output}"),
                "--eval-interval=1m",
                file,
            ],
        );
        assert!(out.status.success(), "promtool rules, level {depth}: {text}");
        drop(server);
        move_blocks(&dir.join(&output), &dir.join("data"));
        eprintln!("prometheus: level {depth} recorded in {:?}", clock.elapsed());
    }
    let server = Server::start(tools, &dir);
    let client = reqwest::blocking::Client::new();
    let phase = recorded_phase(&client, &server.base, score_from_ms);
    eprintln!("prometheus: rules recorded {phase} ms past each minute");
    let mut found = Vec::new();
    let last_ms = month.end_ms - MINUTE_MS;
    for alert in &rules.alerts {
        let holds =
            condition_minutes(&client, &server.base, &alert.expr, score_from_ms, last_ms, phase);
        for (mut labels, minutes) in holds {
            let signal = labels.get("signal").cloned().unwrap_or_default();
            labels.insert("alertname".to_owned(), alert.name.clone());
            labels.insert("anomaly".to_owned(), signal);
            let times = (score_from_ms..=last_ms)
                .step_by(MINUTE_MS as usize)
                .map(|t| (t, minutes.contains(&t)));
            found.extend(episodes(
                &labels,
                times,
                (alert.for_seconds as i64 * 1000, alert.keep_firing_for_seconds as i64 * 1000),
            ));
        }
    }
    eprintln!("prometheus: conditions read in {:?}", clock.elapsed());
    found.sort_by_key(|e| e.fired_ms);
    found
}

/// How far past each minute the backfilled rules were evaluated, milliseconds: the
/// phase of the group, read from the time of the recorded signal's latest sample.
fn recorded_phase(client: &reqwest::blocking::Client, base: &str, at_ms: i64) -> i64 {
    let response: Value = client
        .get(format!("{base}/api/v1/query"))
        .query(&[
            ("query", "max(timestamp(anomaly:signal))".to_owned()),
            ("time", (at_ms / 1000).to_string()),
        ])
        .send()
        .and_then(|r| r.json())
        .expect("query answers");
    let value = &response["data"]["result"][0]["value"][1];
    let seconds: f64 =
        value.as_str().and_then(|v| v.parse().ok()).expect("the recorded signal has a sample");
    ((seconds * 1000.0).round() as i64).rem_euclid(MINUTE_MS)
}

/// The minutes from `from_ms` to `to_ms` at which `expr` has a result, by series, read
/// with `query_range` in chunks Prometheus accepts, at `phase` past each minute (the
/// minutes returned are the minutes whose samples the evaluation saw).
fn condition_minutes(
    client: &reqwest::blocking::Client,
    base: &str,
    expr: &str,
    from_ms: i64,
    to_ms: i64,
    phase: i64,
) -> BTreeMap<Labels, std::collections::BTreeSet<i64>> {
    let mut out: BTreeMap<Labels, std::collections::BTreeSet<i64>> = BTreeMap::new();
    let mut start = from_ms + phase;
    let to_ms = to_ms + phase;
    while start <= to_ms {
        let end = (start + (MAX_POINTS - 1) * MINUTE_MS).min(to_ms);
        let response: Value = client
            .get(format!("{base}/api/v1/query_range"))
            .query(&[
                ("query", expr.to_owned()),
                ("start", format!("{:.3}", start as f64 / 1000.0)),
                ("end", format!("{:.3}", end as f64 / 1000.0)),
                ("step", "60".to_owned()),
            ])
            .send()
            .and_then(|r| r.json())
            .expect("query_range answers");
        assert_eq!(response["status"], "success", "{expr}: {response}");
        for series in response["data"]["result"].as_array().expect("a matrix") {
            let labels: Labels = series["metric"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let minutes = out.entry(labels).or_default();
            for point in series["values"].as_array().expect("points") {
                let at = (point[0].as_f64().expect("a time") * 1000.0).round() as i64;
                minutes.insert(at - phase);
            }
        }
        start = end + MINUTE_MS;
    }
    out
}
