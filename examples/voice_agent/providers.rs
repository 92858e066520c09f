//! Simulated STT, LLM and TTS providers, a primary and a fallback of each kind, with
//! the faults in force ([`crate::faults`]) injected, and the [`Pipeline`] that answers
//! one caller turn through their fallback chains.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;
use tracing::Instrument;
use voxscope::provider::{
    BreakerConfig, Classify, ConfigCheck, ConfigReport, ErrorClass, FallbackChain, FallbackError,
    LiveAudio, ProviderKind, ProviderRegistry, ProviderSettings, Usage, live_audio,
};

use crate::calls::{CallRegistry, CallState};
use crate::faults::{Fault, LiveFaults};
use crate::{stt_client, stt_server};

/// The environment variables that hold the simulated providers' keys.
pub const KEY_VARS: [&str; 3] =
    ["VOXSCOPE_DEMO_STT_KEY", "VOXSCOPE_DEMO_LLM_KEY", "VOXSCOPE_DEMO_TTS_KEY"];

/// Checks the providers' keys at startup: `[Config] NAME is not set` and
/// `voxscope_config_missing{field}` for each absent or placeholder key.
pub fn check_keys(env: impl Fn(&str) -> Option<String>) -> ConfigReport {
    KEY_VARS
        .iter()
        .fold(ConfigCheck::new().min_len(8), |check, var| check.require(*var, env(var).as_deref()))
        .run()
}

/// `primary` and `fallback` provider names per kind, in chain order.
pub(crate) const PROVIDERS: [(ProviderKind, [&str; 2]); 3] = [
    (ProviderKind::Stt, ["deepgram", "google"]),
    (ProviderKind::Llm, ["groq", "openai"]),
    (ProviderKind::Tts, ["elevenlabs", "azure"]),
];

/// A simulated provider's failure: its class is what the real one's status would say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimError(pub ErrorClass);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "simulated provider error: {}", self.0)
    }
}

impl std::error::Error for SimError {}

impl Classify for SimError {
    fn error_class(&self) -> ErrorClass {
        self.0
    }
}

/// What a simulated provider streams.
pub(crate) type Items<T> = Pin<Box<dyn Stream<Item = Result<T, SimError>> + Send>>;

/// One simulated provider: answers after its base latency, item by item, unless a fault
/// in force says otherwise. Each request reads the faults in force when it starts.
pub(crate) struct Sim {
    name: &'static str,
    faults: LiveFaults,
    first_byte: Duration,
    per_item: Duration,
    dice: AtomicU64,
}

impl Sim {
    pub(crate) fn new(
        name: &'static str,
        faults: LiveFaults,
        first_byte: Duration,
        per_item: Duration,
        seed: u64,
    ) -> Arc<Self> {
        Arc::new(Self { name, faults, first_byte, per_item, dice: AtomicU64::new(seed | 1) })
    }

    /// A share in 0..1 from a xorshift sequence: faults "@0.3" hit about 30 % of requests.
    fn roll(&self) -> f64 {
        let mut x = self.dice.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.dice.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// This provider's faults in force now.
    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults.current().of(self.name)
    }

    /// Its base time to the first item.
    pub(crate) fn first_byte(&self) -> Duration {
        self.first_byte
    }

    /// The class this request is refused with, if a fault in `faults` says so.
    pub(crate) fn refusal(&self, faults: &[Fault]) -> Option<ErrorClass> {
        faults.iter().find_map(|fault| match *fault {
            Fault::Outage => Some(ErrorClass::Unavailable),
            Fault::Error(class, share) if self.roll() < share => Some(class),
            _ => None,
        })
    }

    /// Waits as a real provider would before its first item, then streams `items`.
    async fn answer<T: Send + 'static>(
        self: Arc<Self>,
        items: Vec<T>,
    ) -> Result<Items<T>, SimError> {
        let faults = self.faults();
        if let Some(class) = self.refusal(&faults) {
            return Err(SimError(class));
        }
        let mut latency = Duration::ZERO;
        let mut stall = Duration::ZERO;
        let mut drops = false;
        for fault in &faults {
            match *fault {
                Fault::Latency(extra) => latency += extra,
                Fault::Stall(pause) => stall += pause,
                Fault::Drop(_) => drops = true,
                Fault::Outage | Fault::Error(..) => {}
            }
        }
        tokio::time::sleep(self.first_byte + latency + stall).await;
        let per_item = self.per_item + latency / 10;
        let mut first = true;
        let items = stream::iter(items).then(move |item| {
            let pause = if std::mem::take(&mut first) { Duration::ZERO } else { per_item };
            async move {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                Ok(item)
            }
        });
        if !drops {
            return Ok(Box::pin(items));
        }
        // The connection drops after the first item.
        let dropped = stream::once(async { Err(SimError(ErrorClass::Unavailable)) });
        Ok(Box::pin(items.take(1).chain(dropped)))
    }
}

/// A token of the LLM's reply; the last one carries the request's token counts.
#[derive(Clone, Debug)]
struct Token {
    text: String,
    usage: Usage,
}

/// A transcript result; the final one carries the audio seconds heard.
#[derive(Clone, Debug)]
pub(crate) struct Transcript {
    pub(crate) text: String,
    pub(crate) is_final: bool,
    pub(crate) audio_seconds: f64,
}

/// What one caller turn produced.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TurnReply {
    /// What STT heard.
    pub transcript: String,
    /// What the LLM answered.
    pub reply: String,
    /// Bytes of reply audio (μ-law 8 kHz) from TTS.
    pub audio_bytes: usize,
    /// The provider that served each step.
    pub served_by: ServedBy,
}

/// The provider that served each step of a turn.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ServedBy {
    /// Speech-to-text.
    pub stt: String,
    /// Language model.
    pub llm: String,
    /// Text-to-speech.
    pub tts: String,
}

/// The live STT's replay window: a whole utterance, so that a fallback taking over
/// mid-utterance hears it from its start. A turn's audio is fed at once when the turn
/// ends, so of a longer turn every provider hears only the last 10 s.
const STT_REPLAY: Duration = Duration::from_secs(10);

/// STT → LLM → TTS through fallback chains; cheap to clone.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// Words to transcripts, for turns posted as text.
    stt: FallbackChain<String, Transcript, SimError>,
    /// Caller audio to transcripts, over a WebSocket to the loopback STT server.
    live_stt: FallbackChain<LiveAudio, Transcript, SimError>,
    llm: FallbackChain<String, Token, SimError>,
    tts: FallbackChain<String, AudioChunk, SimError>,
}

/// How long an open breaker skips its provider, at the demo's normal speed: three
/// failures in a row open it, then one request probes the provider after this long.
pub const BREAKER_COOL_DOWN: Duration = Duration::from_secs(15);

fn settings(name: &'static str, first_byte: Duration, total: Duration) -> ProviderSettings {
    ProviderSettings::new(name).first_byte_timeout(first_byte).timeout(total).concurrency_limit(64)
}

impl Pipeline {
    /// The simulated providers with the faults in force injected; breakers open after
    /// three failures in a row and probe after `cool_down` ([`BREAKER_COOL_DOWN`] unless
    /// the demo runs sped up).
    ///
    /// # Errors
    /// A zero `cool_down`.
    pub fn new(faults: &LiveFaults, cool_down: Duration) -> anyhow::Result<Self> {
        let ms = Duration::from_millis;
        let [(_, [stt_a, stt_b]), (_, [llm_a, llm_b]), (_, [tts_a, tts_b])] = PROVIDERS;
        let sim = |name: &'static str, first: u64, item: u64, seed| {
            Sim::new(name, faults.clone(), ms(first), ms(item), seed)
        };
        let breaker = BreakerConfig::default().consecutive_failures(3).cool_down(cool_down);
        let settings =
            |name, first_byte, total| settings(name, first_byte, total).breaker(breaker.clone());
        // The pipeline's own breakers: two pipelines in one process (tests) do not trip
        // each other's.
        let registry = ProviderRegistry::new();

        let mut stt = FallbackChain::builder(ProviderKind::Stt).registry(&registry);
        for (name, sim) in [(stt_a, sim(stt_a, 120, 15, 11)), (stt_b, sim(stt_b, 200, 20, 12))] {
            stt = stt
                .stream_provider(settings(name, ms(1_000), ms(10_000)), move |heard: String| {
                    sim.clone().answer(transcripts(&heard))
                });
        }
        let stt = stt.usage_with(|t: &Transcript| Usage::audio_seconds(t.audio_seconds)).build()?;
        let live_stt = live_stt(
            &registry,
            [(stt_a, sim(stt_a, 120, 15, 13)), (stt_b, sim(stt_b, 200, 20, 14))],
            &breaker,
        )?;

        let mut llm = FallbackChain::builder(ProviderKind::Llm).registry(&registry);
        for (name, sim) in [(llm_a, sim(llm_a, 180, 4, 21)), (llm_b, sim(llm_b, 250, 6, 22))] {
            llm = llm
                .stream_provider(settings(name, ms(2_000), ms(30_000)), move |prompt: String| {
                    sim.clone().answer(tokens(&prompt))
                });
        }
        // The role-only chunk is not what the caller waits for: TTFB is the first text.
        let llm = llm
            .usage_with(|t: &Token| t.usage)
            .first_byte_when(|t: &Token| !t.text.is_empty())
            .build()?;

        let mut tts = FallbackChain::builder(ProviderKind::Tts).registry(&registry);
        for (name, sim) in [(tts_a, sim(tts_a, 90, 10, 31)), (tts_b, sim(tts_b, 160, 15, 32))] {
            tts = tts
                .stream_provider(settings(name, ms(1_000), ms(30_000)), move |text: String| {
                    sim.clone().answer(audio(&text))
                });
        }
        let tts = tts.usage_with(|c: &AudioChunk| Usage::characters(c.characters)).build()?;
        Ok(Self { stt, live_stt, llm, tts })
    }

    /// Answers one caller turn: `heard` stands for the caller's speech.
    ///
    /// # Errors
    /// The failing step's [`FallbackError`] when no provider of that kind could answer.
    pub async fn turn(&self, heard: &str) -> Result<TurnReply, FallbackError<SimError>> {
        let mut served = ServedBy::default();

        let mut results = self.stt.stream(heard.to_owned());
        let mut transcript = String::new();
        while let Some(result) = results.next().await {
            let result = result?;
            served.stt = results.serving().unwrap_or_default().to_owned();
            if result.is_final {
                transcript = result.text;
            }
        }
        self.reply(transcript, served).await
    }

    /// Answers one caller turn from its speech (μ-law 8 kHz), transcribed by the live
    /// STT: a primary that fails mid-utterance hands over to the fallback, which hears
    /// the utterance again from the replay window.
    ///
    /// # Errors
    /// The failing step's [`FallbackError`] when no provider of that kind could answer.
    pub async fn turn_audio(&self, speech: &[u8]) -> anyhow::Result<TurnReply> {
        let (feed, audio) = live_audio(8_000, STT_REPLAY)?;
        let mut results = self.live_stt.live(audio, |t: &Transcript| t.is_final);
        // The caller's turn has ended: its audio goes out at once, 20 ms a frame.
        for frame in speech.chunks(160) {
            feed.send(frame.to_vec());
        }
        feed.speech_ended();
        feed.close();
        let mut served = ServedBy::default();
        let mut transcript = String::new();
        while let Some(result) = results.next().await {
            let result = result?;
            served.stt = results.serving().unwrap_or_default().to_owned();
            if result.is_final {
                transcript = result.text;
            }
        }
        Ok(self.reply(transcript, served).await?)
    }

    /// The LLM's reply to `transcript`, synthesised.
    async fn reply(
        &self,
        transcript: String,
        mut served: ServedBy,
    ) -> Result<TurnReply, FallbackError<SimError>> {
        let mut tokens = self.llm.stream(transcript.clone());
        let mut reply = String::new();
        while let Some(token) = tokens.next().await {
            reply.push_str(&token?.text);
            served.llm = tokens.serving().unwrap_or_default().to_owned();
        }

        let mut chunks = self.tts.stream(reply.clone());
        let mut audio_bytes = 0;
        while let Some(chunk) = chunks.next().await {
            audio_bytes += chunk?.bytes.len();
            served.tts = chunks.serving().unwrap_or_default().to_owned();
        }
        Ok(TurnReply { transcript, reply, audio_bytes, served_by: served })
    }
}

/// The live STT chain: each attempt opens a WebSocket to the loopback STT server (started
/// at the first one), which speaks as `sims`.
fn live_stt(
    registry: &ProviderRegistry,
    sims: [(&'static str, Arc<Sim>); 2],
    breaker: &BreakerConfig,
) -> anyhow::Result<FallbackChain<LiveAudio, Transcript, SimError>> {
    let providers: stt_server::Providers = Arc::new(sims.clone());
    let server = Arc::new(tokio::sync::OnceCell::new());
    let mut live = FallbackChain::builder(ProviderKind::Stt).registry(registry);
    for (name, _) in sims {
        let (providers, server) = (Arc::clone(&providers), Arc::clone(&server));
        let settings = settings(name, Duration::from_millis(1_000), Duration::from_millis(10_000))
            .breaker(breaker.clone());
        live = live.stream_provider(settings, move |audio: LiveAudio| {
            let (providers, server) = (Arc::clone(&providers), Arc::clone(&server));
            async move {
                let addr = server
                    .get_or_try_init(|| stt_server::start(providers))
                    .await
                    .map_err(|_| SimError(ErrorClass::Unavailable))?;
                stt_client::transcribe(*addr, name, audio).await
            }
        });
    }
    // An empty interim result (silence) is not what the caller waits for.
    Ok(live
        .usage_with(|t: &Transcript| Usage::audio_seconds(t.audio_seconds))
        .first_byte_when(|t: &Transcript| !t.text.is_empty())
        .build()?)
}

fn transcripts(heard: &str) -> Vec<Transcript> {
    let words: Vec<&str> = heard.split_whitespace().collect();
    let mut results: Vec<Transcript> = (1..words.len())
        .map(|n| Transcript { text: words[..n].join(" "), is_final: false, audio_seconds: 0.0 })
        .collect();
    // About 2.5 words a second of speech.
    let audio_seconds = words.len() as f64 / 2.5;
    results.push(Transcript { text: words.join(" "), is_final: true, audio_seconds });
    results
}

fn tokens(prompt: &str) -> Vec<Token> {
    let reply = if prompt.is_empty() {
        "Sorry, I did not catch that. Could you say it again?".to_owned()
    } else {
        format!("You said: {prompt}. How can I help you with that?")
    };
    let words: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
    let (input, output) = (prompt.split_whitespace().count() as u64 + 40, words.len() as u64);
    let last = words.len().saturating_sub(1);
    // As OpenAI streams it: a first chunk with the role only, then the text.
    let role = Token { text: String::new(), usage: Usage::default() };
    let text = words.into_iter().enumerate().map(|(i, text)| Token {
        text,
        usage: if i == last { Usage::tokens(input, output) } else { Usage::default() },
    });
    std::iter::once(role).chain(text).collect()
}

/// A frame of reply audio; the first one reports the characters synthesised.
#[derive(Clone, Debug)]
struct AudioChunk {
    bytes: Vec<u8>,
    characters: u64,
}

/// 20 ms μ-law frames (160 bytes), about one per 4 characters of text.
fn audio(text: &str) -> Vec<AudioChunk> {
    let characters = text.chars().count();
    (0..characters.div_ceil(4).max(1))
        .map(|i| AudioChunk {
            bytes: vec![0xFF; 160],
            characters: if i == 0 { characters as u64 } else { 0 },
        })
        .collect()
}

/// `POST /calls/{id}/turn` with the caller's words as the body: runs the pipeline inside
/// a `call_turn` span, so each provider span is its child.
pub fn router(calls: CallRegistry, pipeline: Pipeline) -> Router {
    Router::new().route("/calls/{id}/turn", post(turn)).with_state((calls, pipeline))
}

async fn turn(
    State((calls, pipeline)): State<(CallRegistry, Pipeline)>,
    Path(id): Path<String>,
    heard: String,
) -> Result<Json<TurnReply>, (StatusCode, String)> {
    match calls.get(&id) {
        None => return Err((StatusCode::NOT_FOUND, "no such call\n".to_owned())),
        Some(call) if call.state == CallState::Ended => {
            return Err((StatusCode::CONFLICT, "call has ended\n".to_owned()));
        }
        Some(_) => {}
    }
    let span = tracing::info_span!("call_turn", call_id = %id);
    pipeline
        .turn(&heard)
        .instrument(span)
        .await
        .map(Json)
        .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")))
}
