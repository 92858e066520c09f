//! Acknowledgements: someone owns a firing alert, so its escalation stops. An
//! acknowledgement ends when the alert resolves; if it fires again, it is new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One acknowledgement of one firing alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// Who took it.
    pub by: String,
    /// Why, or what is being done.
    pub comment: String,
    /// When, unix milliseconds.
    pub at_ms: i64,
}

/// The acknowledgements of the firing alerts, by fingerprint.
///
/// ```
/// use voxscope_alerting::ack::{Ack, Acks};
/// let mut acks = Acks::default();
/// acks.insert(Ack { fingerprint: "f1".into(), by: "ana".into(), comment: String::new(), at_ms: 5 });
/// assert_eq!(acks.get("f1").map(|a| a.by.as_str()), Some("ana"));
/// acks.retain(|fingerprint| fingerprint != "f1");
/// assert!(acks.get("f1").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Acks {
    by_fingerprint: BTreeMap<String, Ack>,
}

impl Acks {
    /// Records `ack`; a later one of the same alert replaces it.
    pub fn insert(&mut self, ack: Ack) {
        self.by_fingerprint.insert(ack.fingerprint.clone(), ack);
    }

    /// The acknowledgement of the alert with `fingerprint`.
    pub fn get(&self, fingerprint: &str) -> Option<&Ack> {
        self.by_fingerprint.get(fingerprint)
    }

    /// Keeps the acknowledgements of the alerts `firing` says still fire.
    pub fn retain(&mut self, firing: impl Fn(&str) -> bool) {
        self.by_fingerprint.retain(|fingerprint, _| firing(fingerprint));
    }

    /// Every acknowledgement, by fingerprint.
    pub fn list(&self) -> Vec<Ack> {
        self.by_fingerprint.values().cloned().collect()
    }

    /// The acknowledgements saved before a restart.
    pub fn restore(acks: Vec<Ack>) -> Self {
        Self { by_fingerprint: acks.into_iter().map(|a| (a.fingerprint.clone(), a)).collect() }
    }
}
