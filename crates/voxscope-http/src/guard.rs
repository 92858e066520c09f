//! The drop guard that ends every request exactly once.

use std::sync::Arc;

use quanta::Instant;

use http::StatusCode;

use crate::handles::RouteSeries;
use crate::labels::{METHOD_LABELS, StatusLabel};

/// Index of `HEAD` in [`METHOD_LABELS`]: a HEAD response has no body to finish.
const HEAD_METHOD: u8 = 1;
const _: () = assert!(matches!(METHOD_LABELS[HEAD_METHOD as usize].as_bytes(), b"HEAD"));

/// How the response body ended, once there was a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    Complete,
    Aborted,
    Failed,
}

/// Started when the request enters the service; records duration and releases the
/// active-request gauge when dropped, whichever way that happens: body finished, body
/// dropped mid-stream, future cancelled, inner service error or panic.
///
/// Kept small: it travels inside every response future and body. Timed with quanta
/// (the TSC where it is reliable), which costs a fraction of a clock_gettime call.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    series: Arc<RouteSeries>,
    start: Instant,
    body_bytes: u64,
    status: Option<StatusCode>,
    ending: Ending,
    method: u8,
    /// Set while the inner future is polled: still set at drop, the poll panicked. A
    /// panic caught by an outer `catch_unwind` (tower-http's CatchPanic) drops this guard
    /// after unwinding has finished, when `std::thread::panicking()` is false again.
    polling: bool,
}

impl RequestGuard {
    pub(crate) fn start(series: Arc<RouteSeries>, method: usize) -> Self {
        series.active(method).increment(1.0);
        Self {
            series,
            start: Instant::now(),
            body_bytes: 0,
            status: None,
            ending: Ending::Complete,
            // Method indices are below METHOD_LABELS.len() (10).
            method: method as u8,
            polling: false,
        }
    }

    pub(crate) fn set_polling(&mut self, polling: bool) {
        self.polling = polling;
    }

    pub(crate) fn responded(&mut self, status: StatusCode) {
        self.status = Some(status);
    }

    /// The inner service returned an error instead of a response; whatever turns it into
    /// a response outside this layer is not seen here, so it counts as a server error.
    pub(crate) fn failed(&mut self) {
        self.status = Some(StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// The response body was dropped before its end. Not for responses that carry no
    /// body on the wire (HEAD, 1xx, 204, 304), which servers drop unread.
    pub(crate) fn body_dropped(&mut self) {
        let bodyless = self.method == HEAD_METHOD
            || self.status.is_none_or(|code| {
                code.is_informational()
                    || code == StatusCode::NO_CONTENT
                    || code == StatusCode::NOT_MODIFIED
            });
        if !bodyless {
            self.ending = Ending::Aborted;
        }
    }

    /// The response body yielded an error.
    pub(crate) fn body_failed(&mut self) {
        self.ending = Ending::Failed;
    }

    pub(crate) fn add_body_bytes(&mut self, bytes: usize) {
        self.body_bytes = self.body_bytes.saturating_add(bytes as u64);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let status = match (self.status, self.ending) {
            (Some(code), Ending::Complete) => StatusLabel::Code(code),
            (Some(code), Ending::Aborted) => StatusLabel::Aborted(code),
            (Some(code), Ending::Failed) => StatusLabel::BodyError(code),
            // A panicking handler: tower-http's CatchPanic answers 500, and without it the
            // client sees the connection fail, a server error either way.
            (None, _) if self.polling || std::thread::panicking() => {
                StatusLabel::Code(StatusCode::INTERNAL_SERVER_ERROR)
            }
            (None, _) => StatusLabel::Cancelled,
        };
        let method = usize::from(self.method);
        let body_bytes =
            (self.series.records_body_size() && self.status.is_some()).then_some(self.body_bytes);
        self.series.record(method, status, self.start.elapsed().as_secs_f64(), body_bytes);
        self.series.active(method).decrement(1.0);
    }
}
