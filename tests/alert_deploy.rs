//! deploy/ is generated from the typed rule catalog; this fails when a checked-in file
//! differs or a stale one lingers. `VOXSCOPE_BLESS=1` rewrites deploy/.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use voxscope::alert::{Config, RuleCatalog, deploy};

fn listed(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            listed(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn deploy_dir_matches_the_generators() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let catalog = RuleCatalog::new(Config::default()).expect("default config");
    let files = deploy::files(&catalog);
    if std::env::var_os("VOXSCOPE_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&root);
        for file in &files {
            let path = root.join(&file.path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &file.contents).expect("write");
        }
        return;
    }
    let hint = "run `VOXSCOPE_BLESS=1 cargo test -p voxscope-tests --test alert_deploy`";
    let mut present = BTreeSet::new();
    listed(&root, &root, &mut present);
    let generated: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
    let stale: Vec<_> = present.difference(&generated).collect();
    let missing: Vec<_> = generated.difference(&present).collect();
    assert!(stale.is_empty() && missing.is_empty(), "stale {stale:?}, missing {missing:?}: {hint}");
    for file in &files {
        let checked_in = std::fs::read_to_string(root.join(&file.path)).unwrap_or_default();
        assert!(
            checked_in == file.contents,
            "deploy/{} differs from the generator: {hint}",
            file.path
        );
    }
}

#[test]
fn the_compose_stack_keeps_data_retains_as_configured_and_ships_every_secret_file() {
    let config = Config::from_toml("[deploy]\nretention_days = 30\n").expect("config");
    let catalog = RuleCatalog::new(config).expect("catalog");
    let files = deploy::files(&catalog);
    let text =
        |path: &str| files.iter().find(|f| f.path == path).map(|f| f.contents.clone()).expect(path);
    let compose = text("docker-compose.yml");
    for needed in [
        "\"--storage.tsdb.retention.time=30d\"",
        "\"prometheus-data:/prometheus\"",
        "\"alertmanager-data:/alertmanager\"",
        "\"grafana-data:/var/lib/grafana\"",
        "\"host.docker.internal:host-gateway\"",
        "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/secrets/grafana_admin_password",
    ] {
        assert!(compose.contains(needed), "docker-compose.yml lacks {needed}");
    }
    // Every secret file the Alertmanager config reads is shipped as a placeholder.
    let alertmanager = text(deploy::ALERTMANAGER);
    let mut read = 0;
    for line in alertmanager.lines().filter(|l| l.contains("/etc/alertmanager/secrets/")) {
        let name = line.rsplit('/').next().unwrap_or_default().trim_end_matches('"');
        assert_eq!(text(&format!("secrets/{name}")), "change-me\n", "{name}");
        read += 1;
    }
    assert!(read >= 4, "only {read} secret files read");
    // Every host the shipped Alertmanager config sends webhooks to runs in the stack.
    let mut hosts = 0;
    for line in alertmanager.lines().filter(|l| l.trim_start().starts_with("url: \"http://")) {
        let host = line.split("http://").nth(1).and_then(|r| r.split([':', '/']).next()).unwrap();
        let service = |key: String| compose.contains(&format!("\n  {key}:\n"));
        assert!(service(host.to_owned()) || service(format!("{host:?}")), "no {host} in compose");
        hosts += 1;
    }
    assert!(hosts >= 2, "only {hosts} webhook URLs");
    assert!(text("README.md").contains("http://localhost:3001"));
    assert!(text(deploy::LOCAL_SCRIPT).contains("--storage.tsdb.retention.time=30d"));
}

#[test]
fn the_log_pipeline_forwards_to_the_store_the_config_chooses() {
    let files = |toml: &str| {
        let catalog = RuleCatalog::new(Config::from_toml(toml).expect("config")).expect("catalog");
        deploy::files(&catalog)
    };
    let text = |files: &[deploy::File], path: &str| {
        files.iter().find(|f| f.path == path).map(|f| f.contents.clone()).expect(path)
    };
    let loki = files("");
    let collector = text(&loki, "otel-collector/config.yaml");
    assert!(collector.contains("endpoint: \"http://loki:3100/otlp\""), "{collector}");
    assert!(collector.contains("endpoint: \"0.0.0.0:4318\""), "{collector}");
    assert!(!collector.contains("elasticsearch"), "{collector}");
    assert!(text(&loki, "docker-compose.yml").contains("\n  loki:\n"));
    assert!(text(&loki, "grafana/provisioning/datasources/prometheus.yml").contains("\"loki\""));

    let elastic = files("[deploy]\nlogs = \"elasticsearch\"\n");
    let collector = text(&elastic, "otel-collector/config.yaml");
    assert!(collector.contains("- \"http://elasticsearch:9200\""), "{collector}");
    assert!(collector.contains("- \"elasticsearch\""), "the logs pipeline exports there");
    assert!(!collector.contains("loki"), "{collector}");
    let compose = text(&elastic, "docker-compose.yml");
    for service in ["elasticsearch", "kibana", "\"otel-collector\""] {
        assert!(compose.contains(&format!("\n  {service}:\n")), "no {service} in compose");
    }
    assert!(!compose.contains("\n  loki:\n"));
    assert!(!text(&elastic, "grafana/provisioning/datasources/prometheus.yml").contains("loki"));
    assert!(text(&elastic, "README.md").contains("Kibana"));

    let bad = Config::from_toml("[deploy]\nlogs = \"splunk\"\n").unwrap_err().to_string();
    assert!(bad.contains("unknown variant `splunk`"), "{bad}");
}
