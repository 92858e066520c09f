//! The drop guard that ends every request exactly once.

use std::sync::Arc;
use std::time::Instant;

use http::StatusCode;

use crate::handles::{Instruments, RouteSeries};
use crate::labels::StatusLabel;

/// Started when the request enters the service; records duration and releases the
/// active-request gauge when dropped, whichever way that happens: body finished, body
/// dropped mid-stream, future cancelled, inner service error or panic.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    instruments: Arc<Instruments>,
    route: Arc<RouteSeries>,
    method: usize,
    start: Instant,
    status: Option<StatusLabel>,
    body_bytes: u64,
    /// Set while the inner future is polled: still set at drop, the poll panicked. A
    /// panic caught by an outer `catch_unwind` (tower-http's CatchPanic) drops this guard
    /// after unwinding has finished, when `std::thread::panicking()` is false again.
    polling: bool,
}

impl RequestGuard {
    pub(crate) fn start(
        instruments: Arc<Instruments>,
        route: Arc<RouteSeries>,
        method: usize,
    ) -> Self {
        instruments.active(method).increment(1.0);
        Self {
            instruments,
            route,
            method,
            start: Instant::now(),
            status: None,
            body_bytes: 0,
            polling: false,
        }
    }

    pub(crate) fn set_polling(&mut self, polling: bool) {
        self.polling = polling;
    }

    pub(crate) fn responded(&mut self, status: StatusCode) {
        self.status = Some(StatusLabel::Code(status));
    }

    /// The inner service returned an error instead of a response; whatever turns it into
    /// a response outside this layer is not seen here, so it counts as a server error.
    pub(crate) fn failed(&mut self) {
        self.status = Some(StatusLabel::Code(StatusCode::INTERNAL_SERVER_ERROR));
    }

    pub(crate) fn add_body_bytes(&mut self, bytes: usize) {
        self.body_bytes = self.body_bytes.saturating_add(bytes as u64);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let status = self.status.unwrap_or(if self.polling || std::thread::panicking() {
            // A panicking handler: tower-http's CatchPanic answers 500, and without it the
            // client sees the connection fail, a server error either way.
            StatusLabel::Code(StatusCode::INTERNAL_SERVER_ERROR)
        } else {
            StatusLabel::Cancelled
        });
        let body_bytes = (self.instruments.record_body_size() && self.status.is_some())
            .then_some(self.body_bytes);
        self.route.record(self.method, status, self.start.elapsed().as_secs_f64(), body_bytes);
        self.instruments.active(self.method).decrement(1.0);
    }
}
