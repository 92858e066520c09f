//! Simulated Twilio callers, with real WebSocket clients: 20 ms frames of synthesized
//! speech (`examples/fixtures/caller_speech.ulaw`) and line silence, canonical base64 as
//! Twilio writes it, turns answered by the agent, callers who hang up (Twilio sends
//! `stop`, then closes), connections reset under the call, protocol garbage, and
//! optionally a gap in a caller's audio. The `call_simulator` binary and the demo's
//! built-in callers ([`crate::callers`]) both dial through [`call`].
//!
//! ```no_run
//! # async fn run() {
//! use voice_agent::simulator::{Plan, Script, call};
//!
//! let script = Script { plan: Plan::Complete, turns: 2, stop_at: 0, gap_ms: 0 };
//! let outcome = call("ws://127.0.0.1:3000/media", "CAsim1", script).await;
//! println!("{} after {} turns", outcome.ended, outcome.turn_latencies.len());
//! # }
//! ```

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::bail;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What each caller says every turn: 3.5 s of synthesized speech, mu-law 8 kHz.
const SPEECH: &[u8] = include_bytes!("../fixtures/caller_speech.ulaw");
/// 20 ms of mu-law.
const FRAME_BYTES: usize = 160;
/// A turn that gets no answer within this long is counted unanswered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What a simulated caller does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plan {
    /// All turns, then stop and close.
    Complete,
    /// Like Complete, with malformed frames mixed in.
    Garbage,
    /// Hangs up mid-turn: Twilio sends stop, then closes.
    HangUp,
    /// The connection is reset mid-call: no stop, no close frame.
    Disconnect,
}

impl Plan {
    /// A plan as callers come: seven in ten complete, one each hangs up, is cut off or
    /// sends garbage.
    pub fn random(rng: &mut impl Rng) -> Self {
        match rng.random_range(0..10) {
            0 => Plan::HangUp,
            1 => Plan::Disconnect,
            2 => Plan::Garbage,
            _ => Plan::Complete,
        }
    }
}

/// What one caller does, and when.
#[derive(Clone, Copy, Debug)]
pub struct Script {
    /// How the call goes.
    pub plan: Plan,
    /// Turns the caller speaks.
    pub turns: usize,
    /// The turn (from 0) in which a `HangUp` or `Disconnect` caller leaves.
    pub stop_at: usize,
    /// Audio held back halfway through the first turn, as a network outage would.
    pub gap_ms: u64,
}

/// How a call went, from the caller's side.
#[derive(Debug, Default)]
pub struct Outcome {
    /// How it ended: `completed`, `completed (with garbage)`, `hung up`,
    /// `disconnected`, `rejected (503)`, `connect failed` or `error`.
    pub ended: &'static str,
    /// From the last speech frame of each answered turn to the agent's first audio.
    pub turn_latencies: Vec<Duration>,
    /// Turns the agent did not answer within 5 s.
    pub unanswered: usize,
    /// Media frames the caller sent.
    pub frames_sent: u64,
    /// Text frames the agent sent back.
    pub frames_received: u64,
}

/// Whether `url` is a `ws://` URL on loopback, the only place the simulator calls.
///
/// ```
/// use voice_agent::simulator::is_loopback;
/// assert!(is_loopback("ws://127.0.0.1:3000/media"));
/// assert!(is_loopback("ws://[::1]:3000/media"));
/// assert!(!is_loopback("ws://example.com/media"));
/// assert!(!is_loopback("ws://127.0.0.1.example.com/media"));
/// ```
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("ws://") else { return false };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match authority.split_once(']') {
        Some((v6, _)) => &authority[..=v6.len()],
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Who a call is, as Twilio names it: the call SID, the media stream's SID, and the
/// caller's and the called numbers, which a `<Stream>` passes on as custom parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `CA` and 32 hex digits on Twilio.
    pub call_sid: String,
    /// `MZ` and 32 hex digits on Twilio.
    pub stream_sid: String,
    /// The caller's number, E.164.
    pub from: String,
    /// The number called, E.164.
    pub to: String,
}

impl Identity {
    /// The simulator's short names: call SID `sid`, stream SID `MZ` and the rest of it,
    /// and the fictional numbers +15550100 and +15550199.
    ///
    /// ```
    /// let who = voice_agent::simulator::Identity::named("CAsim7");
    /// assert_eq!(who.stream_sid, "MZsim7");
    /// ```
    pub fn named(sid: &str) -> Self {
        let stream = sid.strip_prefix("CA").unwrap_or(sid);
        Self {
            call_sid: sid.to_owned(),
            stream_sid: format!("MZ{stream}"),
            from: "+15550100".to_owned(),
            to: "+15550199".to_owned(),
        }
    }

    /// Names as Twilio issues them: SIDs of 32 random hex digits, and North American
    /// numbers (`+1`, then ten digits).
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let who = voice_agent::simulator::Identity::realistic(&mut rand::rngs::StdRng::seed_from_u64(1));
    /// assert_eq!((who.call_sid.len(), &who.call_sid[..2]), (34, "CA"));
    /// assert_eq!((who.from.len(), &who.from[..2]), (12, "+1"));
    /// ```
    pub fn realistic(rng: &mut impl Rng) -> Self {
        let mut hex = || format!("{:032x}", rng.random::<u128>());
        let (call, stream) = (hex(), hex());
        let mut number =
            || format!("+1{}{:09}", rng.random_range(2..10), rng.random_range(0..1_000_000_000));
        let (from, to) = (number(), number());
        Self { call_sid: format!("CA{call}"), stream_sid: format!("MZ{stream}"), from, to }
    }
}

/// Places one call at `url` (the agent's `/media`) with Twilio's `callSid` `sid`, and
/// plays `script`.
pub async fn call(url: &str, sid: &str, script: Script) -> Outcome {
    call_as(url, &Identity::named(sid), script).await
}

/// [`call`] as `who`: its call SID and caller number in the stream URL's query, as a
/// `<Stream url>` would carry them, its SIDs and numbers in the `start` message.
pub async fn call_as(url: &str, who: &Identity, script: Script) -> Outcome {
    let mut outcome = Outcome::default();
    let from = who.from.replace('+', "%2B");
    let url = format!("{url}?callSid={}&From={from}", who.call_sid);
    let mut ws = match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => ws,
        Err(WsError::Http(response)) if response.status() == 503 => {
            outcome.ended = "rejected (503)";
            return outcome;
        }
        Err(_) => {
            outcome.ended = "connect failed";
            return outcome;
        }
    };
    let mut caller = Caller { who, sequence: 1, timestamp_ms: 0 };
    outcome.ended = match converse(&mut ws, &mut caller, script, &mut outcome).await {
        Ok(ended) => ended,
        Err(_) => "error",
    };
    if let (true, MaybeTlsStream::Plain(tcp)) = (outcome.ended == "disconnected", ws.get_ref()) {
        // Dropped with zero linger, the socket sends RST: the call's TCP is reset.
        let _ = tcp.set_zero_linger();
    }
    outcome
}

async fn converse(
    ws: &mut Socket,
    caller: &mut Caller<'_>,
    script: Script,
    outcome: &mut Outcome,
) -> anyhow::Result<&'static str> {
    ws.send(Message::text(frames::CONNECTED)).await?;
    ws.send(Message::text(frames::start_as(caller.who))).await?;
    let speech = &AUDIO.speech;
    for turn in 0..script.turns {
        let leaves =
            turn == script.stop_at && matches!(script.plan, Plan::HangUp | Plan::Disconnect);
        if script.plan == Plan::Garbage {
            ws.send(Message::text("{\"event\":\"media\",\"media\":{\"payload\":\"abc\"}}")).await?;
            ws.send(Message::text("definitely not json")).await?;
            ws.send(Message::binary(vec![0u8; 33])).await?;
        }
        // Leaving callers go mid-sentence.
        let spoken = if leaves { speech.len() / 2 } else { speech.len() };
        for (i, payload) in speech[..spoken].iter().enumerate() {
            if turn == 0 && i == spoken / 2 && script.gap_ms > 0 {
                tokio::time::sleep(Duration::from_millis(script.gap_ms)).await;
                caller.timestamp_ms += script.gap_ms;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            caller.send_media(ws, payload, outcome).await?;
        }
        if leaves {
            if script.plan == Plan::Disconnect {
                return Ok("disconnected");
            }
            return hang_up(ws, caller, outcome).await.map(|()| "hung up");
        }
        let spoke_at = Instant::now();
        match await_answer(ws, caller, outcome).await? {
            Some(answered_at) => outcome.turn_latencies.push(answered_at - spoke_at),
            None => outcome.unanswered += 1,
        }
    }
    hang_up(ws, caller, outcome).await?;
    Ok(if script.plan == Plan::Garbage { "completed (with garbage)" } else { "completed" })
}

/// Twilio's end of a call: `stop`, then a normal close.
async fn hang_up(
    ws: &mut Socket,
    caller: &Caller<'_>,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    ws.send(Message::text(frames::stop_as(caller.who))).await?;
    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    ws.send(Message::Close(Some(frame))).await?;
    drain(ws, outcome).await;
    Ok(())
}

/// Line silence every 20 ms until the agent's first audio; then 200 ms more, reading its
/// answer. `None` when no answer came in time.
async fn await_answer(
    ws: &mut Socket,
    caller: &mut Caller<'_>,
    outcome: &mut Outcome,
) -> anyhow::Result<Option<Instant>> {
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut answered: Option<Instant> = None;
    let mut after_answer = 0;
    while Instant::now() < deadline && after_answer < 10 {
        tokio::select! {
            _ = tick.tick() => {
                caller.send_media(ws, &AUDIO.silence, outcome).await?;
                after_answer += usize::from(answered.is_some());
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) if text.as_str().contains("\"media\"") => {
                    outcome.frames_received += 1;
                    answered.get_or_insert_with(Instant::now);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => bail!("the agent closed the call"),
            }
        }
    }
    Ok(answered)
}

/// One caller's media stream: Twilio's sequence numbers and media clock.
struct Caller<'a> {
    who: &'a Identity,
    sequence: u64,
    timestamp_ms: u64,
}

impl Caller<'_> {
    async fn send_media(
        &mut self,
        ws: &mut Socket,
        payload: &str,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        self.sequence += 1;
        let frame = frames::media_as(self.who, self.sequence, self.timestamp_ms, payload);
        self.timestamp_ms += 20;
        ws.send(Message::text(frame)).await?;
        outcome.frames_sent += 1;
        Ok(())
    }
}

/// The caller's audio as Twilio media payloads: canonical standard base64 of 20 ms of
/// mu-law each.
struct Audio {
    speech: Vec<String>,
    silence: String,
}

static AUDIO: LazyLock<Audio> = LazyLock::new(|| {
    let encode = |frame: &[u8]| base64::engine::general_purpose::STANDARD.encode(frame);
    let speech = SPEECH
        .chunks(FRAME_BYTES)
        .map(|chunk| {
            let mut frame = chunk.to_vec();
            frame.resize(FRAME_BYTES, 0xFF);
            encode(&frame)
        })
        .collect();
    Audio { speech, silence: encode(&[0xFF; FRAME_BYTES]) }
});

/// After its close, a caller reads what the agent still sends until the agent's close,
/// at most this long. Going sooner, with the agent's frames unread, would reset the
/// connection (RST), which discards the caller's last frames, its `stop` among them,
/// that still wait for room in a busy agent's receive buffer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

async fn drain(ws: &mut Socket, outcome: &mut Outcome) {
    let drained = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() {
                outcome.frames_received += 1;
            }
        }
    });
    let _ = drained.await;
}

/// Twilio Media Streams frames, as Twilio sends them (`start`, `media`, `stop`): of call
/// `sid` with the simulator's short names, or `_as` a caller [`Identity`].
pub mod frames {
    use super::Identity;

    /// The first message of every stream.
    pub const CONNECTED: &str = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;

    /// A `media` frame of the caller's track, on stream `MZsim`.
    pub fn media(sequence: u64, timestamp_ms: u64, payload: &str) -> String {
        media_as(&Identity::named("CAsim"), sequence, timestamp_ms, payload)
    }

    /// A `media` frame of the caller's track, on `who`'s stream.
    pub fn media_as(who: &Identity, sequence: u64, timestamp_ms: u64, payload: &str) -> String {
        format!(
            r#"{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"inbound","chunk":"{sequence}","timestamp":"{timestamp_ms}","payload":"{payload}"}},"streamSid":"{}"}}"#,
            who.stream_sid
        )
    }

    /// The `start` frame of call `sid` (its stream sid derived from it), with the
    /// caller's [`Profile`](crate::business::Profile) as its `customParameters`.
    pub fn start(sid: &str) -> String {
        start_as(&Identity::named(sid))
    }

    /// The `start` frame of `who`: SIDs, media format, and as custom parameters the
    /// numbers and the caller's [`Profile`](crate::business::Profile).
    pub fn start_as(who: &Identity) -> String {
        let Identity { call_sid, stream_sid, from, to } = who;
        let mut parameters = crate::business::Profile::of(call_sid).custom_parameters();
        if let Some(fields) = parameters.as_object_mut() {
            fields.insert("From".into(), from.as_str().into());
            fields.insert("To".into(), to.as_str().into());
        }
        format!(
            r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"ACsim","streamSid":"{stream_sid}","callSid":"{call_sid}","tracks":["inbound"],"customParameters":{parameters},"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{stream_sid}"}}"#
        )
    }

    /// The `stop` frame of call `sid`: the caller hung up.
    pub fn stop(sid: &str) -> String {
        stop_as(&Identity::named(sid))
    }

    /// The `stop` frame of `who`.
    pub fn stop_as(who: &Identity) -> String {
        format!(
            r#"{{"event":"stop","sequenceNumber":"999","streamSid":"{}","stop":{{"accountSid":"ACsim","callSid":"{}"}}}}"#,
            who.stream_sid, who.call_sid
        )
    }
}
