//! Voice calls over WebSockets, made observable: how many are live, how each ended,
//! whether its audio arrived on time, and how long the caller waited for each answer.
//!
//! ```
//! use axum::extract::ws::{WebSocket, WebSocketUpgrade};
//! use axum::{Router, response::Response, routing::any};
//! use futures_util::StreamExt;
//! use voxscope_call::{Call, CallLayer, Protocol, TrackedSocket};
//!
//! async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
//!     ws.on_upgrade(move |socket| call.serve(socket, agent))
//! }
//!
//! async fn agent(mut socket: TrackedSocket<WebSocket>, call: Call) {
//!     while let Some(Ok(_frame)) = socket.next().await {
//!         // speech in; when the caller stops: `call.user_turn_ended()`;
//!         // agent audio out through `socket`'s Sink half.
//!     }
//! }
//!
//! let app: Router = Router::new()
//!     .route("/media", any(media))
//!     .route_layer(CallLayer::builder(Protocol::Twilio).max_calls(500).build()?);
//! # Ok::<(), voxscope_core::ConfigError>(())
//! ```
//!
//! Only WebSocket upgrade requests (`Upgrade: websocket`, or HTTP/2's extended CONNECT)
//! open calls; any other request passes through uncounted, and the [`Call`] extractor
//! refuses it with `400` ([`CallRejection::NotAnUpgrade`]). Add the layer with
//! `route_layer`, as above: `Router::layer` would also wrap the router's fallback.
//!
//! [`Protocol`] names what the socket speaks: Twilio, Telnyx, Plivo and Vonage media
//! streams and raw PCM are built in; [`Protocol::Custom`] takes a [`MediaAdapter`] of the
//! application's for any other provider, without a fork.
//!
//! What it records, by the names of `voxscope_core::catalog`, all labelled with the
//! layer's `transport`:
//!
//! - `voice_calls_active`, back to 0 however calls end; `voice_calls_capacity` when a
//!   capacity is set.
//! - `voice_calls_total{outcome}` and `voice_call_duration_seconds{outcome}`, once per
//!   call, by a drop guard: `completed`, `dropped`, `rejected` or `failed` (see
//!   [`Outcome`]).
//! - `voice_call_frames_total{direction}` and `voice_call_audio_seconds_total{direction}`
//!   (`in`, `out`): audio length from the base64 length, never decoded. Inbound frames
//!   read back to back (a backlog) are added when the socket next waits, at its end, or
//!   every 16 frames, whichever comes first; a live stream waits after every frame. Counters hold
//!   whole numbers, so audio seconds are added as they complete, with the fractions of
//!   ended calls carried over.
//! - `voice_call_media_gaps_total` and, per call, `voice_call_audio_quality`: the
//!   share of the inbound audio that arrived on time, frames that never arrived inside
//!   a gap included (a 10 s outage in a 60 s call scores 5/6).
//! - `voice_turn_latency_seconds`: from [`Call::user_turn_ended`] to the first outbound
//!   audio frame; `voice_call_sentiment` from [`Call::record_sentiment`].
//! - `voice_call_protocol_errors_total{kind}`: frames not understood, passed through.
//! - `voice_call_ping_rtt_seconds`, with ping keepalive on: the round trip of each
//!   answered ping.
//!
//! A peer can vanish without a FIN or RST (a phone that lost its network, a NAT that
//! forgot the flow) or stop reading while it still sends. Two opt-in watches end such a
//! call `dropped` and free its capacity slot, with the reason in the end-of-call log
//! line: [`CallLayerBuilder::idle_timeout`] (no frame from the peer for that long,
//! `end=idle_timeout`) and [`CallLayerBuilder::ping_keepalive`] (a ping every interval,
//! pings left unanswered that many times in a row, `end=ping_timeout`). Both run while
//! the handler reads the tracked socket; pings go out through the socket itself, so
//! track the whole socket and split it afterwards, as [`TrackedSocket`] shows.
//!
//! A handler that reads the media-stream frames itself (to decode the audio) takes them
//! from [`TrackedSocket::parsed`]: each message comes with what the socket read in it
//! ([`ParsedMessage`]: the frame's meaning, a media frame's payload, the JSON of the
//! others), so the frame is parsed once, as without voxscope.
//!
//! A panic in the handler run by [`Call::serve`], or an `Err` it returns, ends the call
//! `failed`.
//!
//! Each call has a `voice_call` span, the root of a trace of its own that follows from
//! the span current when the request arrived (a call outlives its upgrade request by
//! minutes; as a child it would hold that request's trace open), and two log lines, `call started` and `call ended` (outcome, duration,
//! frames, audio seconds, quality, turns, mean turn latency). Call ids and phone numbers
//! live there, never in labels.
#![deny(missing_docs)]

mod admission;
mod call;
mod extract;
mod guard;
mod handles;
mod idle;
mod keepalive;
mod layer;
mod log_lines;
mod outcome;
mod parsed;
mod protocol;
mod serve;
mod service;
mod socket;
mod state;
mod timing;

pub use call::Call;
pub use extract::{CallRejection, MissingCallLayer};
pub use handles::Direction;
pub use layer::{CallLayer, CallLayerBuilder};
pub use outcome::Outcome;
pub use parsed::{ParsedMessage, ParsedSocket};
#[doc(hidden)]
pub use protocol::frame_paths;
pub use protocol::{MediaAdapter, MediaFrame, Protocol, ProtocolErrorKind};
pub use serve::{CallFuture, CallResult};
pub use service::{CallMetrics, ResponseFuture};
pub use socket::TrackedSocket;
