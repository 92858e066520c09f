//! The demo runs the embedded alerting engine as `main` builds it: with no provider
//! keys set, ConfigMissing fires over the demo's own metrics, its notification reaches
//! the log receiver, and the real amtool lists it from the demo's port.

mod alert_support;

use std::time::Duration;

use alert_support::{TempDir, run, tool};
use voxscope_tests::{Exposition, eventually, start_demo, with_local_prometheus};

/// Evaluations every second, ConfigMissing without its minute of `for`, notifications
/// at once.
const ALERT_CONFIG: &str = r#"
[engine]
interval_seconds = 1
[alertmanager]
group_wait_seconds = 0
[rules.ConfigMissing]
for_seconds = 0
"#;

#[test]
fn the_demo_fires_config_missing_notifies_the_log_and_amtool_lists_it() {
    let amtool = tool("amtool", "prometheus-alertmanager");
    let dir = TempDir::new("alert-demo");
    let path = dir.path().join("alerts.toml");
    std::fs::write(&path, ALERT_CONFIG).unwrap();
    let handle = with_local_prometheus(|handle| async move {
        let args = ["--alert-config", path.to_str().unwrap()];
        let addr = start_demo(&args, |_| None, &handle).await;
        let url = format!("http://{addr}/api/v1/alerts");
        let client = reqwest::Client::new();
        let mut firing = Vec::new();
        for _ in 0..100 {
            let body: serde_json::Value =
                client.get(&url).send().await.unwrap().json().await.unwrap();
            firing = body["data"]["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["state"] == "firing")
                .map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned())
                .collect();
            if firing.contains(&"ConfigMissing".to_owned()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        firing.sort();
        // One per missing provider key (STT, LLM, TTS), and the heartbeat.
        assert_eq!(firing, ["ConfigMissing", "ConfigMissing", "ConfigMissing", "Watchdog"]);

        // Both groups (the missing settings, grouped by alertname, and the heartbeat)
        // reach the log receiver, once each.
        let logged = eventually(Duration::from_secs(10), || {
            let e = Exposition::render(&handle);
            e.sum("voxscope_notifications_total", &[("channel", "log"), ("result", "success")])
                == 2.0
        });
        assert!(logged.await, "{}", Exposition::render(&handle).text);
        let e = Exposition::render(&handle);
        let gauge = [("alertname", "ConfigMissing"), ("severity", "critical")];
        assert_eq!(e.sum("voxscope_alerts_firing", &gauge), 3.0);

        if let Some(amtool) = amtool {
            let am_url = format!("--alertmanager.url=http://{addr}/alertmanager");
            let work = dir.path().to_owned();
            let (output, text) = tokio::task::spawn_blocking(move || {
                run(&amtool, &work, &[&am_url, "alert", "query", "alertname=ConfigMissing"])
            })
            .await
            .unwrap();
            assert!(output.status.success(), "amtool: {text}");
            assert!(text.contains("ConfigMissing"), "{text}");
            assert!(!text.contains("Watchdog"), "the matcher selects: {text}");
        }
    });
    drop(handle);
}
