//! The library behind the `voxscope` binary: loading configs, and the KPI report read
//! from a Prometheus server or an engine's saved metric history.
//!
//! ```no_run
//! use voxscope_cli::report::{Format, ReportRequest, run};
//!
//! let catalog = voxscope_cli::load_catalog(None).unwrap();
//! let request = ReportRequest::prometheus("http://127.0.0.1:9090", 7 * 86_400);
//! print!("{}", run(&catalog, &request, Format::Markdown).unwrap());
//! ```
#![deny(missing_docs)]

pub mod prometheus;
pub mod report;

use std::path::Path;

use anyhow::{Context, Result};
use voxscope_alert::{Config, RuleCatalog};

/// The catalog of the config at `path`, or of the built-in defaults.
///
/// # Errors
/// The file cannot be read, or the config is invalid.
pub fn load_catalog(path: Option<&Path>) -> Result<RuleCatalog> {
    let config = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    Ok(RuleCatalog::new(config)?)
}
