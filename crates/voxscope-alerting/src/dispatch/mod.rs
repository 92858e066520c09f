//! Routing, grouping, muting and dedup of alerts into notifications, with Alertmanager's
//! semantics, over the route tree and inhibit rules of [`voxscope_alert::routing`].
//!
//! ```
//! use std::sync::Arc;
//! let dispatcher = voxscope_alerting::dispatch::Dispatcher::new(
//!     &voxscope_alert::Config::default(), Arc::new(voxscope_alerting::dispatch::NoSilences)).unwrap();
//! # assert_eq!(dispatcher.next_flush_ms(), None);
//! ```

mod dispatcher;
mod group;
mod matcher;
mod muter;
mod nflog;
mod route;

pub use dispatcher::{Dispatcher, Muting};
pub use matcher::Matchers;
pub use muter::{Muter, NoSilences};
pub use nflog::LogEntry;
