//! [`TrackedSocket::parsed`]: the tracked socket yielding each message with what the
//! socket read in it, so that a handler does not read the frame a second time.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use pin_project::pin_project;
use serde_json::Value;

use crate::call::Call;
use crate::protocol::{MediaFrame, Payload, Reading};
use crate::socket::TrackedSocket;

/// A [`TrackedSocket`] that yields [`ParsedMessage`]s: each message from the peer with
/// what the socket read in it to count it (the frame's meaning, a media frame's payload,
/// the JSON of other frames). It counts exactly what the tracked socket counts, and is a
/// `Sink` of [`Message`]s in the same way. Made by [`TrackedSocket::parsed`].
///
/// A handler that reads media-stream frames itself (the base64 payload to decode, the
/// `start` message's parameters) does no more parsing on it than without voxscope: the
/// socket has parsed each frame once already.
///
/// ```
/// use axum::extract::ws::{WebSocket, WebSocketUpgrade};
/// use axum::response::Response;
/// use futures_util::StreamExt;
/// use voxscope_call::{Call, MediaFrame, TrackedSocket};
///
/// async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
///     ws.on_upgrade(move |socket| call.serve(socket, agent))
/// }
///
/// async fn agent(socket: TrackedSocket<WebSocket>, call: Call) {
///     let (_to_caller, mut from_caller) = socket.parsed().split();
///     while let Some(Ok(message)) = from_caller.next().await {
///         if let Some(payload) = message.payload() {
///             // decode `payload` (base64) and listen; when the caller stops:
///             call.user_turn_ended();
///             # let _ = payload;
///         } else if message.frame() == Some(&MediaFrame::Stop) {
///             break;
///         }
///     }
/// }
/// ```
#[pin_project]
#[derive(Debug)]
pub struct ParsedSocket<S> {
    #[pin]
    inner: TrackedSocket<S>,
}

impl<S> TrackedSocket<S> {
    /// The same socket, yielding each message with what the socket read in it: see
    /// [`ParsedSocket`]. Split it afterwards, as a tracked socket.
    pub fn parsed(self) -> ParsedSocket<S> {
        ParsedSocket { inner: self }
    }
}

impl<S> ParsedSocket<S> {
    /// The tracked socket.
    pub fn get_ref(&self) -> &TrackedSocket<S> {
        &self.inner
    }

    /// The tracked socket, yielding bare messages again.
    pub fn into_inner(self) -> TrackedSocket<S> {
        self.inner
    }

    /// The call this socket belongs to.
    pub fn call(&self) -> &Call {
        self.inner.call()
    }
}

impl<S, E> Stream for ParsedSocket<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message>,
{
    type Item = Result<ParsedMessage, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let read = self.project().inner.poll_read(cx);
        read.map(|item| {
            item.map(|read| read.map(|(message, reading)| ParsedMessage::new(message, reading)))
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S> Sink<Message> for ParsedSocket<S>
where
    S: Sink<Message>,
{
    type Error = S::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        self.project().inner.start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.project().inner.poll_close(cx)
    }
}

/// A message from the peer with what the tracked socket read in it to count it.
///
/// ```
/// use voxscope_call::{MediaFrame, ParsedMessage};
/// # fn read(message: &ParsedMessage) {
/// match message.frame() {
///     Some(MediaFrame::Media { .. }) => { let _payload: Option<&str> = message.payload(); }
///     Some(MediaFrame::Start { call_id, .. }) => {
///         let _parameters = message.json().and_then(|json| json.pointer("/start/customParameters"));
///         # let _ = call_id;
///     }
///     Some(MediaFrame::Stop) => {}
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct ParsedMessage {
    message: Message,
    frame: Option<MediaFrame>,
    payload: Payload,
    json: Option<Value>,
}

impl ParsedMessage {
    fn new(message: Message, reading: Option<Reading>) -> Self {
        match reading {
            None => Self { message, frame: None, payload: Payload::None, json: None },
            Some(Reading { frame, payload, json }) => {
                Self { message, frame: Some(frame.into()), payload, json }
            }
        }
    }

    /// The message, as the peer sent it.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message, as the peer sent it.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// What the frame meant for the call's metrics, as the socket's protocol reads it:
    /// audio (with its length, timestamp and track), the stream's start (with the
    /// provider's ids), its stop, a control message, or an error counted in
    /// `voice_call_protocol_errors_total`. `None` for pings, pongs and the close.
    pub fn frame(&self) -> Option<&MediaFrame> {
        self.frame.as_ref()
    }

    /// The base64 payload of a media frame of a JSON media stream (Twilio, Telnyx, Plivo:
    /// `media.payload`), unescaped, not decoded; whether or not its length can be audio.
    /// `None` for any other message, and for a [`Protocol::Custom`](crate::Protocol::Custom)
    /// stream, whose frames the application's adapter reads.
    pub fn payload(&self) -> Option<&str> {
        let Message::Text(text) = &self.message else { return None };
        self.payload.find(text.as_str(), self.json.as_ref())
    }

    /// The whole frame as JSON, for the text frames the socket parsed into a value: the
    /// frames of Twilio, Telnyx and Plivo other than `media` (such as `start`, with its
    /// `customParameters`), and Vonage's. `None` for media frames (see
    /// [`payload`](Self::payload)), frames that are not JSON, binary frames, and a custom
    /// protocol's.
    pub fn json(&self) -> Option<&Value> {
        self.json.as_ref()
    }
}
