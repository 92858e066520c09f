//! The embedded alerting engine: the rules of a [`voxscope_alert::RuleCatalog`]
//! evaluated inside the service, with notifications, silences, acknowledgements,
//! escalation and history, for a service that runs with no Prometheus and no
//! Alertmanager.
//!
//! ```no_run
//! # struct Metrics; impl Metrics { fn render(&self) -> String { String::new() } }
//! # fn run(metrics: Metrics, app: axum::Router, catalog: voxscope_alert::RuleCatalog) -> Result<(), voxscope_alerting::Error> {
//! // `metrics`: the service's recorder handle (voxscope's `MetricsHandle`), rendering /metrics.
//! let engine = voxscope_alerting::AlertEngine::builder(catalog).scrape(move || metrics.render()).start()?;
//! let app = app.merge(engine.router());
//! # Ok(()) }
//! ```
//!
//! [`AlertEngine`] wires the parts below; each is usable alone. The notifier, fed one
//! evaluation at a time:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::sync::Arc;
//! use voxscope_alerting::{Clock, Notifier, silence::{SilenceStore, Silences}};
//!
//! let config = voxscope_alert::Config::default();
//! let (sink, mut delivery) = tokio::sync::mpsc::channel(1024);
//! let silences = Silences::new(SilenceStore::new());
//! let notifier = Notifier::new(&config, Arc::new(silences.clone()), sink, Clock::system()).unwrap();
//! if let Some(saved) = notifier.restore().unwrap() {
//!     // evaluator.restore(saved.active_alerts); the silences come back from saved.silences.
//!     # let _ = saved;
//! }
//! let _task = notifier.spawn();
//! // Every [engine] interval_seconds: notifier.observe(&evaluator.evaluate(&mut storage, now_ms));
//! notifier.observe(&[]);
//! assert!(delivery.try_recv().is_err());
//! # }
//! ```
//!
//! Notifications come out of the channel given to [`Notifier::new`], each for one
//! receiver: a group's alerts at a flush, or an escalation step's page.
#![deny(missing_docs)]

pub mod ack;
pub mod api;
pub mod channel;
mod clock;
pub mod delivery;
pub mod dispatch;
mod engine;
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
pub mod sms_bridge;
mod state;

pub use clock::Clock;
pub use engine::{AlertEngine, EngineBuilder};
pub use error::Error;
pub use fingerprint::fingerprint;
pub use inhibit::Inhibitor;
pub use notifier::Notifier;
pub use state::AlertStatus;
