//! The bounded, non-blocking export queue: kept spans go to a worker thread that
//! batches them into the exporter. A slow or dead endpoint fills the queue, and further
//! spans are dropped and counted; a request never waits for an exporter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::counters::Counters;

/// The largest batch handed to the exporter at once.
const MAX_BATCH: usize = 512;
/// How long a flush or shutdown waits for the worker.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`SpanExporter`] behind a trait object (its `export` returns an `impl Future`).
trait DynExporter: Send {
    fn export(&mut self, batch: Vec<SpanData>) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
    fn shutdown(&mut self) -> OTelSdkResult;
}

impl<E: SpanExporter + 'static> DynExporter for E {
    fn export(&mut self, batch: Vec<SpanData>) -> OTelSdkResult {
        futures_executor::block_on(SpanExporter::export(self, batch))
    }

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        SpanExporter::shutdown(self)
    }
}

enum Message {
    Spans(Vec<SpanData>),
    Resource(Resource),
    Flush(SyncSender<()>),
}

/// The queue's sending side. The worker thread alone owns the exporter, so that it is
/// also dropped there: a blocking HTTP client may not be dropped on an async worker.
pub(crate) struct ExportQueue {
    sender: Mutex<Option<SyncSender<Message>>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    /// The worker's result, sent when it has shut the exporter down.
    done: Mutex<Option<Receiver<OTelSdkResult>>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for ExportQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportQueue")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl ExportQueue {
    /// Starts the worker thread. `capacity` bounds the spans waiting for export.
    pub(crate) fn start<E: SpanExporter + 'static>(
        exporter: E,
        capacity: usize,
        counters: Arc<Counters>,
    ) -> std::io::Result<Self> {
        let exporter: Box<dyn DynExporter> = Box::new(exporter);
        let queued = Arc::new(AtomicUsize::new(0));
        // The channel counts messages; `queued` counts spans and is the real bound.
        let (sender, receiver) = mpsc::sync_channel(capacity.max(1));
        let (finished, done) = mpsc::sync_channel(1);
        {
            let (queued, counters) = (Arc::clone(&queued), Arc::clone(&counters));
            // Never joined: a shutdown waits for `done` within its timeout, and an
            // exporter stuck on a silent collector may outlive it.
            std::thread::Builder::new().name("voxscope-trace-export".into()).spawn(move || {
                // What the exporter's HTTP client logs or traces is not exported again.
                let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
                let _ = finished.send(run(receiver, exporter, &queued, &counters));
            })?;
        }
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            queued,
            capacity,
            done: Mutex::new(Some(done)),
            counters,
        })
    }

    pub(crate) fn set_resource(&self, resource: &Resource) {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(sender) = sender {
            // Sent once, while the provider is built and before any span.
            let _ = sender.send(Message::Resource(resource.clone()));
        }
    }

    /// Enqueues without blocking; spans that do not fit are dropped and counted.
    pub(crate) fn push(&self, spans: Vec<SpanData>) {
        let n = spans.len();
        let reserved = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q + n <= self.capacity).then_some(q + n)
            })
            .is_ok();
        if !reserved {
            self.counters.export_dropped(n);
            return;
        }
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let sent = match sender {
            Some(sender) => match sender.try_send(Message::Spans(spans)) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            self.counters.export_dropped(n);
        }
    }

    /// Waits (at most 5 s) until everything queued so far has been handed to the
    /// exporter.
    pub(crate) fn flush(&self) -> bool {
        self.flush_until(Instant::now() + FLUSH_TIMEOUT)
    }

    fn flush_until(&self, deadline: Instant) -> bool {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let Some(sender) = sender else { return false };
        let (ack, done) = mpsc::sync_channel(1);
        let mut flush = Message::Flush(ack);
        // A flush may wait for room until its deadline; a request never does.
        loop {
            match sender.try_send(flush) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    flush = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return false,
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
    }

    /// Flushes, stops the worker and shuts the exporter down, all within `timeout`:
    /// past it, the worker is left to finish on its own and a timeout is returned.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        self.flush_until(deadline);
        self.sender.lock().unwrap_or_else(PoisonError::into_inner).take();
        let done = self.done.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(done) = done else { return Ok(()) };
        match done.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Ok(()),
        }
    }
}

/// Exports until every sender is gone, then shuts the exporter down.
fn run(
    receiver: Receiver<Message>,
    mut exporter: Box<dyn DynExporter>,
    queued: &AtomicUsize,
    counters: &Counters,
) -> OTelSdkResult {
    let mut batch: Vec<SpanData> = Vec::new();
    let mut acks = Vec::new();
    loop {
        let first = match receiver.recv_timeout(Duration::from_secs(1)) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return exporter.shutdown(),
        };
        let mut next = Some(first);
        // Drain what is already there into one batch, up to MAX_BATCH spans.
        while let Some(message) = next.take() {
            match message {
                Message::Spans(spans) => batch.extend(spans),
                Message::Flush(ack) => acks.push(ack),
                Message::Resource(resource) => exporter.set_resource(&resource),
            }
            if batch.len() >= MAX_BATCH {
                break;
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
            let n = batch.len();
            let result = exporter.export(std::mem::take(&mut batch));
            queued.fetch_sub(n, Ordering::AcqRel);
            if result.is_err() {
                counters.export_dropped(n);
            }
        }
        for ack in acks.drain(..) {
            let _ = ack.try_send(());
        }
    }
}
