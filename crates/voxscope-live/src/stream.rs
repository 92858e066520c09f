//! `GET {path}/events`: the page's one server-sent-events stream. Each frame is an event
//! named after its view (`operations`, `providers`, `http`, `summary`, `business`,
//! `forecast`, `alerts`, `traces`) whose data is the frame's JSON. A client first gets
//! the newest frame of every view, then each new one as it is published.
//!
//! The stream is bounded in clients: past the limit a request gets 503 and counts in
//! `voxscope_live_rejected_total{reason="full"}`. A client that reads slower than
//! frames come loses the ones it missed (counted in
//! `voxscope_live_frames_skipped_total`) and is sent the newest of every view
//! instead; nothing waits for it. The stream ends when the client goes, which frees
//! its slot.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::error::RecvError;
use voxscope_core::catalog::{
    VOXSCOPE_LIVE_CLIENTS, VOXSCOPE_LIVE_FRAMES_SKIPPED_TOTAL, VOXSCOPE_LIVE_REJECTED_TOTAL,
};

use crate::auth;
use crate::page::Shared;
use crate::publisher::Frame;

/// Holds a client's slot and its count in `voxscope_live_clients` until the stream is
/// dropped.
struct Client {
    _permit: OwnedSemaphorePermit,
}

impl Client {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        metrics::gauge!(VOXSCOPE_LIVE_CLIENTS.name).increment(1.0);
        Self { _permit: permit }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        metrics::gauge!(VOXSCOPE_LIVE_CLIENTS.name).decrement(1.0);
    }
}

pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!(VOXSCOPE_LIVE_REJECTED_TOTAL.name, "reason" => reason).increment(1);
}

pub(crate) async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::authorized(shared.token.as_ref(), &headers) {
        rejected("unauthorized");
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    }
    let Ok(permit) = Arc::clone(&shared.clients).try_acquire_owned() else {
        rejected("full");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "the live page has its maximum of clients\n",
        )
            .into_response();
    };
    let client = Client::new(permit);
    let stream = frames(&shared, client);
    (
        [(header::CACHE_CONTROL, "no-store")],
        Sse::new(stream.map(|(view, text)| {
            Ok::<_, Infallible>(Event::default().event(view.name()).data(&*text))
        }))
        .keep_alive(KeepAlive::default()),
    )
        .into_response()
}

/// The newest frame of every view, then every frame published, with the newest of
/// every view again after frames were skipped.
fn frames(shared: &Arc<Shared>, client: Client) -> impl Stream<Item = Frame> + Send + 'static {
    let receiver = shared.frames.subscribe();
    let first = shared.frames.latest();
    let shared = Arc::clone(shared);
    let live =
        stream::unfold((receiver, shared, client), |(mut receiver, shared, client)| async move {
            let batch = match receiver.recv().await {
                Ok(frame) => vec![frame],
                Err(RecvError::Lagged(skipped)) => {
                    metrics::counter!(VOXSCOPE_LIVE_FRAMES_SKIPPED_TOTAL.name).increment(skipped);
                    shared.frames.latest()
                }
                Err(RecvError::Closed) => return None,
            };
            Some((stream::iter(batch), (receiver, shared, client)))
        })
        .flatten();
    stream::iter(first).chain(live)
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::View;
    use crate::publisher::Frames;

    #[test]
    fn a_slow_client_skips_to_the_newest_frame_of_every_view() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let shared = Arc::new(Shared {
                    base: "/live".to_owned(),
                    token: None,
                    clients: Arc::new(Semaphore::new(1)),
                    frames: Arc::new(Frames::new(2)),
                    index: String::new(),
                    login: String::new(),
                });
                shared.frames.publish(View::Alerts, "a0".into());
                let permit = Arc::clone(&shared.clients).try_acquire_owned().unwrap();
                let stream = frames(&shared, Client::new(permit));
                // Six frames while the client reads nothing: four more than the channel
                // holds.
                for n in 1..=5 {
                    shared.frames.publish(View::Operations, format!("o{n}").into());
                }
                shared.frames.publish(View::Providers, "p1".into());
                let first: Vec<(View, String)> =
                    stream.take(4).map(|(view, text)| (view, text.to_string())).collect().await;
                // The slot is free once the stream is gone.
                assert_eq!(shared.clients.available_permits(), 1);
                first
            })
        });
        let expected = [
            (View::Alerts, "a0"),
            (View::Operations, "o5"),
            (View::Providers, "p1"),
            (View::Alerts, "a0"),
        ]
        .map(|(view, text)| (view, text.to_owned()));
        assert_eq!(got, expected);
        let skipped: u64 = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, ..)| key.key().name() == VOXSCOPE_LIVE_FRAMES_SKIPPED_TOTAL.name)
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => n,
                _ => 0,
            })
            .sum();
        assert_eq!(skipped, 4);
    }
}
