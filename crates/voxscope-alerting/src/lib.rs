//! The embedded alerting engine: the rules of a [`voxscope_alert::RuleCatalog`]
//! evaluated inside the service, with notifications, silences, acknowledgements,
//! escalation and history, for a service that runs with no Prometheus and no
//! Alertmanager.
#![deny(missing_docs)]

pub mod api;
pub mod channel;
pub mod delivery;
pub mod notification;
mod retry;
pub mod secret;
pub mod silence;
