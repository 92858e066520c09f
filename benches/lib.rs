//! Shared fixtures for voxscope's criterion benches.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::Message;
use axum::http::Request;
use axum::routing::get;
use futures_util::{Sink, Stream};

/// A trivial router: one path-parameter route with a static body, so that what a bench
/// measures is the middleware, not the handler.
pub fn trivial_router() -> Router {
    Router::new().route("/calls/{id}", get(|| async { "ok" }))
}

/// A request that matches [`trivial_router`]'s route.
pub fn call_request() -> Request<Body> {
    Request::get("/calls/42").body(Body::empty()).unwrap_or_default()
}

/// Wall time for `iters` calls of `op(thread, i)` on each of `threads` threads, started
/// together; the clock starts when all are ready and stops when the last has finished.
pub fn on_threads(
    threads: usize,
    iters: u64,
    op: impl Fn(usize, usize) + Sync,
) -> std::time::Duration {
    let start = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (start, op) = (&start, &op);
            scope.spawn(move || {
                start.wait();
                for i in 0..iters as usize {
                    op(thread, i);
                }
            });
        }
        start.wait();
        // Leaving the scope joins every thread.
        std::time::Instant::now()
    })
    .elapsed()
}

/// A caller's socket in memory: the same inbound frame forever (a refcount, no copy),
/// and a sink that drops what the service sends. What a call bench measures is then the
/// tracked socket around it.
pub struct RepeatingCaller {
    frame: Message,
    pauses: bool,
    pending_next: bool,
}

impl RepeatingCaller {
    /// A frame at every read: a backlog, read without a wait.
    pub fn new(frame: Message) -> Self {
        Self { frame, pauses: false, pending_next: false }
    }

    /// A frame, then nothing to read, in turn: a live media stream, where the reader
    /// waits after every frame (and a tracked socket's watches run).
    pub fn pausing(frame: Message) -> Self {
        Self { frame, pauses: true, pending_next: false }
    }
}

impl Stream for RepeatingCaller {
    type Item = Result<Message, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.pending_next {
            self.pending_next = false;
            return Poll::Pending;
        }
        self.pending_next = self.pauses;
        Poll::Ready(Some(Ok(self.frame.clone())))
    }
}

impl Sink<Message> for RepeatingCaller {
    type Error = Infallible;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), Infallible> {
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
}

/// Wall time, divided by `tasks`, for `tasks` futures spawned together on `runtime`
/// (a multi-thread runtime): `body(task)` builds each one before the clock starts, and
/// each runs the same number of operations, so the result is wall time per operation.
/// The clock starts when all are spawned and waiting, and stops when the last is done.
/// Their outputs come back in task order.
pub fn on_tasks<F>(
    runtime: &tokio::runtime::Runtime,
    tasks: usize,
    body: impl Fn(usize) -> F,
) -> (std::time::Duration, Vec<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(tasks + 1));
    runtime.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|task| {
                let (start, body) = (std::sync::Arc::clone(&start), body(task));
                tokio::spawn(async move {
                    start.wait().await;
                    body.await
                })
            })
            .collect();
        start.wait().await;
        let began = std::time::Instant::now();
        let mut outputs = Vec::with_capacity(tasks);
        for handle in handles {
            match handle.await {
                Ok(output) => outputs.push(output),
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        (began.elapsed() / tasks.max(1) as u32, outputs)
    })
}

/// The multi-thread runtime of the `*_mt` benches: one worker per core.
pub fn multi_thread_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().ok()
}

/// How many tasks the `*_mt` benches run at once: one, and sixteen.
pub const TASKS: [usize; 2] = [1, 16];
