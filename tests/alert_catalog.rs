//! The typed rule catalog against the metric catalog and the alert table: every rule and panel
//! names only catalog metrics and labels, every alert of the design table exists with its
//! severity, configs are validated with errors that name the field, and dashboards are
//! well formed.

use std::collections::HashSet;

use serde_json::Value;
use voxscope::alert::{
    Config, Error, RecordingRule, RuleCatalog, Severity, grafana, promql, runbook,
};

fn catalog() -> RuleCatalog {
    RuleCatalog::new(Config::default()).expect("default config is valid")
}

/// `(record, labels)` of the recording rules, one entry per record: static labels plus
/// grouping labels; a rule that groups nothing (an anomaly band) keeps the labels of the
/// recorded series it reads.
fn recorded(rules: &[RecordingRule]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in rules {
        let refs = promql::references(&r.expr);
        let mut labels: Vec<String> = r.labels.keys().cloned().collect();
        labels.extend(refs.grouping.iter().cloned());
        if refs.grouping.is_empty() {
            for selector in &refs.selectors {
                if let Some((_, read)) = out.iter().find(|(name, _)| *name == selector.metric) {
                    labels.extend(read.iter().cloned());
                }
            }
        }
        match out.iter_mut().find(|(name, _)| *name == r.record) {
            Some((_, known)) => known.extend(labels),
            None => out.push((r.record.clone(), labels)),
        }
    }
    out
}

#[test]
fn every_rule_and_panel_names_only_catalog_metrics_and_labels() {
    let catalog = catalog();
    let all_recorded = recorded(&catalog.recording);
    let mut problems = Vec::new();
    let mut checked = 0;
    for (i, rule) in catalog.recording.iter().enumerate() {
        // Recording rules read raw metrics, or series recorded before them in the group.
        problems.extend(promql::check(&rule.expr, &recorded(&catalog.recording[..i])).err());
        checked += 1;
    }
    // The Watchdog heartbeat (severity none) selects nothing by design.
    for rule in catalog.alerts.iter().filter(|a| a.severity != Severity::None) {
        problems.extend(promql::check(&rule.expr, &all_recorded).err());
        checked += 1;
    }
    for dashboard in grafana::dashboards(&catalog) {
        for panel in &dashboard.panels {
            for (expr, _) in &panel.queries {
                problems.extend(promql::check(expr, &all_recorded).err());
                checked += 1;
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 100, "only {checked} expressions checked");
}

#[test]
fn every_alert_of_the_design_table_exists_with_its_severity() {
    let catalog = catalog();
    let has = |name: &str, severity: Severity| {
        catalog.alerts.iter().any(|a| a.name == name && a.severity == severity)
    };
    for (name, severity) in [
        ("HighCallLatency", Severity::Warning),
        ("HighAIResponseTime", Severity::Warning),
        ("HighProviderTTFB", Severity::Warning),
        ("HighProviderTTFB", Severity::Critical),
        ("LowAudioQuality", Severity::Warning),
        ("NegativeSentiment", Severity::Warning),
        ("HighCallErrorRate", Severity::Critical),
        ("HighHTTPErrorRate", Severity::Critical),
        ("HighResponseTime", Severity::Warning),
        ("ProviderErrors", Severity::Warning),
        ("HighFallbackRate", Severity::Warning),
        ("HighFallbackRate", Severity::Critical),
        ("ConfigMissing", Severity::Critical),
        ("CallsNearCapacity", Severity::Warning),
        ("HighCPUUsage", Severity::Warning),
        ("HighMemoryUsage", Severity::Warning),
        ("ServiceDown", Severity::Critical),
    ] {
        assert!(has(name, severity), "{name} {severity} missing");
    }
    for slo in ["call-availability", "http-availability", "turn-latency", "provider-ttfb-llm"] {
        for severity in [Severity::Critical, Severity::Warning] {
            assert!(
                catalog.alerts.iter().any(|a| a.labels.get("slo").map(String::as_str) == Some(slo)
                    && a.severity == severity),
                "no {severity} burn alert for {slo}"
            );
        }
    }
}

#[test]
fn burn_rate_alerts_use_the_workbook_windows_and_factors() {
    let catalog = catalog();
    let page = catalog
        .alerts
        .iter()
        .find(|a| {
            a.labels.get("slo").map(String::as_str) == Some("http-availability")
                && a.severity == Severity::Critical
        })
        .expect("page alert");
    for part in [
        "slo:sli_error:ratio_rate5m{slo=\"http-availability\"} > 14.4 * (1 - 0.999)",
        "slo:sli_error:ratio_rate1h{slo=\"http-availability\"} > 14.4 * (1 - 0.999)",
        "slo:sli_error:ratio_rate30m{slo=\"http-availability\"} > 6 * (1 - 0.999)",
        "slo:sli_error:ratio_rate6h{slo=\"http-availability\"} > 6 * (1 - 0.999)",
        // A quiet hour's single failure must not page: events in the short window.
        "and on (job) sum by (job) (increase(http_server_request_duration_seconds_count{job=\"voice_agent\"}[5m])) >= 10",
    ] {
        assert!(page.expr.contains(part), "{part} not in {}", page.expr);
    }
    let ticket = catalog
        .alerts
        .iter()
        .find(|a| {
            a.labels.get("slo").map(String::as_str) == Some("http-availability")
                && a.severity == Severity::Warning
        })
        .expect("ticket alert");
    for part in
        ["ratio_rate2h", "ratio_rate1d", "> 3 * (1 - 0.999)", "ratio_rate3d", "> 1 * (1 - 0.999)"]
    {
        assert!(ticket.expr.contains(part), "{part} not in {}", ticket.expr);
    }
    let windows: HashSet<&str> = catalog
        .recording
        .iter()
        .map(|r| r.record.as_str())
        .filter(|r| r.starts_with("slo:"))
        .collect();
    assert_eq!(windows.len(), 7, "{windows:?}");
}

#[test]
fn every_alert_carries_its_labels_annotations_and_a_runbook() {
    let catalog = catalog();
    let books = runbook::runbooks(&catalog);
    for rule in &catalog.alerts {
        let annotations = catalog.annotations(rule);
        for key in ["summary", "description", "runbook_url", "dashboard"] {
            assert!(annotations.get(key).is_some_and(|v| !v.is_empty()), "{}: {key}", rule.name);
        }
        assert!(annotations["runbook_url"].ends_with(&format!("/{}.md", rule.name)));
        assert!(runbook::guide(&rule.name).is_some(), "{} has no runbook guidance", rule.name);
        let (_, book) = books.iter().find(|(name, _)| name == &rule.name).expect("runbook");
        assert!(book.contains(&rule.expr), "{}'s runbook lacks its query", rule.name);
    }
}

#[test]
fn latency_thresholds_off_the_buckets_are_rejected_with_the_buckets_to_add() {
    let err =
        Config::from_toml("[slo]\nturn_latency = { objective = 0.95, threshold_seconds = 0.7 }")
            .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::NotABucketBound { .. }), "{text}");
    assert!(
        text.starts_with("slo.turn_latency.threshold_seconds: 0.7 is not a bucket bound"),
        "{text}"
    );
    assert!(text.contains("add 0.7 to [buckets] voice_turn_latency_seconds"), "{text}");

    // The same threshold is fine once the service installs that bound.
    let config = Config::from_toml(
        "[buckets]\nvoice_turn_latency_seconds = [0.1, 0.3, 0.5, 0.7, 1.0, 2.0]\n\
         [slo]\nturn_latency = { objective = 0.95, threshold_seconds = 0.7 }",
    )
    .expect("threshold on a configured bound");
    let catalog = RuleCatalog::new(config).expect("catalog");
    assert!(
        catalog.alerts.iter().any(|a| a.expr.contains("le=\"0.7\"") || a.expr.ends_with("> 0.7"))
    );

    // A p95 above the highest finite bound cannot be measured.
    let text =
        Config::from_toml("[thresholds]\nhttp_latency_p95_seconds = 30.0").unwrap_err().to_string();
    assert!(
        text.contains("thresholds.http_latency_p95_seconds") && text.contains("larger bound"),
        "{text}"
    );
}

#[test]
fn bad_settings_are_rejected_naming_the_field_and_the_value() {
    for (toml, field, value) in [
        ("[thresholds]\nhttp_error_ratio = 1.5", "thresholds.http_error_ratio", "1.5"),
        ("[thresholds]\ncpu_ratio = -1.0", "thresholds.cpu_ratio", "-1"),
        ("[slo]\ncall_availability = 0.5", "slo.call_availability", "0.5"),
        (
            "[thresholds.ttfb.tts]\nwarning = 1.0\ncritical = 0.5",
            "thresholds.ttfb.tts.critical",
            "0.5",
        ),
        (
            "[thresholds]\nfallback_ratio_warning = 0.2\nfallback_ratio_critical = 0.1",
            "thresholds.fallback_ratio_critical",
            "0.1",
        ),
        ("[buckets]\nvoice_calls_total = [1.0]", "buckets.voice_calls_total", "voice_calls_total"),
        (
            "[buckets]\nvoice_turn_latency_seconds = [1.0, 0.5]",
            "buckets.voice_turn_latency_seconds",
            "0.5",
        ),
        ("[alertmanager]\ngroup_interval_seconds = 0", "alertmanager.group_interval_seconds", "0"),
        ("[service]\njob = \"\"", "service.job", ""),
    ] {
        let text = Config::from_toml(toml).unwrap_err().to_string();
        assert!(text.starts_with(field) || text.contains(&format!("{field}:")), "{toml}: {text}");
        assert!(text.contains(value), "{toml}: {text}");
    }
    let text = Config::from_toml("[thresholds]\nhttp_eror_ratio = 0.1").unwrap_err().to_string();
    assert!(text.contains("http_eror_ratio"), "{text}");
}

fn overlaps(a: &Value, b: &Value) -> bool {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    n(a, "x") < n(b, "x") + n(b, "w")
        && n(b, "x") < n(a, "x") + n(a, "w")
        && n(a, "y") < n(b, "y") + n(b, "h")
        && n(b, "y") < n(a, "y") + n(a, "h")
}

#[test]
fn dashboards_are_well_formed_with_a_datasource_variable_and_units() {
    let catalog = catalog();
    let dashboards = grafana::dashboards(&catalog);
    let uids: HashSet<&str> = dashboards.iter().map(|d| d.uid).collect();
    for rule in &catalog.alerts {
        assert!(uids.contains(rule.dashboard), "{} links to a missing dashboard", rule.name);
    }
    for dashboard in &dashboards {
        let doc: Value = serde_json::from_str(&dashboard.json()).expect("valid JSON");
        let uid = dashboard.uid;
        assert_eq!(doc["uid"], uid);
        assert!(doc["schemaVersion"].as_u64() >= Some(39), "{uid}");
        let vars = doc["templating"]["list"].as_array().expect("templating");
        assert!(
            vars.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{uid}: no Prometheus datasource variable"
        );
        let panels = doc["panels"].as_array().expect("panels");
        assert!(!panels.is_empty(), "{uid}");
        let mut ids = HashSet::new();
        for (i, panel) in panels.iter().enumerate() {
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(ids.insert(panel["id"].as_u64().expect("id")), "{uid}: duplicate id");
            let grid = &panel["gridPos"];
            let right = grid["x"].as_u64().unwrap_or(99) + grid["w"].as_u64().unwrap_or(99);
            assert!(right <= 24 && grid["h"].as_u64() > Some(0), "{uid}/{title}: {grid}");
            for other in &panels[..i] {
                assert!(
                    !overlaps(grid, &other["gridPos"]),
                    "{uid}/{title} overlaps {}",
                    other["title"]
                );
            }
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{uid}/{title}");
            assert_eq!(panel["datasource"]["type"], "prometheus", "{uid}/{title}");
            let unit = panel["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_default();
            assert!(!unit.is_empty(), "{uid}/{title}: no unit");
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{uid}/{title}: no query");
            let mut refs = HashSet::new();
            for target in targets {
                assert_eq!(target["datasource"]["uid"], "${datasource}", "{uid}/{title}");
                assert!(refs.insert(target["refId"].as_str().expect("refId")), "{uid}/{title}");
                assert!(!target["expr"].as_str().unwrap_or_default().is_empty());
            }
        }
    }
}

#[test]
fn dashboards_cover_what_the_issue_lists() {
    let catalog = catalog();
    let exprs: Vec<String> = grafana::dashboards(&catalog)
        .iter()
        .flat_map(|d| d.panels.iter().flat_map(|p| p.queries.iter().map(|(q, _)| q.clone())))
        .collect();
    let all = exprs.join("\n");
    for metric in [
        "voice_calls_active",
        "voice_calls_capacity",
        "voice_calls_total",
        "voice_call_duration_seconds",
        "voice_call_audio_quality",
        "voice_turn_latency_seconds",
        "voice_provider_ttfb_seconds",
        "voice_provider_errors_total",
        "voice_provider_fallbacks_total",
        "voice_provider_circuit_open",
        "gen_ai_client_token_usage",
        "voice_tts_characters_total",
        "voice_stt_audio_seconds_total",
        "http_server_request_duration_seconds",
        "voxscope_config_missing",
        "slo:sli_error:ratio_rate",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(all.contains(metric), "no panel shows {metric}");
    }
    let heatmaps = grafana::dashboards(&catalog)
        .iter()
        .flat_map(|d| d.panels.clone())
        .filter(|p| p.kind == grafana::Kind::Heatmap)
        .count();
    assert!(heatmaps >= 1);
}

#[test]
fn dashboards_select_by_job_and_instance_and_colour_by_which_side_is_bad() {
    let catalog = catalog();
    let mut titles = Vec::new();
    for dashboard in grafana::dashboards(&catalog) {
        let doc: Value = serde_json::from_str(&dashboard.json()).expect("valid JSON");
        let vars: Vec<&str> = doc["templating"]["list"]
            .as_array()
            .expect("templating")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(vars, ["datasource", "job", "instance"], "{}", dashboard.uid);
        for panel in doc["panels"].as_array().expect("panels") {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().unwrap_or_default();
                // Every raw selector (recorded series aside) is scoped to the chosen job:
                // Prometheus's own process metrics never join the service's.
                for selector in promql::references(expr).selectors {
                    if !selector.metric.contains(':') {
                        assert!(
                            selector.labels.starts_with(&["job".to_owned(), "instance".to_owned()]),
                            "{title}: {} is not scoped in {expr}",
                            selector.metric
                        );
                    }
                }
            }
            let steps = &panel["fieldConfig"]["defaults"]["thresholds"]["steps"];
            let base = steps[0]["color"].as_str().unwrap_or_default().to_owned();
            titles.push((title, base, panel["type"].as_str().unwrap_or_default().to_owned()));
        }
    }
    let base_of = |prefix: &str| {
        titles.iter().find(|(t, ..)| t.starts_with(prefix)).map(|(_, b, _)| b.as_str())
    };
    // Lower is worse: the colours start red.
    assert_eq!(base_of("Audio quality"), Some("red"));
    assert_eq!(base_of("Median sentiment"), Some("red"));
    assert_eq!(base_of("http-availability error budget remaining"), Some("red"));
    assert_eq!(base_of("5xx share"), Some("green"));
    for kind in ["STT", "LLM", "TTS"] {
        let heatmap = format!("{kind} time to first byte");
        assert!(titles.iter().any(|(t, _, ty)| *t == heatmap && ty == "heatmap"), "{heatmap}");
    }
    for stat in ["Errors per minute", "Missing settings (0", "Live calls of capacity"] {
        assert!(titles.iter().any(|(t, _, ty)| t.starts_with(stat) && ty == "stat"), "{stat}");
    }
    assert!(titles.iter().any(|(t, ..)| t == "Fallback share of turns"));
}

#[test]
fn panels_that_show_an_alerts_value_render_its_measure() {
    let catalog = catalog();
    let scope = voxscope::alert::expr::Scope::dashboard();
    let queries: Vec<String> = grafana::dashboards(&catalog)
        .iter()
        .flat_map(|d| d.panels.iter().flat_map(|p| p.queries.iter().map(|(q, _)| q.clone())))
        .collect();
    for name in ["HighHTTPErrorRate", "HighFallbackRate", "LowAudioQuality", "HighCPUUsage"] {
        let alert = catalog.alerts.iter().find(|a| a.name == name).expect("alert");
        let shown = alert.measure.defined().render(&scope);
        assert!(queries.contains(&shown), "no panel shows {name}'s {shown}");
    }
}

#[test]
fn rule_overrides_and_custom_rules_are_validated_naming_the_field() {
    for (toml, field) in [
        ("[rules.HighCPU]\nfor_seconds = 60", "rules.HighCPU:"),
        ("[rules.\"HighCPUUsage/critical\"]\ndisabled = true", "rules.HighCPUUsage/critical:"),
        ("[rules.HighCPUUsage]\nseverity = \"urgent\"", "rules.HighCPUUsage.severity:"),
        ("[rules.HighCPUUsage]\nlabels = { severity = \"x\" }", "rules.HighCPUUsage.labels:"),
        (
            "[rules.\"HighProviderTTFB/warning\"]\nseverity = \"critical\"",
            "rules.HighProviderTTFB/warning.severity:",
        ),
        (
            "[[custom_rules]]\nname = \"X\"\nmetric = \"voice_call_total\"\nabove = 1",
            "custom_rules[0].metric:",
        ),
        (
            "[[custom_rules]]\nname = \"X\"\nmetric = \"voice_calls_total\"\nby = [\"route\"]\nabove = 1",
            "custom_rules[0].by:",
        ),
        (
            "[[custom_rules]]\nname = \"ServiceDown\"\nmetric = \"up\"\nabove = 1",
            "custom_rules[0].metric:",
        ),
        (
            "[[custom_rules]]\nname = \"HighCPUUsage\"\nmetric = \"voice_calls_active\"\nabove = 1",
            "custom_rules[0].name:",
        ),
        (
            "[[custom_rules]]\nname = \"X\"\nmetric = \"voice_calls_active\"\nabove = 1\nbelow = 0",
            "custom_rules[0]:",
        ),
        (
            "[[custom_rules]]\nname = \"X\"\nmetric = \"voice_turn_latency_seconds\"\nabove = 0.7",
            "custom_rules[0].above:",
        ),
    ] {
        let err = Config::from_toml(toml).expect_err(toml).to_string();
        assert!(err.starts_with(field), "{toml}: {err}");
    }
}
