//! The demo's call registry: what the API routes create, read and end.

use std::collections::{HashMap, VecDeque};
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

/// Ended calls the registry keeps showing; older ones are forgotten, so that a service
/// that runs for weeks holds a bounded registry.
pub const ENDED_KEPT: usize = 1000;

/// Calls known to this process: every active call and the last [`ENDED_KEPT`] ended
/// ones. Cheap to clone.
#[derive(Clone, Default)]
pub struct CallRegistry {
    next_id: Arc<AtomicU64>,
    calls: Arc<Mutex<Calls>>,
}

#[derive(Default)]
struct Calls {
    by_id: HashMap<String, Call>,
    /// Ended calls' ids, oldest first.
    ended: VecDeque<String>,
}

impl CallRegistry {
    /// Starts a call and returns it.
    pub fn start(&self) -> Call {
        let id = format!("call-{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let started_at =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        let call = Call { id: id.clone(), state: CallState::Active, started_at };
        self.lock().by_id.insert(id, call.clone());
        call
    }

    /// The call with `id`, if any.
    pub fn get(&self, id: &str) -> Option<Call> {
        self.lock().by_id.get(id).cloned()
    }

    /// All calls, oldest first.
    pub fn list(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self.lock().by_id.values().cloned().collect();
        calls.sort_by_key(|c| (c.started_at, c.id.len(), c.id.clone()));
        calls
    }

    /// Ends the call with `id`; `None` when there is no such call. Beyond
    /// [`ENDED_KEPT`] ended calls, the oldest is forgotten.
    pub fn hang_up(&self, id: &str) -> Option<Call> {
        let mut calls = self.lock();
        let call = calls.by_id.get_mut(id)?;
        if call.state == CallState::Ended {
            return Some(call.clone());
        }
        call.state = CallState::Ended;
        let ended = call.clone();
        calls.ended.push_back(ended.id.clone());
        if calls.ended.len() > ENDED_KEPT
            && let Some(oldest) = calls.ended.pop_front()
        {
            calls.by_id.remove(&oldest);
        }
        Some(ended)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_calls_beyond_the_bound_are_forgotten_oldest_first() {
        let registry = CallRegistry::default();
        let active = registry.start();
        let ids: Vec<String> = (0..ENDED_KEPT + 2).map(|_| registry.start().id).collect();
        for id in &ids {
            assert_eq!(registry.hang_up(id).map(|c| c.state), Some(CallState::Ended));
        }
        // Hanging up twice keeps one entry.
        assert!(registry.hang_up(&ids[ENDED_KEPT + 1]).is_some());
        assert_eq!(registry.get(&ids[0]), None);
        assert_eq!(registry.get(&ids[1]), None);
        assert_eq!(registry.get(&ids[2]).map(|c| c.state), Some(CallState::Ended));
        assert_eq!(registry.get(&active.id).map(|c| c.state), Some(CallState::Active));
        assert_eq!(registry.list().len(), ENDED_KEPT + 1);
    }
}
