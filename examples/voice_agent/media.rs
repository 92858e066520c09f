//! `GET /media`: a WebSocket that speaks Twilio Media Streams (point a `<Stream url>`
//! at `wss://HOST/media`). The agent listens, notices the caller's turn end, and
//! answers each turn with audio from a pluggable [`Responder`].
//!
//! Endpointing decodes each payload (strict base64, then mu-law to linear PCM) and
//! judges speech by its energy; see [`crate::endpointing`]. A payload that is not
//! canonical base64 is counted in `voice_call_protocol_errors_total{kind="invalid_payload"}`
//! and carries no audio.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::any;
use base64::Engine as _;
use futures_util::stream::{self, BoxStream};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use voxscope::call::{Call, CallLayer, MediaFrame, ParsedMessage, Protocol, ProtocolErrorKind};

use crate::endpointing::{Endpointer, Heard};

/// The path of the media-stream endpoint.
pub const MEDIA_PATH: &str = "/media";
/// Calls beyond this many are refused with 503 and `Retry-After`, unless
/// `--max-calls` says otherwise.
pub const MAX_CALLS: usize = 500;
/// Twilio streams a frame every 20 ms, silence included: a caller unheard this long is
/// gone, even if no FIN or RST says so.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// One caller turn, as the responder sees it.
#[derive(Clone, Debug)]
pub struct CallerTurn {
    /// The call id (Twilio's callSid once the stream started).
    pub call_id: String,
    /// 1 for the first turn of the call.
    pub number: u32,
    /// The caller's speech in this turn, mu-law 8 kHz, as received.
    pub audio: Vec<u8>,
}

/// Agent audio: chunks of mu-law 8 kHz, sent as they come.
pub type AgentAudio = BoxStream<'static, anyhow::Result<Vec<u8>>>;

/// Answers a caller turn. The default waits and replies with silence; the provider
/// pipeline (STT, LLM, TTS) plugs in here.
pub trait Responder: Send + Sync + 'static {
    /// The agent's answer to `turn`, streamed.
    fn answer(&self, turn: CallerTurn) -> AgentAudio;
}

/// Replies after a fixed delay with a fixed length of audio.
#[derive(Clone, Debug)]
pub struct FixedDelayResponder {
    /// Before the first chunk: the agent "thinking".
    pub delay: Duration,
    /// How much audio it answers with, in 20 ms frames.
    pub frames: usize,
}

impl Default for FixedDelayResponder {
    fn default() -> Self {
        Self { delay: Duration::from_millis(600), frames: 50 }
    }
}

impl Responder for FixedDelayResponder {
    fn answer(&self, _turn: CallerTurn) -> AgentAudio {
        let (delay, frames) = (self.delay, self.frames);
        let first = stream::once(async move {
            tokio::time::sleep(delay).await;
            Ok(vec![0xFF; 160])
        });
        first.chain(stream::iter((1..frames).map(|_| Ok(vec![0xFF; 160])))).boxed()
    }
}

/// `GET /media` under its own [`CallLayer`] (Twilio, at most [`MAX_CALLS`], ended after
/// [`IDLE_TIMEOUT`] without a frame), as a route layer: requests that match no route
/// never reach it.
pub fn router(responder: Arc<dyn Responder>) -> anyhow::Result<Router> {
    router_with(responder, MAX_CALLS)
}

/// [`router`] refusing calls beyond `max_calls` instead of [`MAX_CALLS`].
pub fn router_with(responder: Arc<dyn Responder>, max_calls: usize) -> anyhow::Result<Router> {
    let layer = CallLayer::builder(Protocol::Twilio)
        .max_calls(max_calls)
        .call_id_query("callSid")
        .idle_timeout(IDLE_TIMEOUT)
        .build()
        .context("call layer")?;
    Ok(Router::new().route(MEDIA_PATH, any(media)).route_layer(layer).with_state(responder))
}

async fn media(
    ws: WebSocketUpgrade,
    call: Call,
    State(responder): State<Arc<dyn Responder>>,
) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, move |socket, call| agent(socket.parsed(), call, responder))
    })
}

/// What the agent tells its call's instrumentation: the call layer's [`Call`], or
/// nothing when the demo runs with `--instrumentation off`.
pub trait CallHooks: Send + 'static {
    /// The call id, for the responder's logs.
    fn id(&self) -> String;
    /// The caller's turn ended (the start of the turn latency).
    fn user_turn_ended(&self);
    /// A media payload of canonical length that did not decode.
    fn invalid_payload(&self, error: &dyn fmt::Display);
}

impl CallHooks for Call {
    fn id(&self) -> String {
        Call::id(self)
    }

    fn user_turn_ended(&self) {
        Call::user_turn_ended(self);
    }

    fn invalid_payload(&self, error: &dyn fmt::Display) {
        self.protocol_error(ProtocolErrorKind::InvalidPayload, error);
    }
}

/// What the agent reads in a message from the caller.
pub enum FromCaller<'a> {
    /// The stream began: Twilio's stream id and the `<Stream>`'s `<Parameter>`s.
    Start {
        /// `streamSid`, for the messages the agent sends.
        stream_sid: Option<&'a str>,
        /// `start.customParameters`.
        parameters: HashMap<String, String>,
    },
    /// A `media` frame's base64 payload.
    Media(&'a str),
    /// The caller hung up.
    Stop,
    /// Anything else.
    Other,
}

/// A message from the caller, as the agent reads it: a bare WebSocket's, which the
/// agent parses itself, or the call layer's [`ParsedMessage`], which the tracked socket
/// parsed already (no second parse).
pub trait CallerMessage {
    /// What the message says.
    fn read(&self) -> FromCaller<'_>;
}

/// The bare WebSocket's message (`--instrumentation off`): parsed here.
impl CallerMessage for Message {
    fn read(&self) -> FromCaller<'_> {
        let Message::Text(text) = self else { return FromCaller::Other };
        let Ok(frame) = serde_json::from_str::<Inbound<'_>>(text.as_str()) else {
            return FromCaller::Other;
        };
        match (frame.event, frame.media) {
            ("media", Some(media)) => FromCaller::Media(media.payload),
            ("start", _) => FromCaller::Start {
                stream_sid: frame.stream_sid,
                parameters: frame.start.map(|start| start.custom_parameters).unwrap_or_default(),
            },
            ("stop", _) => FromCaller::Stop,
            _ => FromCaller::Other,
        }
    }
}

/// The tracked socket's message: read from what the socket found.
impl CallerMessage for ParsedMessage {
    fn read(&self) -> FromCaller<'_> {
        if let Some(payload) = self.payload() {
            return FromCaller::Media(payload);
        }
        match self.frame() {
            Some(MediaFrame::Start { stream_id, .. }) => FromCaller::Start {
                stream_sid: stream_id.as_deref(),
                parameters: self
                    .json()
                    .and_then(|json| json.pointer("/start/customParameters")?.as_object())
                    .map(|parameters| {
                        let text = |(name, value): (&String, &serde_json::Value)| {
                            Some((name.clone(), value.as_str()?.to_owned()))
                        };
                        parameters.iter().filter_map(text).collect()
                    })
                    .unwrap_or_default(),
            },
            Some(MediaFrame::Stop) => FromCaller::Stop,
            _ => FromCaller::Other,
        }
    }
}

#[derive(Deserialize)]
struct Inbound<'a> {
    event: &'a str,
    #[serde(rename = "streamSid")]
    stream_sid: Option<&'a str>,
    #[serde(borrow)]
    media: Option<InboundMedia<'a>>,
    start: Option<InboundStart>,
}

/// The `start` message's `customParameters`: the `<Parameter>`s of the `<Stream>`.
#[derive(Deserialize)]
struct InboundStart {
    #[serde(rename = "customParameters", default)]
    custom_parameters: HashMap<String, String>,
}

#[derive(Deserialize)]
struct InboundMedia<'a> {
    payload: &'a str,
}

/// Reads the caller and writes the agent's answers from one task: a new turn while the
/// agent speaks (barge-in) clears the queued audio and drops the answer.
///
/// A socket error ends the call with `Ok`: the caller went away, which the tracked
/// socket sees (`dropped`, or `completed` when a `stop` is still to be read after a
/// write to the caller failed). `Err` is for the agent's own failures (a
/// responder error), which end the call `failed`.
pub(crate) async fn agent<S, M, E>(
    socket: S,
    call: impl CallHooks,
    responder: Arc<dyn Responder>,
) -> anyhow::Result<()>
where
    S: Stream<Item = Result<M, E>> + Sink<Message> + Send,
    M: CallerMessage,
{
    let (mut to_caller, mut from_caller) = socket.split();
    let mut stream_sid = String::new();
    let mut caller = Endpointer::default();
    let mut turns = 0;
    let mut answer: Option<AgentAudio> = None;
    let mut conversation = crate::business::Conversation::default();
    loop {
        tokio::select! {
            message = from_caller.next() => {
                let Some(Ok(message)) = message else { return Ok(()) };
                match message.read() {
                    FromCaller::Start { stream_sid: sid, parameters } => {
                        if let (Some(sid), true) = (sid, stream_sid.is_empty()) {
                            stream_sid = sid.to_owned();
                        }
                        conversation.started(parameters);
                    }
                    FromCaller::Media(payload) => match caller.frame(payload) {
                        Ok(Heard::TurnEnded(audio)) => {
                            call.user_turn_ended();
                            turns += 1;
                            let turn = CallerTurn { call_id: call.id(), number: turns, audio };
                            answer = Some(responder.answer(turn));
                        }
                        Ok(Heard::SpeechStarted) if answer.is_some() => {
                            answer = None;
                            let clear = serde_json::json!({"event": "clear", "streamSid": stream_sid});
                            if to_caller.send(Message::text(clear.to_string())).await.is_err() {
                                break;
                            }
                        }
                        Ok(Heard::SpeechStarted | Heard::Nothing) => {}
                        // A length that base64 cannot have, the tracked socket counted.
                        Err(error) if payload.len().is_multiple_of(4) => {
                            call.invalid_payload(&error);
                        }
                        Err(_) => {}
                    },
                    FromCaller::Stop => {
                        conversation.completed();
                        return Ok(());
                    }
                    FromCaller::Other => {}
                }
            }
            chunk = next_chunk(&mut answer) => match chunk {
                Some(audio) => {
                    let audio = match audio {
                        Ok(audio) => audio,
                        Err(error) => {
                            conversation.failed();
                            return Err(error.context("the responder failed"));
                        }
                    };
                    let payload = base64::engine::general_purpose::STANDARD.encode(audio);
                    let frame = serde_json::json!({
                        "event": "media", "streamSid": stream_sid, "media": {"payload": payload}
                    });
                    if to_caller.send(Message::text(frame.to_string())).await.is_err() {
                        break;
                    }
                }
                None => answer = None,
            }
        }
    }
    // The caller can no longer be written to, but what it sent before it left is still
    // to be read: a caller that hung up while the agent spoke has its `stop` there.
    if stop_among(&mut from_caller).await {
        conversation.completed();
    }
    Ok(())
}

/// Reads what the caller sent until its stream ends (at most [`IDLE_TIMEOUT`]): whether
/// a `stop` was among it. A write to a reset connection fails at once, while the frames
/// that arrived before the reset stay readable.
async fn stop_among<S, M, E>(from_caller: &mut S) -> bool
where
    S: Stream<Item = Result<M, E>> + Unpin,
    M: CallerMessage,
{
    let read = async {
        while let Some(Ok(message)) = from_caller.next().await {
            if matches!(message.read(), FromCaller::Stop) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(IDLE_TIMEOUT, read).await.unwrap_or(false)
}

/// The next chunk of the current answer; pending forever while there is none.
async fn next_chunk(answer: &mut Option<AgentAudio>) -> Option<anyhow::Result<Vec<u8>>> {
    match answer {
        Some(audio) => Pin::new(audio).next().await,
        None => std::future::pending().await,
    }
}
