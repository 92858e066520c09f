//! Any alerting config text: `Config::from_toml` returns a config or an error that says
//! what is wrong, never a panic; a config it accepts builds its rule catalog and every
//! `deploy/` file (rules, Alertmanager, dashboards, runbooks, Collector) without one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxscope_alert::{Config, RuleCatalog, deploy};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = match Config::from_toml(text) {
        Ok(config) => config,
        Err(err) => {
            assert!(!err.to_string().is_empty(), "an empty error for {text:?}");
            return;
        }
    };
    let catalog = RuleCatalog::new(config).expect("a config from_toml accepted is valid");
    for file in deploy::files(&catalog) {
        assert!(!file.path.is_empty());
    }
});
