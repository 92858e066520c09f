//! The call handle: what a handler holds and calls.

use std::fmt;
use std::sync::Arc;

use tracing::Span;

use crate::guard::PollGuard;
use crate::handles::{Direction, Handles};
use crate::protocol::ProtocolErrorKind;
use crate::serve::{CallFuture, CallResult};
use crate::socket::TrackedSocket;
use crate::state::CallState;

/// One voice call: created by [`CallLayer`](crate::CallLayer) for each upgrade request,
/// taken by the handler as an extractor, moved into `on_upgrade` to wrap the socket.
///
/// Cheap to clone. The call ends when the last clone and the last
/// [`TrackedSocket`] are gone, exactly once, with the [`Outcome`](crate::Outcome) that what they saw
/// implies: however the handler returns, fails, panics or is aborted.
///
/// ```
/// use axum::extract::ws::WebSocketUpgrade;
/// use axum::response::Response;
/// use futures_util::{SinkExt, StreamExt};
/// use voxscope_call::Call;
///
/// async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
///     ws.on_upgrade(move |socket| async move {
///         let mut socket = call.track(socket);
///         while let Some(Ok(message)) = socket.next().await {
///             // ... run the agent; when the caller stops speaking:
///             call.user_turn_ended();
///             # let _ = socket.send(message).await;
///         }
///     })
/// }
/// ```
#[derive(Clone)]
pub struct Call {
    pub(crate) state: Arc<CallState>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.state.ids().call_id)
            .field("transport", &self.state.handles.transport)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Runs the call's handler on the tracked socket: inside the call's span, with a
    /// panic ending the call `failed` and an `Err` output too (see [`CallResult`]).
    /// The usual way to take the upgrade.
    ///
    /// ```
    /// use axum::extract::ws::{WebSocket, WebSocketUpgrade};
    /// use axum::response::Response;
    /// use voxscope_call::{Call, TrackedSocket};
    ///
    /// async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
    ///     ws.on_upgrade(move |socket| call.serve(socket, agent))
    /// }
    ///
    /// async fn agent(socket: TrackedSocket<WebSocket>, call: Call) -> Result<(), String> {
    ///     # let _ = (socket, call);
    ///     Ok(())
    /// }
    /// ```
    pub fn serve<S, F, Fut>(self, socket: S, handler: F) -> CallFuture<Fut>
    where
        F: FnOnce(TrackedSocket<S>, Call) -> Fut,
        Fut: Future,
        Fut::Output: CallResult,
    {
        let socket = self.track(socket);
        let future = handler(socket, self.clone());
        CallFuture { inner: future, guard: PollGuard::new(self) }
    }

    /// Wraps the upgraded socket: frames, audio, gaps, stop and close are seen from here.
    /// A panic in the code that owns it is seen only if it drops the socket while
    /// unwinding; [`serve`](Self::serve) sees every panic.
    pub fn track<S>(&self, socket: S) -> TrackedSocket<S> {
        self.state.tracked();
        TrackedSocket::new(socket, self.clone())
    }

    /// The call id: the header or query value the layer was told to read, else a
    /// generated one, replaced by the provider's (Twilio `callSid`) once the stream
    /// reveals it. For spans and logs; never a label.
    pub fn id(&self) -> String {
        self.state.ids().call_id.clone()
    }

    /// The `transport` label of this call.
    pub fn transport(&self) -> &'static str {
        self.state.handles.transport
    }

    /// The call's span: the root of its own trace, linked (`follows_from`) to the span
    /// that was current when the request arrived.
    /// Instrument the call's task with it so that its logs carry the call id.
    pub fn span(&self) -> &Span {
        self.state.span()
    }

    /// The caller stopped speaking: the next outbound audio frame observes
    /// `voice_turn_latency_seconds`. A later call before that frame moves the mark.
    pub fn user_turn_ended(&self) {
        self.state.user_turn_ended();
    }

    /// Observes a sentiment score in `voice_call_sentiment`; clamped to -1..=1, NaN
    /// ignored.
    pub fn record_sentiment(&self, score: f64) {
        if !score.is_nan() {
            self.state.handles.sentiment.record(score.clamp(-1.0, 1.0));
        }
    }

    /// Ends the call as `failed` whatever the socket sees next; `reason` goes to the
    /// end-of-call log line. For a handler that returns an error.
    pub fn fail(&self, reason: impl fmt::Display) {
        self.state.fail(reason.to_string());
    }

    /// Counts an inbound frame the application could not use in
    /// `voice_call_protocol_errors_total{kind, direction="in"}` (say, a media payload that is not valid
    /// base64 when the agent decodes it) and logs `error` at debug level in the call's
    /// span. The socket counts what it can judge without decoding; this is for the rest.
    ///
    /// ```
    /// use voxscope_call::{CallLayer, Protocol, ProtocolErrorKind};
    ///
    /// let layer = CallLayer::new(Protocol::Twilio)?;
    /// let call = layer.open_call(None).expect("no capacity set");
    /// call.protocol_error(ProtocolErrorKind::InvalidPayload, &"not canonical base64");
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn protocol_error(&self, kind: ProtocolErrorKind, error: &dyn fmt::Display) {
        self.state.handles.protocol_errors[kind.index()][Direction::In as usize].increment(1);
        tracing::debug!(
            parent: self.span(),
            kind = kind.label(),
            %error,
            "media-stream frame not usable by the application"
        );
    }

    pub(crate) fn handles(&self) -> &Arc<Handles> {
        &self.state.handles
    }
}
