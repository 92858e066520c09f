//! `[receivers]`, `[delivery]`, `[sms]`, `[probe]` and `[host]`: bad settings are errors naming the field and the
//! value, and the generated Alertmanager configuration carries exactly the receivers the
//! embedded engine delivers to, which the real amtool accepts.

use std::process::Command;

use serde_json::json;
use voxscope_alert::receiver::{self, Integration};
use voxscope_alert::{Config, alertmanager};

fn error(toml: &str) -> String {
    Config::from_toml(toml).expect_err(toml).to_string()
}

#[test]
fn bad_receivers_are_errors_naming_the_field_and_the_value() {
    assert_eq!(
        error("[receivers.critical]\nemail = [\"a@example.org\"]"),
        "receivers.critical: a built-in receiver, set through [alertmanager]; pick another name \
         (got critical)"
    );
    assert_eq!(
        error("[receivers.ops]\nsend_resolved = false"),
        "receivers.ops: reaches nobody: set email, slack_channels, pagerduty or webhook_urls \
         (got ops)"
    );
    assert_eq!(
        error("[receivers.ops]\nemail = [\"ops at example\"]"),
        "receivers.ops.email: an address like ops@example.org (got ops at example)"
    );
    assert_eq!(
        error("[receivers.ops]\nwebhook_urls = [\"bot:8080/hook\"]"),
        "receivers.ops.webhook_urls: an http:// or https:// URL (got bot:8080/hook)"
    );
    assert_eq!(
        error("[receivers.ops]\nslack_channels = [\"#voice urgent\"]"),
        "receivers.ops.slack_channels: a channel like #voice-urgent (got #voice urgent)"
    );
    assert_eq!(
        error("[receivers.\"on call\"]\npagerduty = true"),
        "receivers: a name of letters, digits, - and _ (got on call)"
    );
    assert!(error("[receivers.ops]\nphone = \"555\"").contains("unknown field `phone`"));
}

#[test]
fn bad_delivery_settings_are_errors_naming_the_field_and_the_value() {
    for (toml, message) in [
        ("queue_capacity = 0", "delivery.queue_capacity: between 1 and 1000000 (got 0)"),
        ("timeout_seconds = 0", "delivery.timeout_seconds: must be greater than 0 (got 0)"),
        ("max_attempts = 0", "delivery.max_attempts: between 1 and 20 (got 0)"),
        ("backoff_initial_ms = 0", "delivery.backoff_initial_ms: must be greater than 0 (got 0)"),
        (
            "backoff_initial_ms = 5000\nbackoff_max_seconds = 2",
            "delivery.backoff_max_seconds: must not be shorter than delivery.backoff_initial_ms \
             (got 2)",
        ),
        (
            "alertmanager_url = \"alertmanager:9093\"",
            "delivery.alertmanager_url: an http:// or https:// URL (got alertmanager:9093)",
        ),
        ("pagerduty_url = \"\"", "delivery.pagerduty_url: an http:// or https:// URL (got )"),
    ] {
        assert_eq!(error(&format!("[delivery]\n{toml}")), message);
    }
}

#[test]
fn named_receivers_replace_the_defaults_of_their_name_and_add_others() {
    let config = Config::from_toml(
        "[alertmanager]\nwebhook_token_file = \"\"\n\
         [receivers.manager]\nslack_channels = [\"#voice-managers\"]\n\
         [receivers.sre]\nwebhook_urls = [\"http://bot:8080/sre\"]\npagerduty = true\n\
         send_resolved = false\n",
    )
    .unwrap();
    let receivers = receiver::receivers(&config);
    let names: Vec<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "watchdog",
            "default",
            "critical",
            "warning",
            "quality",
            "director",
            "manager",
            "sre",
            "team-lead"
        ]
    );
    let manager = &receivers[6];
    assert!(
        matches!(&manager.integrations[..], [Integration::Slack(s)] if s.channel == "#voice-managers")
    );

    let document = alertmanager::document(&config);
    let rendered = |name: &str| {
        document["receivers"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned()
    };
    let sre = rendered("sre").expect("sre rendered");
    assert_eq!(
        sre["webhook_configs"],
        json!([{"url": "http://bot:8080/sre", "send_resolved": false}])
    );
    assert_eq!(sre["pagerduty_configs"][0]["send_resolved"], false);
    assert_eq!(
        sre["pagerduty_configs"][0]["routing_key_file"],
        "/etc/alertmanager/secrets/pagerduty_routing_key"
    );
    // No token file: no authorization header, in Alertmanager as in the engine.
    assert!(rendered("default").unwrap()["webhook_configs"][0].get("http_config").is_none());
    assert_eq!(document["global"]["smtp_require_tls"], true);
}

#[test]
fn amtool_accepts_the_generated_receivers() {
    let Some(amtool) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("amtool")).find(|p| p.is_file())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "amtool missing: apt-get install prometheus-alertmanager"
        );
        eprintln!("skipped: amtool is not on PATH (apt-get install prometheus-alertmanager)");
        return;
    };
    let config = Config::from_toml(
        "[receivers.sre]\nwebhook_urls = [\"http://bot:8080/sre\"]\npagerduty = true\n\
         email = [\"sre@example.org\"]\nslack_channels = [\"#sre\"]\n",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("voxscope-receivers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("templates/voxscope.tmpl"), alertmanager::TEMPLATES).unwrap();
    std::fs::write(dir.join("alertmanager.yml"), alertmanager::config(&config)).unwrap();
    let output = Command::new(amtool)
        .args(["check-config", "alertmanager.yml"])
        .current_dir(&dir)
        .output()
        .expect("run amtool");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains(" - 9 receivers"), "{text}");
}

#[test]
fn an_escalation_step_must_name_a_receiver_that_exists() {
    let err = voxscope_alert::Config::from_toml(
        "[[escalation.steps]]\nafter_seconds = 60\nreceiver = \"oncall-lead\"",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("escalation.steps[0].receiver: no receiver of that name"), "{err}");
    assert!(err.contains("team-lead") && err.contains("critical"), "{err}");
    let named = "[receivers.oncall-lead]\nemail = [\"lead@example.org\"]\n\
                 [[escalation.steps]]\nafter_seconds = 60\nreceiver = \"oncall-lead\"";
    assert!(voxscope_alert::Config::from_toml(named).is_ok());
}

#[test]
fn bad_sms_probe_and_host_settings_are_errors_naming_the_field_and_the_value() {
    // A valid [sms] with `key` set to `value` instead.
    let sms = |key: &str, value: &str| {
        let mut fields = vec![
            ("account_sid", "\"AC0123456789abcdef0123456789abcdef\""),
            ("from", "\"+15005550006\""),
            ("to", "[\"+14155550100\"]"),
        ];
        fields.retain(|(k, _)| *k != key);
        fields.push((key, value));
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        error(&format!("[sms]\n{}", body.join("\n")))
    };
    assert_eq!(
        sms("account_sid", "\"AB12\""),
        "sms.account_sid: AC followed by 32 hex digits (got AB12)"
    );
    assert!(sms("from", "\"+0800\"").starts_with("sms.from: an E.164 number"));
    assert_eq!(
        sms("to", "[\"4155550100\"]"),
        "sms.to: an E.164 number like +14155550100 (got 4155550100)"
    );
    assert_eq!(
        sms("api_url", "\"api.twilio.com\""),
        "sms.api_url: an http:// or https:// URL (got api.twilio.com)"
    );
    assert!(Config::from_toml("[sms]\nfrom = \"nonsense!\"\n").is_ok(), "no number: SMS is off");
    assert!(
        error("[probe]\njob = \"voice_agent\"").starts_with("probe.job: a job name of its own")
    );
    assert_eq!(
        error("[probe]\nexporter = \"blackbox\""),
        "probe.exporter: host:port (got blackbox)"
    );
    assert_eq!(
        error("[probe]\nurl = \"/health\""),
        "probe.url: an http:// or https:// URL (got /health)"
    );
    assert!(error("[host]\njob = \"blackbox\"").starts_with("host.job: a job name of its own"));
    assert_eq!(
        error("[host]\ncpu_ratio = 1.5"),
        "host.cpu_ratio: a share between 0 and 1 (got 1.5)"
    );
    assert_eq!(
        error("[host]\ndisk_full_hours = 0"),
        "host.disk_full_hours: between 1 and 720 (got 0)"
    );
}
