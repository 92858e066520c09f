//! The embedded alerting engine: the rules of a [`voxscope_alert::RuleCatalog`]
//! evaluated inside the service, with notifications, silences, acknowledgements,
//! escalation and history, for a service that runs with no Prometheus and no
//! Alertmanager.
//!
//! ```
//! let (sink, _notifications) = tokio::sync::mpsc::channel(1024);
//! let notifier = voxscope_alerting::Notifier::new(&voxscope_alert::Config::default(),
//!     std::sync::Arc::new(voxscope_alerting::dispatch::NoSilences), sink,
//!     voxscope_alerting::Clock::system()).unwrap();
//! # let _ = notifier;
//! ```
#![deny(missing_docs)]

pub mod ack;
pub mod api;
pub mod channel;
mod clock;
pub mod delivery;
pub mod dispatch;
mod error;
pub mod escalation;
mod fingerprint;
pub mod history;
pub mod inhibit;
pub mod notification;
mod notifier;
pub mod persist;
mod retry;
pub mod secret;
pub mod silence;
mod state;

pub use clock::Clock;
pub use error::Error;
pub use fingerprint::fingerprint;
pub use inhibit::Inhibitor;
pub use notifier::Notifier;
pub use state::AlertStatus;
