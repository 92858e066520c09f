//! The dispatcher routes as the real Alertmanager does with the generated config: for
//! every alert of the catalog and label sets off the beaten path, the receivers the
//! engine picks are those `amtool config routes test` prints.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use voxscope_alert::eval::Labels;
use voxscope_alert::{Config, RuleCatalog, alertmanager};
use voxscope_alerting::dispatch::{Dispatcher, NoSilences};

fn amtool() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/amtool");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: amtool not installed (Debian package prometheus-alertmanager)");
        None
    }
}

#[test]
fn engine_routes_match_amtool_on_the_generated_config() {
    let Some(amtool) = amtool() else { return };
    let mut config = Config::default();
    config.cooldowns.critical = 120;
    let catalog = RuleCatalog::new(config.clone()).expect("catalog");
    let dir = std::env::temp_dir().join(format!("voxscope-routes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("alertmanager.yml");
    std::fs::write(&file, alertmanager::config(&config)).expect("write");

    let dispatcher = Dispatcher::new(&config, Arc::new(NoSilences)).expect("dispatcher");
    let mut cases: Vec<Labels> = catalog
        .alerts
        .iter()
        .map(|rule| {
            [
                ("alertname", rule.name.as_str()),
                ("severity", rule.severity.as_str()),
                ("category", rule.category.as_str()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into()
        })
        .collect();
    for extra in [
        vec![("severity", "warning")],
        vec![("category", "quality")],
        vec![("severity", "critical"), ("category", "quality")],
        vec![("alertname", "Watchdog"), ("severity", "critical")],
        vec![("severity", "Warning")],
        vec![],
    ] {
        cases.push(extra.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
    }
    for labels in cases {
        let engine = dispatcher.receivers(&labels).join(",");
        let mut args = vec![
            "config".to_owned(),
            "routes".to_owned(),
            "test".to_owned(),
            format!("--config.file={}", file.display()),
        ];
        args.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
        if labels.is_empty() {
            // amtool needs one label; one no route matches on.
            args.push("nothing=here".to_owned());
        }
        let output = Command::new(&amtool).args(&args).output().expect("run amtool");
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(output.status.success(), "{labels:?}: {text}");
        assert_eq!(engine, text, "{labels:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
