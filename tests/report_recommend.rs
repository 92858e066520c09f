//! The weekly report's recommendations on the labelled synthetic month of
//! scripts/synthetic_month.py (its last 8 days, the scenario in the last week): the
//! TTS primary's rate-limited fallbacks, the call trend that passes the capacity and
//! the LLM primary's tokens nearing its daily budget are each recommended with their
//! figures; the clean month of the same seed gets none.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use voxscope::alert::eval::{Labels, StepTier, Storage, StorageLimits};
use voxscope::alert::report::{Recommendation, Report, ReportSpec, html, json, markdown};
use voxscope::alert::{Config, RuleCatalog};

/// The families the recommendations read.
const FAMILIES: &[&str] = &[
    "voice_calls_active",
    "voice_provider_requests_total",
    "voice_provider_fallbacks_total",
    "gen_ai_client_token_usage_sum",
];

const DAY_MS: i64 = 86_400_000;

/// `name{k="v",...} value seconds` of the script's OpenMetrics text.
fn parse(line: &str) -> Option<(Labels, i64, f64)> {
    let open = line.find('{')?;
    let close = line.rfind('}')?;
    let mut labels = Labels::from([
        ("__name__".to_owned(), line[..open].to_owned()),
        ("job".to_owned(), "voice_agent".to_owned()),
    ]);
    for pair in line[open + 1..close].split("\",") {
        let (key, value) = pair.split_once("=\"")?;
        labels.insert(key.to_owned(), value.trim_end_matches('"').to_owned());
    }
    let mut rest = line[close + 1..].split_whitespace();
    let value = rest.next()?.parse().ok()?;
    let seconds: f64 = rest.next()?.parse().ok()?;
    Some((labels, (seconds * 1000.0) as i64, value))
}

struct Month {
    storage: Storage,
    labels: Value,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the script (seed 1, 8 days) and loads what the recommendations read.
fn month(clean: bool) -> Option<Month> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!(
        "voxscope-recommend-{}-{}",
        std::process::id(),
        if clean { "clean" } else { "month" }
    ));
    let dir = TempDir(dir);
    let mut command = Command::new("python3");
    // The month's last 8 days: it ends on a Tuesday at 12:00 UTC, as the month does.
    command.arg(root.join("scripts/synthetic_month.py")).args([
        "--seed",
        "1",
        "--days",
        "8",
        "--start",
        "2026-11-23T12:00:00Z",
    ]);
    if clean {
        command.arg("--clean");
    }
    let status = match command.arg("--out").arg(&dir.0).status() {
        Ok(status) => status,
        Err(error) => {
            assert!(std::env::var_os("CI").is_none(), "python3 is needed: {error}");
            eprintln!("skipped: no python3 ({error})");
            return None;
        }
    };
    assert!(status.success(), "synthetic_month.py failed");
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("labels.json")).expect("labels"))
            .expect("labels.json");
    Some(Month { storage: load(&dir.0.join("month.om")), labels, _dir: dir })
}

fn load(path: &Path) -> Storage {
    let minute = StepTier { step_ms: 60_000, retention_ms: 9 * DAY_MS };
    let limits = StorageLimits { raw_ms: 2 * 3_600_000, aggregates: minute, ..Default::default() };
    let mut storage = Storage::new(limits);
    let file = std::fs::File::open(path).expect("month.om");
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        let line = line.expect("line");
        let wanted = FAMILIES
            .iter()
            .any(|f| line.starts_with(f) && line.as_bytes().get(f.len()) == Some(&b'{'));
        if !wanted {
            continue;
        }
        let (labels, t_ms, value) = parse(&line).expect("a sample line");
        storage.append(&labels, t_ms, value).expect("append");
    }
    storage
}

/// The report over the last week, with the scenario's capacity and budget.
fn weekly(month: &Month) -> Report {
    let scenario = &month.labels["scenario"];
    let capacity = scenario["calls_capacity"].as_f64().expect("capacity") as u64;
    let groq = scenario["daily_token_budget"]["llm"]["groq"].as_u64().expect("groq budget");
    let config = Config::from_toml(&format!(
        "[capacity]\nmax_concurrent_calls = {capacity}\n[capacity.daily_tokens]\ngroq = {groq}\n"
    ))
    .expect("config");
    let catalog = RuleCatalog::new(config).expect("catalog");
    let end_ms = month.labels["end"].as_i64().expect("end") * 1000;
    ReportSpec::new(&catalog).run(&month.storage, end_ms, 7 * 86_400).expect("report")
}

fn find<'r>(report: &'r Report, key: &str) -> &'r Recommendation {
    report.recommendations.iter().find(|r| r.key == key).unwrap_or_else(|| {
        panic!("no {key} recommendation in {:#?}", report.recommendations);
    })
}

#[test]
fn the_scenario_week_gets_its_three_recommendations_and_the_clean_week_none() {
    let Some(scenario) = month(false) else { return };
    let report = weekly(&scenario);
    assert_eq!(report.recommendations.len(), 3, "{:#?}", report.recommendations);
    let end_ms = report.end_ms;

    let fallbacks = find(&report, "fallbacks");
    let share = fallbacks.figures["fallback_share"];
    assert!((0.06..0.08).contains(&share), "{share}");
    assert!(fallbacks.figures["top_reason_share"] > 0.7, "{:?}", fallbacks.figures);
    assert!(
        fallbacks.text.starts_with("The tts provider elevenlabs fell back on 6.9")
            && fallbacks.text.contains("most of them rate_limited")
            && fallbacks.text.contains("/HighFallbackRate.md"),
        "{}",
        fallbacks.text
    );

    // Calls pass the capacity at the first daily peak after the end (15:00 UTC, the
    // end is at 12:00): the trend of the last hour crosses it before then.
    let calls = find(&report, "call_capacity");
    let at = calls.figures["capacity_at_ms"] as i64;
    assert!(at > end_ms && at <= end_ms + 4 * 3_600_000, "{:?}", calls.figures);
    let now = calls.figures["calls_now"];
    assert!((150.0..200.0).contains(&now), "{now}");
    assert!(calls.figures["calls_per_hour"] > 0.0);
    assert!(calls.text.starts_with("Calls will reach the capacity of 200 concurrent calls around"));

    let tokens = find(&report, "provider_quota");
    let used = tokens.figures["used_24h"];
    assert!(used > 0.85 * 550e6 && used < 550e6, "{used}");
    assert!(tokens.text.starts_with("groq used 4"), "{}", tokens.text);
    assert!(tokens.text.contains("of its daily budget of 550,000,000"), "{}", tokens.text);
    // Its trend stays under the budget within the horizon: the share alone calls for it.
    assert!(tokens.text.contains("tokens more an hour"), "{}", tokens.text);
    assert!(!tokens.figures.contains_key("seconds_to_budget"));

    // Every rendering lists them.
    for text in [markdown(&report), html(&report)] {
        assert!(text.contains("Recommendations"));
        assert!(text.contains("elevenlabs fell back on 6.9"), "{text}");
        assert!(text.contains("groq used 4") && text.contains("Calls will reach"), "{text}");
    }
    let value: Value = serde_json::from_str(&json(&report)).expect("json");
    assert_eq!(value["recommendations"].as_array().map(Vec::len), Some(3));
    assert!(value["recommendations"][0]["figures"]["fallback_share"].as_f64().is_some());
    drop(scenario);

    let Some(clean) = month(true) else { return };
    let report = weekly(&clean);
    assert_eq!(report.recommendations, [], "the clean week");
    assert!(markdown(&report).contains("## Recommendations\n\nNone:"));
}
