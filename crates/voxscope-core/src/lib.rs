//! The shared foundation of voxscope: the metric catalog, the cardinality guard and
//! (feature `prometheus`) the Prometheus recorder and `/metrics` endpoint.
//!
//! The catalog is the contract between the crates that record metrics and the rules,
//! dashboards and docs that read them:
//!
//! ```
//! use voxscope_core::catalog;
//!
//! for def in catalog::ALL {
//!     println!("{} ({}) {:?}: {}", def.name, def.kind, def.labels, def.help);
//! }
//! assert!(catalog::find("voice_calls_active").is_some());
//! ```
//!
//! Instrument crates only record through the `metrics` facade; this crate's `prometheus`
//! feature is the one place that installs an exporter.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The three `describe_*` methods of a `metrics::Recorder` layer that passes
/// descriptions to its `inner` recorder unchanged.
macro_rules! forward_describes {
    () => {
        forward_describes!(describe_counter, describe_gauge, describe_histogram);
    };
    ($($method:ident),+) => {
        $(
            fn $method(
                &self,
                key: metrics::KeyName,
                unit: Option<metrics::Unit>,
                description: metrics::SharedString,
            ) {
                self.inner.$method(key, unit, description);
            }
        )+
    };
}

pub mod cardinality;
pub mod catalog;
pub mod docs;
mod error;
pub mod families;
#[cfg(feature = "prometheus")]
pub mod prometheus;

pub use catalog::{AppCatalog, AppMetric, MetricDef, MetricKind, Subsystem, Unit};
pub use error::{ConfigError, validate_buckets, validate_nonzero};
