//! The embedded engine's HTTP API against the real tools: amtool lists alerts and adds,
//! updates, queries and expires silences; a real Prometheus and a real Alertmanager
//! answer in bodies of the same structure as the engine's.

mod alert_api_support;
mod alert_support;

use std::time::SystemTime;

use serde_json::{Value, json};
use voxscope_alerting::silence::SilenceState;

use alert_api_support::*;
use alert_support::{TempDir, run, tool};

/// The real amtool lists alerts, adds a silence, finds it, and expires it.
#[test]
fn amtool_lists_alerts_and_adds_queries_and_expires_silences() {
    let Some(amtool) = tool("amtool", "prometheus-alertmanager") else { return };
    let server = serve(None, Some(TOKEN));
    let dir = TempDir::new("amtool-api");
    let http_config = dir.path().join("http.yml");
    std::fs::write(
        &http_config,
        format!("authorization:\n  type: Bearer\n  credentials: {TOKEN}\n"),
    )
    .unwrap();
    let url = format!("--alertmanager.url={}/alertmanager", server.base);
    let auth = format!("--http.config.file={}", http_config.display());
    let amtool_ok = |args: &[&str]| {
        let (output, text) = run(&amtool, dir.path(), args);
        assert!(output.status.success(), "amtool {args:?}: {text}");
        String::from_utf8(output.stdout).unwrap()
    };
    let listed = |args: &[&str]| -> Vec<String> {
        let out = amtool_ok(args);
        let alerts: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        fingerprints(&alerts).into_iter().map(str::to_owned).collect()
    };

    // Default query: active alerts only (the inhibited warning is suppressed).
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL, TTFB]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "--inhibited"]), [WARNING]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "HighErrorRate"]), [CRITICAL]);
    let simple = amtool_ok(&[&url, "alert", "query"]);
    assert!(simple.contains("ProviderTtfb") && simple.contains("ProviderTtfb is off"), "{simple}");

    // Without the token amtool's write fails and nothing is stored.
    let (refused, text) = run(
        &amtool,
        dir.path(),
        &[&url, "silence", "add", "alertname=ProviderTtfb", "--comment=x"],
    );
    assert!(!refused.status.success(), "{text}");
    assert!(server.silences.lock().is_empty());

    let before = Fixture::wall();
    let added = amtool_ok(&[
        &url,
        &auth,
        "silence",
        "add",
        "alertname=ProviderTtfb",
        "provider=~\"deep.*\"",
        "--author=oncall",
        "--comment=provider maintenance",
        "--duration=2h",
    ]);
    let id = added.trim().to_owned();
    {
        let store = server.silences.lock();
        let silence = store.get(&id).unwrap_or_else(|| panic!("amtool printed {added:?}"));
        assert_eq!(
            silence.matchers.iter().map(|m| m.render()).collect::<Vec<_>>(),
            [r#"alertname="ProviderTtfb""#, r#"provider=~"deep.*""#]
        );
        assert_eq!(
            (silence.created_by.as_str(), silence.comment.as_str()),
            ("oncall", "provider maintenance")
        );
        let window = silence.ends_at_ms - silence.starts_at_ms;
        assert!((7_190_000..=7_200_000).contains(&window), "window {window} ms");
        assert!(silence.starts_at_ms >= before - 1_000 && silence.starts_at_ms <= Fixture::wall());
        assert_eq!(silence.state(Fixture::wall()), SilenceState::Active);
    }
    // An update that keeps the past (a later end) keeps the id. (amtool 0.25's `-q`
    // prints a pointer here, so read its JSON.)
    let updated = amtool_ok(&[
        &url,
        &auth,
        "-o",
        "json",
        "silence",
        "update",
        &id,
        "--duration=3h",
        "--comment=maintenance runs late",
    ]);
    let updated: Value = serde_json::from_str(&updated).unwrap();
    assert_eq!(updated[0]["id"], id.as_str());
    {
        let store = server.silences.lock();
        let silence = store.get(&id).unwrap();
        assert_eq!(silence.ends_at_ms - silence.starts_at_ms, 3 * 3_600_000);
        assert_eq!(silence.comment, "maintenance runs late");
        assert_eq!(store.len(), 1);
    }
    // Silenced: gone from the default query, listed with --silenced.
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL]);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query", "--silenced"]), [TTFB]);

    let queried: Value =
        serde_json::from_str(&amtool_ok(&[&url, "-o", "json", "silence", "query"])).unwrap();
    assert_eq!(queried.as_array().unwrap().len(), 1);
    assert_eq!(queried[0]["id"], id.as_str());
    assert_eq!(queried[0]["createdBy"], "oncall");
    assert_eq!(queried[0]["status"]["state"], "active");
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "alertname=ProviderTtfb"]).trim(), id);
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "alertname=Other"]).trim(), "");

    amtool_ok(&[&url, &auth, "silence", "expire", &id]);
    assert_eq!(
        server.silences.lock().get(&id).unwrap().state(Fixture::wall()),
        SilenceState::Expired
    );
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q"]).trim(), "");
    assert_eq!(amtool_ok(&[&url, "silence", "query", "-q", "--expired"]).trim(), id);
    assert_eq!(listed(&[&url, "-o", "json", "alert", "query"]), [CRITICAL, TTFB]);
    assert!(server.fixture.acks.lock().unwrap().is_empty());
}

/// A real Prometheus evaluates rules like the fixture's; its `/api/v1/alerts` and
/// `/api/v1/rules` bodies have the same structure as the engine's, and the alerts the
/// same labels, annotations, states and value text.
#[tokio::test]
async fn api_v1_bodies_have_the_structure_a_real_prometheus_gives() {
    let Some(binary) = tool("prometheus", "prometheus") else { return };
    let dir = TempDir::new("prometheus-api");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: voxscope\n    interval: 1s\n    rules:\n\
         \x20     - record: \"slo:sli_error:ratio_rate5m\"\n        expr: vector(0.5)\n\
         \x20     - alert: HighErrorRate\n        expr: vector(0.2)\n        keep_firing_for: 1m\n\
         \x20       labels: {severity: critical}\n        annotations: {summary: \"HighErrorRate is off\"}\n\
         \x20     - alert: CallLatency\n        expr: vector(1)\n        for: 1h\n\
         \x20       annotations: {summary: \"CallLatency is off\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let port = alert_support::free_port();
    let child = std::process::Command::new(&binary)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _prometheus = alert_support::Daemon::new(child, dir);
    let prom = format!("http://127.0.0.1:{port}");

    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let prom_alerts = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "Prometheus never showed both alerts"
        );
        let body = match client.get(format!("{prom}/api/v1/alerts")).send().await {
            Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if body["data"]["alerts"].as_array().is_some_and(|a| a.len() == 2) {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let (_, prom_rules) = get(format!("{prom}/api/v1/rules")).await;

    let server = serve(Some(NOW), Some(TOKEN));
    let (_, ours) = get(format!("{}/api/v1/alerts", server.base)).await;
    assert_eq!(ours["status"], prom_alerts["status"]);
    let by_name = |body: &Value, name: &str| -> Value {
        body["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == name && a["labels"]["severity"] != "warning")
            .unwrap_or_else(|| panic!("{name} in {body}"))
            .clone()
    };
    for name in ["HighErrorRate", "CallLatency"] {
        let (ours, theirs) = (by_name(&ours, name), by_name(&prom_alerts, name));
        assert_eq!(shape(&ours), shape(&theirs), "{name}");
        assert_eq!(without(ours, "activeAt"), without(theirs, "activeAt"), "{name}");
    }

    let (_, our_rules) = get(format!("{}/api/v1/rules", server.base)).await;
    let (our_group, their_group) =
        (&our_rules["data"]["groups"][0], &prom_rules["data"]["groups"][0]);
    assert_eq!(
        shape(&without(our_group.clone(), "rules")),
        shape(&without(their_group.clone(), "rules"))
    );
    let their_recording = &their_group["rules"][0];
    assert_eq!(their_recording["type"], "recording");
    assert_eq!(shape(&our_group["rules"][0]), shape(their_recording));
    let their_alerting = &their_group["rules"][1];
    assert_eq!(their_alerting["state"], "firing");
    assert_eq!(their_alerting["keepFiringFor"], 60);
    // The fixture's alerting rule failed its last evaluation; Prometheus's did not.
    assert_eq!(shape(&without(our_group["rules"][1].clone(), "lastError")), shape(their_alerting));
    assert_eq!(our_group["rules"][1]["health"], "err");
    assert_eq!(their_alerting["health"], "ok");
}

/// The real Alertmanager, given the fixture's critical alert and the same silence, lists
/// them in bodies of the same structure, with the same status, receivers and silence
/// fields; its status body has the same structure too.
#[tokio::test]
async fn alertmanager_v2_bodies_have_the_structure_a_real_alertmanager_gives() {
    let Some(binary) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let dir = TempDir::new("alertmanager-api");
    std::fs::write(
        dir.path().join("am.yml"),
        "route:\n  receiver: critical\nreceivers:\n  - name: critical\n",
    )
    .unwrap();
    let port = alert_support::free_port();
    let child = std::process::Command::new(&binary)
        .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _alertmanager = alert_support::Daemon::new(child, dir);
    let real = format!("http://127.0.0.1:{port}/api/v2");
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let alert = json!([{
        "labels": {"alertname": "HighErrorRate", "severity": "critical"},
        "annotations": {"summary": "HighErrorRate is off"},
    }]);
    while client.post(format!("{real}/alerts")).json(&alert).send().await.is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "Alertmanager never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let server = serve(None, Some(TOKEN));
    let ours = format!("{}/alertmanager/api/v2", server.base);
    let (_, real_status) = get(format!("{real}/status")).await;
    let (_, our_status) = get(format!("{ours}/status")).await;
    assert_eq!(shape(&our_status), shape(&real_status));
    assert_eq!(our_status["cluster"], real_status["cluster"]);

    let ends =
        humantime::format_rfc3339_millis(SystemTime::now() + std::time::Duration::from_secs(3_600));
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "High.*", "isRegex": true, "isEqual": true}],
        "startsAt": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "endsAt": ends.to_string(),
        "createdBy": "oncall",
        "comment": "deploy",
    });
    let (status, real_id) =
        send(reqwest::Method::POST, format!("{real}/silences"), None, Some(silence.clone())).await;
    assert_eq!(status, 200, "{real_id}");
    let (status, our_id) =
        send(reqwest::Method::POST, format!("{ours}/silences"), Some(TOKEN), Some(silence)).await;
    assert_eq!(status, 200, "{our_id}");
    assert_eq!(shape(&our_id), shape(&real_id));

    let (_, real_alerts) = get(format!("{real}/alerts")).await;
    let (_, our_alerts) = get(format!("{ours}/alerts?filter=severity%3Dcritical")).await;
    let (real_alert, our_alert) = (&real_alerts[0], &our_alerts[0]);
    assert_eq!(shape(our_alert), shape(real_alert));
    for key in ["labels", "annotations", "receivers"] {
        assert_eq!(our_alert[key], real_alert[key], "{key}");
    }
    assert_eq!(our_alert["status"]["state"], "suppressed");
    assert_eq!(real_alert["status"]["state"], "suppressed");
    assert_eq!(our_alert["status"]["silencedBy"], json!([our_id["silenceID"]]));
    assert_eq!(real_alert["status"]["silencedBy"], json!([real_id["silenceID"]]));

    let (_, real_silences) = get(format!("{real}/silences")).await;
    let (_, our_silences) = get(format!("{ours}/silences")).await;
    assert_eq!(shape(&our_silences), shape(&real_silences));
    let fields = |s: &Value| {
        json!([
            s["matchers"],
            s["status"],
            s["createdBy"],
            s["comment"],
            s["endsAt"].as_str().map(|t| &t[..19])
        ])
    };
    assert_eq!(fields(&our_silences[0]), fields(&real_silences[0]));
}
