//! Drives simulated Twilio calls at the voice agent's `/media` with real WebSocket
//! clients: 20 ms frames of synthesized speech (`examples/fixtures/caller_speech.ulaw`)
//! and line silence, canonical base64 as Twilio writes it, turns answered by the agent,
//! callers who hang up (Twilio sends `stop`, then closes), connections reset under the
//! call, protocol garbage, and optionally a gap in each caller's audio. Bounded in
//! count and time, and loopback only. Prints a summary table.
//!
//! `cargo run --release -p voxscope-examples --bin call_simulator -- --calls 100 --concurrency 20`
//! (start `voice_agent` first; compare with `curl localhost:3000/metrics | grep voice_`).
//!
//! `--gap-ms 3000` holds back three seconds of each caller's first turn, as a network
//! outage would: `voice_call_audio_quality` falls and `LowAudioQuality` can fire.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const MAX_CALLS: usize = 10_000;
const MAX_CONCURRENCY: usize = 500;
const MAX_SECONDS: u64 = 600;
/// The longest media gap `--gap-ms` accepts: under the demo's 10 s idle timeout.
const MAX_GAP_MS: u64 = 8_000;
/// What each caller says every turn: 3.5 s of synthesized speech, mu-law 8 kHz.
const SPEECH: &[u8] = include_bytes!("../fixtures/caller_speech.ulaw");
/// 20 ms of mu-law.
const FRAME_BYTES: usize = 160;
/// A turn that gets no answer within this long is counted unanswered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Args {
    url: String,
    calls: usize,
    concurrency: usize,
    turns: usize,
    seconds: u64,
    seed: u64,
    gap_ms: u64,
}

impl Args {
    fn parse() -> anyhow::Result<Self> {
        let mut args = Args {
            url: "ws://127.0.0.1:3000/media".to_owned(),
            calls: 50,
            concurrency: 20,
            turns: 2,
            seconds: 120,
            seed: 7,
            gap_ms: 0,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--url" => args.url = value()?,
                "--calls" => args.calls = value()?.parse().context("--calls")?,
                "--concurrency" => args.concurrency = value()?.parse().context("--concurrency")?,
                "--turns" => args.turns = value()?.parse().context("--turns")?,
                "--seconds" => args.seconds = value()?.parse().context("--seconds")?,
                "--seed" => args.seed = value()?.parse().context("--seed")?,
                "--gap-ms" => args.gap_ms = value()?.parse().context("--gap-ms")?,
                _ => bail!(
                    "usage: call_simulator [--url ws://127.0.0.1:3000/media] [--calls N<={MAX_CALLS}] \
                     [--concurrency N<={MAX_CONCURRENCY}] [--turns N] [--seconds N<={MAX_SECONDS}] \
                     [--seed N] [--gap-ms N<={MAX_GAP_MS}]"
                ),
            }
        }
        let host = args.url.strip_prefix("ws://").and_then(|rest| rest.split(['/', ':']).next());
        if !matches!(host, Some("127.0.0.1" | "localhost" | "[::1]")) {
            bail!(
                "--url {}: the simulator talks to loopback only (ws://127.0.0.1:PORT/...)",
                args.url
            );
        }
        if args.calls == 0 || args.calls > MAX_CALLS {
            bail!("--calls {}: between 1 and {MAX_CALLS}", args.calls);
        }
        if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
            bail!("--concurrency {}: between 1 and {MAX_CONCURRENCY}", args.concurrency);
        }
        if args.seconds == 0 || args.seconds > MAX_SECONDS {
            bail!("--seconds {}: between 1 and {MAX_SECONDS}", args.seconds);
        }
        if args.gap_ms > MAX_GAP_MS {
            bail!("--gap-ms {}: at most {MAX_GAP_MS}", args.gap_ms);
        }
        Ok(args)
    }
}

/// What a simulated caller does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Plan {
    /// All turns, then stop and close.
    Complete,
    /// Like Complete, with malformed frames mixed in.
    Garbage,
    /// Hangs up mid-turn: Twilio sends stop, then closes.
    HangUp,
    /// The connection is reset mid-call: no stop, no close frame.
    Disconnect,
}

/// How it went, from the caller's side.
#[derive(Default)]
struct Outcome {
    ended: &'static str,
    turn_latencies: Vec<Duration>,
    unanswered: usize,
    frames_sent: u64,
    frames_received: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let plans: Vec<(Plan, usize)> = (0..args.calls)
        .map(|_| {
            let plan = match rng.random_range(0..10) {
                0 => Plan::HangUp,
                1 => Plan::Disconnect,
                2 => Plan::Garbage,
                _ => Plan::Complete,
            };
            (plan, rng.random_range(0..args.turns.max(1)))
        })
        .collect();
    println!(
        "{} calls, {} at a time, {} turns each, at {} (at most {} s)",
        args.calls, args.concurrency, args.turns, args.url, args.seconds
    );
    let started = Instant::now();
    let args = &args;
    let runs = futures_util::stream::iter(
        plans.into_iter().enumerate().map(|(n, (plan, stop_at))| async move {
            (plan, simulate(&args.url, n, plan, args, stop_at).await)
        }),
    )
    .buffer_unordered(args.concurrency)
    .collect::<Vec<_>>();
    let results = match tokio::time::timeout(Duration::from_secs(args.seconds), runs).await {
        Ok(results) => results,
        Err(_) => bail!("the run passed its {} s bound; unfinished calls were cut", args.seconds),
    };
    print_summary(&results, started.elapsed());
    Ok(())
}

async fn simulate(url: &str, n: usize, plan: Plan, args: &Args, stop_at: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let mut ws = match tokio_tungstenite::connect_async(format!("{url}?callSid=CAsim{n}")).await {
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
    let mut caller = Caller { n, sequence: 1, timestamp_ms: 0 };
    let script = Script { plan, turns: args.turns, stop_at, gap_ms: args.gap_ms };
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

/// What one caller does, and when.
#[derive(Clone, Copy)]
struct Script {
    plan: Plan,
    turns: usize,
    /// The turn in which a `HangUp` or `Disconnect` caller leaves.
    stop_at: usize,
    /// Audio held back halfway through the first turn.
    gap_ms: u64,
}

async fn converse(
    ws: &mut Socket,
    caller: &mut Caller,
    script: Script,
    outcome: &mut Outcome,
) -> anyhow::Result<&'static str> {
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    ws.send(Message::text(connected)).await?;
    ws.send(Message::text(frames::start(caller.n))).await?;
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
async fn hang_up(ws: &mut Socket, caller: &Caller, outcome: &mut Outcome) -> anyhow::Result<()> {
    ws.send(Message::text(frames::stop(caller.n))).await?;
    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    ws.send(Message::Close(Some(frame))).await?;
    drain(ws, outcome).await;
    Ok(())
}

/// Line silence every 20 ms until the agent's first audio; then 200 ms more, reading its
/// answer. `None` when no answer came in time.
async fn await_answer(
    ws: &mut Socket,
    caller: &mut Caller,
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
struct Caller {
    n: usize,
    sequence: u64,
    timestamp_ms: u64,
}

impl Caller {
    async fn send_media(
        &mut self,
        ws: &mut Socket,
        payload: &str,
        outcome: &mut Outcome,
    ) -> anyhow::Result<()> {
        self.sequence += 1;
        let frame = frames::media(self.sequence, self.timestamp_ms, payload);
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

async fn drain(ws: &mut Socket, outcome: &mut Outcome) {
    let drained = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() {
                outcome.frames_received += 1;
            }
        }
    });
    let _ = drained.await;
}

fn print_summary(results: &[(Plan, Outcome)], elapsed: Duration) {
    let mut by_end: BTreeMap<&str, usize> = BTreeMap::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let (mut sent, mut received, mut unanswered) = (0, 0, 0);
    for (_, outcome) in results {
        *by_end.entry(outcome.ended).or_default() += 1;
        latencies.extend(&outcome.turn_latencies);
        sent += outcome.frames_sent;
        received += outcome.frames_received;
        unanswered += outcome.unanswered;
    }
    latencies.sort();
    let quantile = |q: f64| -> String {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()))
    };
    println!("\n{:<28} {:>8}", "calls (caller's view)", results.len());
    for (ended, count) in &by_end {
        println!("  {ended:<26} {count:>8}");
    }
    println!("{:<28} {:>8}", "turns answered", latencies.len());
    println!("{:<28} {:>8}", "turns unanswered", unanswered);
    println!("{:<28} {:>8}", "turn latency p50", quantile(0.5));
    println!("{:<28} {:>8}", "turn latency p95", quantile(0.95));
    println!("{:<28} {:>8}", "frames sent", sent);
    println!("{:<28} {:>8}", "frames received", received);
    println!("{:<28} {:>8.1}", "elapsed s", elapsed.as_secs_f64());
    println!(
        "\nTurn latency here runs from the caller's last speech frame, so it includes the \
         agent's 400 ms endpointing; voice_turn_latency_seconds starts after it."
    );
}

/// Twilio Media Streams frames, as Twilio sends them.
mod frames {
    /// A `media` frame of the caller's track.
    pub fn media(sequence: u64, timestamp_ms: u64, payload: &str) -> String {
        format!(
            r#"{{"event":"media","sequenceNumber":"{sequence}","media":{{"track":"inbound","chunk":"{sequence}","timestamp":"{timestamp_ms}","payload":"{payload}"}},"streamSid":"MZsim"}}"#
        )
    }

    pub fn start(n: usize) -> String {
        format!(
            r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZsim{n}","start":{{"accountSid":"ACsim","callSid":"CAsim{n}","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}}}}"#
        )
    }

    pub fn stop(n: usize) -> String {
        format!(
            r#"{{"event":"stop","sequenceNumber":"999","stop":{{"accountSid":"ACsim","callSid":"CAsim{n}"}}}}"#
        )
    }
}
