//! The embedded alerting engine: the rules of a [`voxscope_alert::RuleCatalog`]
//! evaluated inside the service, with notifications, silences, acknowledgements,
//! escalation and history, for a service that runs with no Prometheus and no
//! Alertmanager.
#![deny(missing_docs)]

pub mod api;
pub mod channel;
mod clock;
pub mod delivery;
pub mod dispatch;
mod error;
mod fingerprint;
pub mod inhibit;
pub mod notification;
mod retry;
pub mod secret;
pub mod silence;

pub use clock::Clock;
pub use error::Error;
pub use fingerprint::fingerprint;
pub use inhibit::Inhibitor;
