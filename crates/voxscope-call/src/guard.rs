//! The guard that sees a panic in a future polled on a call's behalf.

use crate::call::Call;

/// Holds a call while a future that may panic is polled. A panic unwinds through
/// `poll` and leaves `polling` set: the call then ends `failed`, even when the panic is
/// caught (tokio's task harness, tower-http's CatchPanic) and we are dropped after
/// unwinding, when `std::thread::panicking()` is false again.
#[derive(Debug)]
pub(crate) struct PollGuard {
    pub(crate) call: Option<Call>,
    pub(crate) polling: bool,
}

impl PollGuard {
    pub(crate) fn new(call: Call) -> Self {
        Self { call: Some(call), polling: false }
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if let (true, Some(call)) = (self.polling, &self.call) {
            call.state.failed_by_panic();
        }
    }
}
