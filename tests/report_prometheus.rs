//! The KPI report over a week of known samples: backfilled into a real Prometheus with
//! `promtool tsdb create-blocks-from openmetrics` and read through `voxscope report`'s
//! function, and appended to the embedded store; every figure and status of both
//! against the samples themselves.

#[path = "alert_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Daemon, TempDir, free_port, run, tool};
use voxscope::alert::eval::{Labels, Storage, StorageLimits};
use voxscope::alert::report::ReportSpec;
use voxscope::alert::{Config, RuleCatalog, report};
use voxscope_alerting::persist::StateDir;
use voxscope_cli::report::{Format, ReportRequest, ReportSource};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// Bounds of the TTFB and turn-latency histograms (the catalog's).
const LATENCY_BOUNDS: [f64; 12] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];
/// Figures Prometheus extrapolates (every ratio's terms by one factor) agree to this.
const TOLERANCE: f64 = 1e-9;

/// One series: labels (`__name__` and `job` included) and `(unix ms, value)` samples.
struct Series {
    labels: Labels,
    samples: Vec<(i64, f64)>,
}

/// A week and an hour of samples, one a minute 30 s past it, ending 30 s before `end`:
/// no sample falls on a step, so Prometheus and the embedded store see the same ones.
struct Week {
    end: i64,
    series: Vec<Series>,
}

/// The downtime: day 3, 06:00 to 08:00 into the period.
fn down(week_start: i64, t: i64) -> bool {
    let from = week_start + 3 * DAY + 6 * HOUR;
    (from..from + 2 * HOUR).contains(&t)
}

/// Observations per minute at each histogram bound (not cumulative): day 5 is slow.
fn latency(day: i64) -> [(f64, f64); 6] {
    if day == 5 {
        [(0.2, 14.0), (0.3, 10.0), (0.5, 10.0), (0.8, 4.0), (1.0, 1.0), (2.0, 1.0)]
    } else {
        [(0.2, 22.0), (0.3, 12.0), (0.5, 5.0), (0.8, 1.0), (1.0, 0.0), (2.0, 0.0)]
    }
}

impl Week {
    fn new(end: i64) -> Self {
        let start = end - WEEK;
        let times: Vec<i64> =
            (0..).map(|m| start - HOUR + 30_000 + m * MIN).take_while(|t| *t < end).collect();
        let day = |t: i64| ((t - start).max(0) / DAY).min(6);
        let mut series = Vec::new();
        let labelled = |name: &str, pairs: &[(&str, &str)]| {
            let mut labels: Labels =
                pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            labels.insert("__name__".to_owned(), name.to_owned());
            labels.insert("job".to_owned(), "voice_agent".to_owned());
            labels.insert("instance".to_owned(), "127.0.0.1:3000".to_owned());
            labels
        };
        let mut gauge = |name: &str, pairs: &[(&str, &str)], value: &dyn Fn(i64) -> f64| {
            let samples = times.iter().map(|&t| (t, value(t))).collect();
            series.push(Series { labels: labelled(name, pairs), samples });
        };
        gauge("up", &[], &|t| if down(start, t) { 0.0 } else { 1.0 });
        gauge("voxscope_config_missing", &[("field", "llm.api_key")], &|t| f64::from(day(t) == 0));
        gauge("voxscope_config_missing", &[("field", "stt.api_key")], &|_| 0.0);
        // Counters: the running sum of per-minute increments by day.
        let mut counter = |name: &str, pairs: &[(&str, &str)], per_minute: &dyn Fn(i64) -> f64| {
            let mut total = 0.0;
            let samples = times
                .iter()
                .map(|&t| {
                    total += per_minute(day(t));
                    (t, total)
                })
                .collect();
            series.push(Series { labels: labelled(name, pairs), samples });
        };
        let http = "http_server_request_duration_seconds_count";
        let route = [("method", "POST"), ("route", "/calls")];
        counter(http, &[route[0], route[1], ("status", "201")], &|d| 100.0 + 10.0 * d as f64);
        counter(http, &[route[0], route[1], ("status", "503")], &|d| {
            if d == 2 { 6.0 } else { 1.0 }
        });
        let calls = "voice_calls_total";
        counter(calls, &[("transport", "twilio"), ("outcome", "completed")], &|_| 199.0);
        let failed = [("transport", "twilio"), ("outcome", "failed")];
        counter(calls, &failed, &|d| if d == 4 { 5.0 } else { 1.0 });
        counter("voice_provider_chain_duration_seconds_count", &[("kind", "tts")], &|_| 60.0);
        let fallback =
            [("kind", "tts"), ("from", "primary"), ("to", "backup"), ("reason", "timeout")];
        counter("voice_provider_fallbacks_total", &fallback, &|d| if d == 4 { 7.0 } else { 2.0 });
        let mut histogram = |metric: &str, base: &[(&str, &str)]| {
            for bound in LATENCY_BOUNDS.iter().copied().chain([f64::INFINITY]) {
                let le = if bound.is_infinite() { "+Inf".to_owned() } else { bound.to_string() };
                let mut labels = base.to_vec();
                labels.push(("le", &le));
                let below = |d: i64| {
                    latency(d).iter().filter(|(b, _)| *b <= bound).map(|(_, n)| n).sum::<f64>()
                };
                counter(&format!("{metric}_bucket"), &labels, &below);
            }
            let all = |d: i64| latency(d).iter().map(|(_, n)| n).sum::<f64>();
            counter(&format!("{metric}_count"), base, &all);
        };
        for kind in ["stt", "llm", "tts"] {
            histogram("voice_provider_ttfb_seconds", &[("kind", kind), ("provider", "primary")]);
        }
        histogram("voice_turn_latency_seconds", &[("transport", "twilio")]);
        // The application's own metrics (`config()`): orders by payment method, three a
        // minute by card; one a minute by invoice, whose instance drains for 10 minutes
        // and restarts (its counter back to 0) at day 2, 12:00:30.
        counter("orders_total", &[("method", "card")], &|_| 3.0);
        let restart = start + 2 * DAY + 12 * HOUR + 30_000;
        let (mut before, mut since) = (0.0, 0.0);
        let invoice = times
            .iter()
            .map(|&t| {
                if t < restart {
                    before += if t >= restart - 10 * MIN { 0.0 } else { 1.0 };
                    (t, before)
                } else {
                    since += 1.0;
                    (t, since)
                }
            })
            .collect::<Vec<_>>();
        // Basket values: 6 a minute up to 10, 3 in (10, 50], 1 in (50, 100].
        for (le, per_minute) in [("10", 6.0), ("50", 9.0), ("100", 10.0), ("+Inf", 10.0)] {
            counter("basket_value_bucket", &[("le", le)], &|_| per_minute);
        }
        counter("basket_value_count", &[], &|_| 10.0);
        // Jobs waiting in queue "mail": the day's index into the period, 0 to 6.
        let mut gauge = |name: &str, pairs: &[(&str, &str)], value: &dyn Fn(i64) -> f64| {
            let samples = times.iter().map(|&t| (t, value(t))).collect();
            series.push(Series { labels: labelled(name, pairs), samples });
        };
        gauge("queue_depth", &[("queue", "mail")], &|t| day(t) as f64);
        let labels = labelled("orders_total", &[("method", "invoice")]);
        series.push(Series { labels, samples: invoice });
        Self { end, series }
    }

    fn start(&self) -> i64 {
        self.end - WEEK
    }

    /// OpenMetrics text of every sample, timestamps in seconds.
    fn openmetrics(&self) -> String {
        let mut out = String::new();
        for s in &self.series {
            let name = &s.labels["__name__"];
            let labels: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let labels = labels.join(",");
            for (t, v) in &s.samples {
                out.push_str(&format!("{name}{{{labels}}} {v} {}.{:03}\n", t / 1000, t % 1000));
            }
        }
        out.push_str("# EOF\n");
        out
    }

    /// The embedded store with every sample.
    fn storage(&self) -> Storage {
        let limits = StorageLimits::default();
        let mut storage = Storage::new(limits);
        for s in &self.series {
            for (t, v) in &s.samples {
                storage.append(&s.labels, *t, *v).expect("append");
            }
        }
        storage
    }

    /// Sum over the series `name` with `matching` labels of the increase from the first
    /// sample after `from` to the last at or before `to`.
    fn delta(&self, name: &str, matching: &dyn Fn(&Labels) -> bool, from: i64, to: i64) -> f64 {
        self.series
            .iter()
            .filter(|s| s.labels["__name__"] == name && matching(&s.labels))
            .map(|s| {
                let first = s.samples.partition_point(|(t, _)| *t <= from);
                let last = s.samples.partition_point(|(t, _)| *t <= to) - 1;
                s.samples[last].1 - s.samples[first].1
            })
            .sum()
    }
}

/// The config of every test: the defaults and the application's own metrics.
fn config() -> Config {
    Config::from_toml(
        r#"
        [[metrics]]
        name = "orders_total"
        kind = "counter"
        help = "Orders placed, by payment method."
        labels = [{ name = "method", values = ["card", "invoice"] }]

        [[metrics]]
        name = "basket_value"
        kind = "histogram"
        unit = "currency"
        help = "Basket value per order."
        buckets = [10, 50, 100]

        [[metrics]]
        name = "queue_depth"
        kind = "gauge"
        help = "Jobs waiting, by queue."
        labels = [{ name = "queue", cap = 4 }]
        "#,
    )
    .expect("valid config")
}

/// The application metrics' tables: exact totals, counts, means and maxima, and the
/// histogram's quantiles, against the samples.
fn assert_app_tables(report: &Value) {
    let table = |metric: &str| row(report, "app_metrics", "metric", metric);
    let orders = table("orders_total");
    assert_eq!(orders["kind"], "counter");
    assert_eq!(orders["columns"], serde_json::json!(["total"]));
    let rows = orders["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{orders}");
    // 10,080 minutes of the period: 3 a minute by card; 1 by invoice but for the 10
    // drained minutes, none lost to the restart.
    assert_eq!(rows[0]["labels"]["method"], "card");
    assert_eq!(rows[0]["figures"]["total"], 30_240.0);
    assert_eq!(rows[1]["labels"]["method"], "invoice");
    assert_eq!(rows[1]["figures"]["total"], 10_070.0);

    let basket = table("basket_value");
    assert_eq!(basket["columns"], serde_json::json!(["p50", "p95", "count"]));
    let rows = basket["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{basket}");
    // The 5th of 10 observations a minute, 5/6 into (0, 10]; the 9.5th, half-way
    // into (50, 100].
    close("basket p50", &rows[0]["figures"]["p50"], 50.0 / 6.0);
    close("basket p95", &rows[0]["figures"]["p95"], 75.0);
    assert_eq!(rows[0]["figures"]["count"], 100_800.0);

    let queue = table("queue_depth");
    let rows = queue["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{queue}");
    assert_eq!(rows[0]["labels"]["queue"], "mail");
    // 2,017 steps: 289 read day 0 (the start's reads the sample before it), 288 each of
    // days 1 to 6.
    close("queue mean", &rows[0]["figures"]["mean"], 288.0 * 21.0 / 2017.0);
    assert_eq!(rows[0]["figures"]["max"], 6.0);
}

fn any(_: &Labels) -> bool {
    true
}

/// The `q` quantile of cumulative `(bound, count)` buckets, interpolated linearly inside
/// the bucket it falls in, as histogram_quantile does.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().unwrap().1;
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            return previous.0 + (bound - previous.0) * (rank - previous.1) / (count - previous.1);
        }
        previous = (bound, count);
    }
    unreachable!("the +Inf bucket holds every observation")
}

/// The figures the report must show over `(from, to]`.
struct Expected {
    fallback_rate: f64,
    error_rate: f64,
    tts_p95: f64,
    slo_errors: BTreeMap<String, f64>,
}

fn expected(week: &Week, config: &Config, from: i64, to: i64) -> Expected {
    let label =
        |k: &'static str, v: &'static str| move |l: &Labels| l.get(k).is_some_and(|x| x == v);
    let http = "http_server_request_duration_seconds_count";
    let requests = week.delta(http, &any, from, to);
    let errors = week.delta(http, &label("status", "503"), from, to);
    let chains = week.delta("voice_provider_chain_duration_seconds_count", &any, from, to);
    let fallbacks = week.delta("voice_provider_fallbacks_total", &any, from, to);
    let bucket = |metric: &str, kind: Option<&str>, le: &str| {
        let matching = |l: &Labels| {
            l["le"] == le && kind.is_none_or(|k| l.get("kind").is_some_and(|x| x == k))
        };
        week.delta(&format!("{metric}_bucket"), &matching, from, to)
    };
    let ttfb = "voice_provider_ttfb_seconds";
    let tts: Vec<(f64, f64)> = LATENCY_BOUNDS
        .iter()
        .map(|b| (*b, bucket(ttfb, Some("tts"), &b.to_string())))
        .chain([(f64::INFINITY, bucket(ttfb, Some("tts"), "+Inf"))])
        .collect();
    let calls = week.delta("voice_calls_total", &any, from, to);
    let failed = week.delta("voice_calls_total", &label("outcome", "failed"), from, to);
    let mut slo_errors = BTreeMap::from([
        ("call-availability".to_owned(), failed / calls),
        ("http-availability".to_owned(), errors / requests),
    ]);
    let turn = "voice_turn_latency_seconds";
    let threshold = config.slo.turn_latency.threshold_seconds.to_string();
    let turn_miss = 1.0 - bucket(turn, None, &threshold) / bucket(turn, None, "+Inf");
    slo_errors.insert("turn-latency".to_owned(), turn_miss);
    for (kind, limits) in config.thresholds.ttfb.by_kind() {
        let good = bucket(ttfb, Some(kind), &limits.critical.to_string());
        let all = bucket(ttfb, Some(kind), "+Inf");
        slo_errors.insert(format!("provider-ttfb-{kind}"), 1.0 - good / all);
    }
    Expected {
        fallback_rate: fallbacks / chains,
        error_rate: errors / requests,
        tts_p95: quantile(0.95, &tts),
        slo_errors,
    }
}

fn close(what: &str, actual: &Value, expected: f64) {
    let actual = actual.as_f64().unwrap_or_else(|| panic!("{what}: no figure in {actual}"));
    let tolerance = TOLERANCE * expected.abs().max(1e-3);
    assert!((actual - expected).abs() <= tolerance, "{what}: {actual} vs {expected}");
}

fn row<'r>(report: &'r Value, table: &str, key: &str, name: &str) -> &'r Value {
    report[table]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == name)
        .unwrap_or_else(|| panic!("no {table} row {name}"))
}

/// Asserts every figure, status and trend point of `report` (JSON) against the samples.
/// `lead_ms`: how far before a window's start the first sample a source reads in it
/// lies, as a minute before it: 0 for Prometheus (its first sample is 30 s into the
/// window, and rate extrapolates every term of a ratio alike), a minute for the
/// embedded store, whose samples older than an hour are minute steps at the minute's
/// end (the step at the window's start holds the sample 30 s before it).
fn assert_report(report: &Value, week: &Week, config: &Config, lead_ms: i64) {
    let (start, end) = (week.start(), week.end);
    assert_eq!(report["start_ms"], start);
    assert_eq!(report["end_ms"], end);
    assert_eq!(report["period"], "7d");
    let whole = expected(week, config, start - lead_ms, end);
    let kpi = |key: &str| row(report, "kpis", "key", key);

    // Uptime: a step every 5 minutes from the start to the end, both included, reads
    // the sample 30 s before it; the 2 h down are 24 steps.
    let steps: Vec<i64> = (0..).map(|k| start + k * 5 * MIN).take_while(|t| *t <= end).collect();
    assert_eq!(steps.len(), 2017);
    let down_steps = steps.iter().filter(|t| down(start, **t - 30_000)).count();
    assert_eq!(down_steps, 24);
    close("uptime", &kpi("uptime")["actual"], (2017 - 24) as f64 / 2017.0);
    assert_eq!(kpi("uptime")["status"], "missed", "98.8 % is under 99 %");
    let uptime_trend = kpi("uptime")["trend"].as_array().unwrap();
    assert_eq!(uptime_trend.len(), 168);
    // The downtime covers whole trend hours: each hour reads 0 or 1.
    for point in uptime_trend {
        let t = point[0].as_i64().unwrap();
        let expected = if down(start, t - 30_000) { 0.0 } else { 1.0 };
        close(&format!("uptime at {t}"), &point[1], expected);
    }
    let down_hours = uptime_trend.iter().filter(|p| p[1] == 0.0).count();
    assert_eq!(down_hours, 2);

    close("config warnings", &kpi("config_warnings")["actual"], 1.0);
    assert_eq!(kpi("config_warnings")["status"], "missed");
    let warnings = kpi("config_warnings")["trend"].as_array().unwrap();
    assert_eq!(warnings.len(), 168);
    for (i, point) in warnings.iter().enumerate() {
        close("config warnings trend", &point[1], f64::from(i < 24));
    }

    close("fallback rate", &kpi("fallback_rate")["actual"], whole.fallback_rate);
    assert!((whole.fallback_rate - 0.0452).abs() < 1e-3, "{}", whole.fallback_rate);
    assert_eq!(kpi("fallback_rate")["status"], "met");
    close("error rate", &kpi("error_rate")["actual"], whole.error_rate);
    assert!(whole.error_rate > 0.01, "{}", whole.error_rate);
    assert_eq!(kpi("error_rate")["status"], "missed");
    close("tts p95", &kpi("tts_ttfb_p95")["actual"], whole.tts_p95);
    // 266th of 280 observations a day-minute, in the (0.3, 0.5] bucket: 0.49 s.
    assert!((whole.tts_p95 - 0.49).abs() < 1e-3, "{}", whole.tts_p95);
    assert_eq!(kpi("tts_ttfb_p95")["status"], "met");

    // Every hour of the ratio KPIs and SLO burn rates.
    let hours: Vec<i64> = (1..=168).map(|k| start + k * HOUR).collect();
    let by_hour: Vec<Expected> =
        hours.iter().map(|t| expected(week, config, t - HOUR - lead_ms, *t)).collect();
    for (key, pick) in [
        ("fallback_rate", (|e: &Expected| e.fallback_rate) as fn(&Expected) -> f64),
        ("error_rate", |e| e.error_rate),
        ("tts_ttfb_p95", |e| e.tts_p95),
    ] {
        let trend = kpi(key)["trend"].as_array().unwrap();
        assert_eq!(trend.len(), 168, "{key}");
        for ((point, t), e) in trend.iter().zip(&hours).zip(&by_hour) {
            assert_eq!(point[0], *t);
            close(&format!("{key} at {t}"), &point[1], pick(e));
        }
    }

    let slos = report["slos"].as_array().unwrap();
    assert_eq!(slos.len(), whole.slo_errors.len());
    for (name, error_ratio) in &whole.slo_errors {
        let slo = row(report, "slos", "name", name);
        let objective = slo["objective"].as_f64().unwrap();
        let budget = 1.0 - objective;
        close(&format!("{name} error ratio"), &slo["error_ratio"], *error_ratio);
        close(&format!("{name} attainment"), &slo["attainment"], 1.0 - error_ratio);
        close(&format!("{name} burn rate"), &slo["burn_rate"], error_ratio / budget);
        close(
            &format!("{name} budget remaining"),
            &slo["error_budget_remaining"],
            1.0 - error_ratio / budget,
        );
        let status = if 1.0 - error_ratio >= objective { "met" } else { "missed" };
        assert_eq!(slo["status"], status, "{name}");
        let trend = slo["trend"].as_array().unwrap();
        assert_eq!(trend.len(), 168, "{name}");
        for (point, e) in trend.iter().zip(&by_hour) {
            close(&format!("{name} burn trend"), &point[1], e.slo_errors[name] / budget);
        }
    }
    // The data makes both statuses appear among the SLOs.
    assert_eq!(row(report, "slos", "name", "call-availability")["status"], "met");
    assert_eq!(row(report, "slos", "name", "http-availability")["status"], "missed");
    assert_app_tables(report);
}

/// The end of the week: the last whole hour, so Prometheus keeps every block.
fn last_hour() -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    now / HOUR * HOUR
}

#[test]
fn the_embedded_store_reports_every_figure_of_a_known_week() {
    let week = Week::new(last_hour());
    let catalog = RuleCatalog::new(config()).unwrap();
    let report = ReportSpec::new(&catalog).run(&week.storage(), week.end, 7 * 86_400).unwrap();
    let json: Value = serde_json::from_str(&report::json(&report)).unwrap();
    assert_report(&json, &week, &catalog.config, MIN);
}

#[test]
fn voxscope_report_reads_the_same_week_from_a_saved_state_directory() {
    let week = Week::new(last_hour());
    let dir = TempDir::new("report-state");
    let written = StateDir::new(dir.path()).save_history(&week.storage()).expect("save history");
    assert!(written > 0);
    let catalog = RuleCatalog::new(config()).unwrap();
    let request = ReportRequest {
        source: ReportSource::StateDir(dir.path().to_owned()),
        since_seconds: 7 * 86_400,
        end_ms: Some(week.end),
    };
    let text = voxscope_cli::report::run(&catalog, &request, Format::Json).unwrap();
    assert_report(&serde_json::from_str(&text).unwrap(), &week, &catalog.config, MIN);

    let empty = TempDir::new("report-empty-state");
    let request =
        ReportRequest { source: ReportSource::StateDir(empty.path().to_owned()), ..request };
    let error = voxscope_cli::report::run(&catalog, &request, Format::Json).unwrap_err();
    assert!(error.to_string().contains("holds no saved metric history"), "{error}");
}

#[test]
fn a_backfilled_prometheus_reports_the_same_figures_as_the_embedded_store() {
    let (Some(promtool), Some(prometheus)) =
        (tool("promtool", "prometheus"), tool("prometheus", "prometheus"))
    else {
        return;
    };
    let week = Week::new(last_hour());
    let dir = TempDir::new("report-prometheus");
    std::fs::write(dir.path().join("week.om"), week.openmetrics()).unwrap();
    let (output, text) = run(
        &promtool,
        dir.path(),
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            "week.om",
            "data",
        ],
    );
    assert!(output.status.success(), "promtool: {text}");
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let port = free_port();
    let child = Command::new(&prometheus)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg("--storage.tsdb.retention.time=30d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let _prometheus = Daemon::new(child, dir);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while reqwest::blocking::get(format!("{base}/-/ready"))
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "Prometheus not ready within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }

    let catalog = RuleCatalog::new(config()).unwrap();
    let request = ReportRequest {
        source: ReportSource::Prometheus(base),
        since_seconds: 7 * 86_400,
        end_ms: Some(week.end),
    };
    let text = voxscope_cli::report::run(&catalog, &request, Format::Json).unwrap();
    let from_prometheus: Value = serde_json::from_str(&text).unwrap();
    assert_report(&from_prometheus, &week, &catalog.config, 0);

    // Row for row, the embedded store's report says the same.
    let embedded = ReportSpec::new(&catalog).run(&week.storage(), week.end, 7 * 86_400).unwrap();
    let embedded: Value = serde_json::from_str(&report::json(&embedded)).unwrap();
    for table in ["kpis", "slos", "app_metrics"] {
        for (p, e) in from_prometheus[table]
            .as_array()
            .unwrap()
            .iter()
            .zip(embedded[table].as_array().unwrap())
        {
            assert_eq!(p["status"], e["status"]);
            assert_eq!(p["query"], e["query"]);
            assert_eq!(p["queries"], e["queries"]);
        }
    }
    let markdown = voxscope_cli::report::run(&catalog, &request, Format::Markdown).unwrap();
    assert!(markdown.contains("| Uptime | ≥ 99% | 98.81% | missed |"), "{markdown}");
    assert!(markdown.contains("| Config warnings | ≤ 0 | 1 | missed |"), "{markdown}");
    assert!(
        markdown.contains(
            "\n| method | total |\n| --- | --- |\n| card | 30240 |\n| invoice | 10070 |\n"
        ),
        "{markdown}"
    );
    assert!(markdown.contains("| 8.33 | 75.00 | 100800 |"), "{markdown}");
    let page = voxscope_cli::report::run(&catalog, &request, Format::Html).unwrap();
    assert!(page.contains("<td>card</td><td class=\"num\">30240</td>"), "{page}");
}
