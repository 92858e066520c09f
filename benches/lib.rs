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
pub struct RepeatingCaller(pub Message);

impl Stream for RepeatingCaller {
    type Item = Result<Message, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(Some(Ok(self.0.clone())))
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
