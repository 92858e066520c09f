//! The demo's call registry: what the API routes create, read and end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A call as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Call {
    /// Server-assigned id.
    pub id: String,
    /// `active` or `ended`.
    pub state: CallState,
    /// Unix seconds at creation.
    pub started_at: u64,
}

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// In progress.
    Active,
    /// Hung up.
    Ended,
}

/// Calls known to this process; cheap to clone.
#[derive(Clone, Default)]
pub struct CallRegistry {
    next_id: Arc<AtomicU64>,
    calls: Arc<Mutex<HashMap<String, Call>>>,
}

impl CallRegistry {
    /// Starts a call and returns it.
    pub fn start(&self) -> Call {
        let id = format!("call-{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let started_at =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        let call = Call { id: id.clone(), state: CallState::Active, started_at };
        self.lock().insert(id, call.clone());
        call
    }

    /// The call with `id`, if any.
    pub fn get(&self, id: &str) -> Option<Call> {
        self.lock().get(id).cloned()
    }

    /// All calls, oldest first.
    pub fn list(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self.lock().values().cloned().collect();
        calls.sort_by_key(|c| (c.started_at, c.id.len(), c.id.clone()));
        calls
    }

    /// Ends the call with `id`; `None` when there is no such call.
    pub fn hang_up(&self, id: &str) -> Option<Call> {
        let mut calls = self.lock();
        let call = calls.get_mut(id)?;
        call.state = CallState::Ended;
        Some(call.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Call>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
