//! The report over a hand-filled embedded store: every figure against the samples.

use super::*;
use crate::RuleCatalog;
use crate::eval::{Labels, Storage, StorageLimits};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn labels(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut out: Labels = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    out.insert("__name__".to_owned(), name.to_owned());
    out.insert("job".to_owned(), "voice_agent".to_owned());
    out
}

/// Three hours of samples every minute, 30 s past it; `value(minute)` per series.
fn fill(storage: &mut Storage, name: &str, pairs: &[(&str, &str)], value: impl Fn(i64) -> f64) {
    let series = labels(name, pairs);
    for minute in 0..180 {
        storage.append(&series, minute * MIN + 30_000, value(minute)).unwrap();
    }
}

fn store(with_errors: bool) -> Storage {
    let limits = StorageLimits::default();
    let mut s = Storage::new(limits);
    // Down from 1h10m to 1h30m.
    fill(&mut s, "up", &[], |m| if (70..90).contains(&m) { 0.0 } else { 1.0 });
    // One setting missing for the first 80 minutes.
    fill(&mut s, "voxscope_config_missing", &[("field", "stt")], |m| f64::from(m < 80));
    let http = "http_server_request_duration_seconds_count";
    fill(&mut s, http, &[("route", "/calls"), ("status", "201")], |m| 100.0 * m as f64);
    if with_errors {
        fill(&mut s, http, &[("route", "/calls"), ("status", "503")], |m| m as f64);
    }
    let chain = "voice_provider_chain_duration_seconds_count";
    fill(&mut s, chain, &[("kind", "tts")], |m| 50.0 * m as f64);
    let fallbacks = "voice_provider_fallbacks_total";
    let from = [("kind", "tts"), ("from", "a"), ("to", "b"), ("reason", "timeout")];
    fill(&mut s, fallbacks, &from, |m| 4.0 * m as f64);
    s
}

fn report(storage: &Storage) -> Report {
    let catalog = RuleCatalog::new(Default::default()).unwrap();
    ReportSpec::new(&catalog).run(storage, 3 * HOUR, 7_200).unwrap()
}

fn kpi<'r>(report: &'r Report, key: &str) -> &'r KpiRow {
    report.kpis.iter().find(|k| k.key == key).unwrap()
}

fn close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a figure");
    assert!((actual - expected).abs() <= 1e-12 * expected.abs().max(1.0), "{actual} vs {expected}");
}

#[test]
fn every_kpi_is_read_from_the_samples_with_its_status() {
    let report = report(&store(true));
    assert_eq!((report.start_ms, report.end_ms, report.period.as_str()), (HOUR, 3 * HOUR, "2h"));
    // Steps every 5 minutes from 1h to 3h: 25, each reading the sample 30 s before it.
    // Those at 1h15m, 1h20m, 1h25m and 1h30m read up = 0.
    let uptime = kpi(&report, "uptime");
    assert_eq!((uptime.actual, uptime.status), (Some(21.0 / 25.0), Status::Missed));
    // The first hour's steps: 1h05m .. 2h (1h joins them), 4 of 13 down; the second: 12 up.
    assert_eq!(uptime.trend, vec![(2 * HOUR, 9.0 / 13.0), (3 * HOUR, 1.0)]);
    let warnings = kpi(&report, "config_warnings");
    assert_eq!((warnings.actual, warnings.status), (Some(1.0), Status::Missed));
    assert_eq!(warnings.trend, vec![(2 * HOUR, 1.0), (3 * HOUR, 0.0)]);
    let errors = kpi(&report, "error_rate");
    close(errors.actual, 1.0 / 101.0);
    assert_eq!(errors.status, Status::Met, "0.99 % is under 1 %");
    let fallback = kpi(&report, "fallback_rate");
    close(fallback.actual, 0.08);
    assert_eq!(fallback.status, Status::Missed);
    assert_eq!(fallback.trend.len(), 2);
    for (_, v) in &fallback.trend {
        close(Some(*v), 0.08);
    }
    let tts = kpi(&report, "tts_ttfb_p95");
    assert_eq!((tts.actual, tts.status, tts.trend.len()), (None, Status::NoData, 0));
    // The HTTP availability SLO reads the same requests: 1/101 bad against 99.9 %.
    let http = report.slos.iter().find(|s| s.name == "http-availability").unwrap();
    assert_eq!(http.objective, 0.999);
    let budget = 1.0 - 0.999;
    close(http.error_ratio, 1.0 / 101.0);
    close(http.attainment, 100.0 / 101.0);
    close(http.burn_rate, (1.0 / 101.0) / budget);
    close(http.error_budget_remaining, 1.0 - (1.0 / 101.0) / budget);
    for (_, burn) in &http.trend {
        close(Some(*burn), (1.0 / 101.0) / budget);
    }
    assert_eq!(http.status, Status::Missed);
    let calls = report.slos.iter().find(|s| s.name == "call-availability").unwrap();
    assert_eq!((calls.attainment, calls.status), (None, Status::NoData));
}

#[test]
fn a_period_without_a_single_error_reads_zero_not_no_data() {
    let report = report(&store(false));
    let errors = kpi(&report, "error_rate");
    assert_eq!((errors.actual, errors.status), (Some(0.0), Status::Met));
    let http = report.slos.iter().find(|s| s.name == "http-availability").unwrap();
    assert_eq!((http.attainment, http.burn_rate, http.status), (Some(1.0), Some(0.0), Status::Met));
    assert_eq!(http.error_budget_remaining, Some(1.0));
}

#[test]
fn uptime_counts_steps_without_any_sample_as_down() {
    let mut s = Storage::new(StorageLimits::default());
    // Samples only in the second half of the period.
    let up = labels("up", &[]);
    for minute in 120..180 {
        s.append(&up, minute * MIN + 30_000, 1.0).unwrap();
    }
    let uptime = kpi(&report(&s), "uptime").clone();
    // Steps 2h05m .. 3h read a sample: 12 of 25.
    assert_eq!(uptime.actual, Some(12.0 / 25.0));
    let empty = kpi(&report(&Storage::new(Default::default())), "uptime").clone();
    assert_eq!((empty.actual, empty.status), (None, Status::NoData));
}

#[test]
fn renderers_show_target_actual_and_status_of_every_row() {
    let report = report(&store(true));
    let md = markdown(&report);
    assert!(md.contains("| Uptime | ≥ 99% | 84% | missed |"), "{md}");
    assert!(md.contains("| Config warnings | ≤ 0 | 1 | missed |"), "{md}");
    assert!(md.contains("| Fallback rate | ≤ 5% | 8% | missed |"), "{md}");
    assert!(md.contains("| Error rate | ≤ 1% | 0.9901% | met |"), "{md}");
    assert!(md.contains("| TTS TTFB p95 | ≤ 500ms | – | no data |"), "{md}");
    assert!(
        md.contains("| http-availability | 99.9% | 99.01% | -890.1% | 9.90x | missed |"),
        "{md}"
    );
    assert!(md.contains("1 of 5 KPIs met"), "{md}");
    let value: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
    assert_eq!(value["kpis"][1]["key"], "fallback_rate");
    assert_eq!(value["kpis"][1]["target"]["comparison"], "at_most");
    assert_eq!(value["kpis"][1]["status"], "missed");
    assert_eq!(value["kpis"][2]["actual"], serde_json::Value::Null);
    assert_eq!(value["kpis"][4]["trend"][1], serde_json::json!([3 * HOUR, 1.0]));
    let page = html(&report);
    assert!(page.contains("<td class=\"status missed\">missed</td>"));
    assert_eq!(page.matches("<svg class=\"trend\"").count(), 5 + report.slos.len());
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("url("));
    assert!(page.contains("prefers-color-scheme:dark"));
}

#[test]
fn a_period_that_is_not_whole_trend_steps_ends_its_last_trend_point_at_its_end() {
    let catalog = RuleCatalog::new(Default::default()).unwrap();
    let report = ReportSpec::new(&catalog).run(&store(true), 3 * HOUR, 5_400).unwrap();
    // Steps from 1h30m: those up to 2h30m in the first hour, the rest end at 3h.
    let uptime = kpi(&report, "uptime");
    // The start, 1h30m, reads the last sample of the downtime: 18 of 19 steps up.
    assert_eq!(uptime.actual, Some(18.0 / 19.0));
    assert_eq!(uptime.trend, vec![(HOUR * 5 / 2, 12.0 / 13.0), (3 * HOUR, 1.0)]);
    let warnings = kpi(&report, "config_warnings");
    assert_eq!(warnings.trend, vec![(HOUR * 5 / 2, 0.0), (3 * HOUR, 0.0)]);
}

#[test]
fn a_store_holding_only_the_metrics_the_report_reads_gives_the_same_report() {
    let catalog = RuleCatalog::new(Default::default()).unwrap();
    let spec = ReportSpec::new(&catalog);
    let mut full = store(true);
    let other = labels("process_resident_memory_bytes", &[]);
    full.append(&other, 30_000, 1e9).unwrap();
    let names = spec.metrics();
    assert!(names.contains(&"up".to_owned()) && names.contains(&"voice_calls_total".to_owned()));
    let copy = full.with_metrics(&names);
    assert_eq!(copy.series_count(), full.series_count() - 1);
    assert_eq!(
        spec.run(&copy, 3 * HOUR, 7_200).unwrap(),
        spec.run(&full, 3 * HOUR, 7_200).unwrap()
    );
}

/// Calls climbing 30 an hour to 189.5 at the end, against a capacity of 200; a TTS
/// provider falling back on a tenth of its requests, 80 % of them rate limited; groq's
/// tokens climbing towards its daily budget; and a series no recommendation reads.
/// The catalog of that capacity and budget, and the end of the samples.
fn rising() -> (Storage, RuleCatalog, i64) {
    let mut s = Storage::new(StorageLimits::default());
    fill(&mut s, "voice_calls_active", &[("transport", "twilio")], |m| 100.0 + m as f64 / 2.0);
    let requests = [("kind", "tts"), ("provider", "el"), ("outcome", "ok")];
    fill(&mut s, "voice_provider_requests_total", &requests, |m| 100.0 * m as f64);
    for (reason, per_minute) in [("rate_limited", 8.0), ("timeout", 2.0)] {
        let from = [("kind", "tts"), ("from", "el"), ("to", "az"), ("reason", reason)];
        fill(&mut s, "voice_provider_fallbacks_total", &from, |m| per_minute * m as f64);
    }
    // 900 tokens a minute from the first sample: 162,000 at the end, 90 % of 180,000.
    let tokens = [("provider", "groq"), ("token_type", "input")];
    fill(&mut s, "gen_ai_client_token_usage_sum", &tokens, |m| 900.0 * m as f64);
    fill(&mut s, "process_resident_memory_bytes", &[], |_| 1e9);
    let config = crate::Config::from_toml(
        "[capacity]\nmax_concurrent_calls = 200\nhorizon_hours = 1\n\
         [capacity.daily_tokens]\ngroq = 180000\n",
    )
    .unwrap();
    // The last sample is at 179.5 minutes.
    (s, RuleCatalog::new(config).unwrap(), 179 * MIN + 30_000)
}

/// The store the engine's report route copies (only the metrics the spec names) holds
/// every series the recommendations read.
#[test]
fn a_store_holding_only_the_metrics_the_report_reads_keeps_its_recommendations() {
    let (full, catalog, end) = rising();
    let spec = ReportSpec::new(&catalog);
    let copy = full.with_metrics(&spec.metrics());
    assert_eq!(copy.series_count(), full.series_count() - 1);
    let report = spec.run(&copy, end, 7_200).unwrap();
    assert_eq!(report.recommendations.len(), 3, "{:#?}", report.recommendations);
    assert_eq!(report, spec.run(&full, end, 7_200).unwrap());
}

#[test]
fn recommendations_carry_the_figures_of_the_samples() {
    let (s, catalog, end) = rising();
    let report = ReportSpec::new(&catalog).run(&s, end, 7_200).unwrap();
    let keys: Vec<&str> = report.recommendations.iter().map(|r| r.key).collect();
    assert_eq!(keys, ["fallbacks", "call_capacity", "provider_quota"]);
    // The recommender alone, over the same period, says the same.
    let alone = Recommender::new(&catalog).recommend(&s, end, 7_200).unwrap();
    assert_eq!(alone, report.recommendations);

    let fallbacks = &report.recommendations[0];
    close(Some(fallbacks.figures["fallback_share"]), 0.1);
    close(Some(fallbacks.figures["top_reason_share"]), 0.8);
    assert!(
        fallbacks
            .text
            .starts_with("The tts provider el fell back on 10% of its requests over the last 2h")
            && fallbacks.text.contains("most of them rate_limited (80% of the fallbacks)"),
        "{}",
        fallbacks.text
    );

    // 189.5 calls, 30 more an hour: 200 in 21 minutes.
    let calls = &report.recommendations[1];
    close(Some(calls.figures["calls_now"]), 189.5);
    close(Some(calls.figures["calls_per_hour"]), 30.0);
    close(Some(calls.figures["seconds_to_capacity"]), 1260.0);
    assert!(calls.text.contains("around 03:20 UTC on 1970-01-01"), "{}", calls.text);

    // A counter from zero: its day's increase is its value, 161,100 (89.5 %) at the end,
    // 54,000 more an hour: the budget in 21 minutes.
    let quota = &report.recommendations[2];
    close(Some(quota.figures["used_24h"]), 161_100.0);
    close(Some(quota.figures["seconds_to_budget"]), 1260.0);
    assert!(
        quota.text.starts_with("groq used 161,100 tokens in the last 24 hours, 89.5% of its")
            && quota.text.contains("passes the budget around 03:20 UTC"),
        "{}",
        quota.text
    );

    // Quiet samples: nothing to recommend.
    let quiet = ReportSpec::new(&catalog).run(&store(false), 3 * HOUR, 7_200).unwrap();
    assert_eq!(quiet.recommendations, []);
}
