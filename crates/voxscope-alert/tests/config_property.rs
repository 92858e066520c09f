//! `Config::from_toml` on any text: a config or an error, never a panic. Values written
//! by the `toml` crate read back exactly when in range; out of range, the error names the
//! field. A config it accepts builds its rules and every `deploy/` file.

use proptest::prelude::*;
use voxscope_alert::{Config, RuleCatalog, deploy};
use voxscope_core::catalog::{self, MetricKind};

/// Shares that the config takes strictly between 0 and 1, each on its own.
const SHARES: [&str; 4] =
    ["http_error_ratio", "call_error_ratio", "audio_quality_min", "calls_capacity_ratio"];

/// Any float TOML can write, the edges and the non-finite ones included.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..1.0f64,
        any::<f64>(),
        Just(0.0),
        Just(1.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
    ]
}

/// TOML `[section] key = value` text, written by the `toml` crate.
fn toml_text(section: &str, key: &str, value: toml::Value) -> String {
    let inner = toml::Table::from_iter([(key.to_owned(), value)]);
    let outer = toml::Table::from_iter([(section.to_owned(), toml::Value::Table(inner))]);
    toml::to_string(&outer).unwrap()
}

/// TOML made of the config's own sections and keys with values of any type.
fn config_like() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "thresholds",
        "slo",
        "service",
        "deploy",
        "engine",
        "history",
        "probe",
        "api",
        "cooldowns",
    ]);
    let key = prop::sample::select(vec![
        "http_error_ratio",
        "http_latency_p95_seconds",
        "min_events",
        "http_availability",
        "job",
        "job_selector",
        "target",
        "retention_days",
        "token_file",
        "critical_seconds",
        "logs",
        "url",
    ]);
    let value = prop_oneof![
        float().prop_map(toml::Value::Float),
        any::<i64>().prop_map(toml::Value::Integer),
        "[ -~]{0,16}".prop_map(toml::Value::String),
        Just(toml::Value::String(r#"job=~"voice-.*""#.to_owned())),
        any::<bool>().prop_map(toml::Value::Boolean),
    ];
    prop::collection::vec((section, key, value), 0..4).prop_map(|entries| {
        entries.into_iter().map(|(s, k, v)| toml_text(s, k, v)).collect::<Vec<_>>().join("\n")
    })
}

fn histograms() -> Vec<&'static str> {
    catalog::ALL.iter().filter(|d| d.kind == MetricKind::Histogram).map(|d| d.name).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn any_text_is_a_config_or_an_error(text in "\\PC{0,120}") {
        if let Err(err) = Config::from_toml(&text) {
            prop_assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn a_share_reads_back_in_range_and_is_refused_by_name_outside(
        field in prop::sample::select(SHARES.to_vec()),
        value in float(),
    ) {
        let text = toml_text("thresholds", field, toml::Value::Float(value));
        let in_range = value > 0.0 && value < 1.0;
        match Config::from_toml(&text) {
            Ok(config) => {
                prop_assert!(in_range, "{} = {} was accepted", field, value);
                let read = match field {
                    "http_error_ratio" => config.thresholds.http_error_ratio,
                    "call_error_ratio" => config.thresholds.call_error_ratio,
                    "audio_quality_min" => config.thresholds.audio_quality_min,
                    _ => config.thresholds.calls_capacity_ratio,
                };
                prop_assert_eq!(read.to_bits(), value.to_bits());
            }
            Err(err) => {
                prop_assert!(!in_range, "{} = {}: {}", field, value, err);
                let named = format!("thresholds.{field}");
                prop_assert!(err.to_string().starts_with(&named), "{}", err);
            }
        }
    }

    #[test]
    fn bucket_overrides_read_back_or_name_their_metric(
        metric in prop::sample::select(histograms()),
        bounds in prop::collection::vec(prop_oneof![0.0..100.0f64, float()], 0..8),
    ) {
        let values = bounds.iter().map(|b| toml::Value::Float(*b)).collect();
        let text = toml_text("buckets", metric, toml::Value::Array(values));
        let field = format!("buckets.{metric}");
        let well_formed = voxscope_core::validate_buckets(&field, &bounds).is_ok();
        match Config::from_toml(&text) {
            Ok(config) => {
                prop_assert!(well_formed, "{:?} was accepted for {}", bounds, metric);
                let read: Vec<u64> = config.buckets_of(metric).iter().map(|b| b.to_bits()).collect();
                let written: Vec<u64> = bounds.iter().map(|b| b.to_bits()).collect();
                prop_assert_eq!(read, written);
            }
            // Refused as malformed, or a latency threshold is no longer a bound.
            Err(err) => prop_assert!(err.to_string().contains(metric), "{}", err),
        }
    }
}

proptest! {
    // Each accepted case renders every deploy/ file: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_accepted_config_renders_every_deploy_file(text in config_like()) {
        let Ok(config) = Config::from_toml(&text) else { return Ok(()) };
        let catalog = RuleCatalog::new(config).expect("from_toml validated it");
        let files = deploy::files(&catalog);
        prop_assert!(files.iter().any(|f| f.path == "prometheus/rules/voxscope.rules.yml"));
    }
}
