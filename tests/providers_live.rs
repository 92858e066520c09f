//! Live STT through a fallback chain: the caller's audio is fed as it is spoken, the
//! primary fails mid-utterance, and the fallback hears the replay window, then the live
//! rest. On tokio's paused clock, with exact bytes and exact values read back from the
//! Prometheus exposition.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::{FutureExt as _, Stream, StreamExt, stream};
use voxscope::ConfigError;
use voxscope::provider::{
    FallbackChain, LiveAudio, ProviderKind, ProviderRegistry, ProviderSettings, live_audio,
};
use voxscope_tests::Exposition;
use voxscope_tests::fake_provider::{paused, paused_with_logs};

/// μ-law 8 kHz: 8000 bytes a second, 160 bytes a 20 ms frame.
const RATE: u32 = 8_000;
const FRAME: usize = 160;
/// A 3 s utterance.
const FRAMES: usize = 150;
/// What the fallback takes after the end of the audio to send its final transcript.
const FINAL_AFTER: Duration = Duration::from_millis(400);

#[derive(Clone, Debug, PartialEq)]
struct Transcript {
    text: String,
    is_final: bool,
}

type Results = std::pin::Pin<Box<dyn Stream<Item = Result<Transcript, StatusCode>> + Send>>;

/// How a fake STT fails.
#[derive(Clone, Copy)]
enum Fail {
    Never,
    /// Once it heard this many bytes.
    AfterBytes(usize),
    /// This long after the end of the audio, instead of its final transcript.
    AtEnd(Duration),
}

/// A streaming STT that records the audio it hears; it sends an interim result after
/// 0.5 s of audio, then, unless it fails, its final transcript [`FINAL_AFTER`] the end
/// of the audio.
fn provider(
    name: &'static str,
    heard: Arc<Mutex<Vec<u8>>>,
    fail: Fail,
) -> impl Fn(LiveAudio) -> std::future::Ready<Result<Results, StatusCode>> + Send + Sync + 'static {
    move |audio: LiveAudio| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let heard = Arc::clone(&heard);
        tokio::spawn(async move {
            let mut audio = audio.stream();
            let mut bytes = 0;
            while let Some(chunk) = audio.next().await {
                heard.lock().unwrap().extend_from_slice(&chunk);
                let before = bytes;
                bytes += chunk.len();
                if before < 4_000 && bytes >= 4_000 {
                    let interim = Transcript { text: format!("{name}: I need"), is_final: false };
                    let _ = tx.send(Ok(interim));
                }
                if matches!(fail, Fail::AfterBytes(limit) if bytes >= limit) {
                    let _ = tx.send(Err(StatusCode::SERVICE_UNAVAILABLE));
                    return;
                }
            }
            if let Fail::AtEnd(after) = fail {
                tokio::time::sleep(after).await;
                let _ = tx.send(Err(StatusCode::REQUEST_TIMEOUT));
                return;
            }
            tokio::time::sleep(FINAL_AFTER).await;
            let text = format!("{name}: I need help ({bytes} bytes)");
            let _ = tx.send(Ok(Transcript { text, is_final: true }));
        });
        let results = stream::poll_fn(move |cx| rx.poll_recv(cx));
        std::future::ready(Ok(Box::pin(results) as Results))
    }
}

/// Frame `i` of the utterance: 160 bytes of the value `i`, so every byte tells where it
/// came from.
fn frame(i: usize) -> Vec<u8> {
    vec![i as u8; FRAME]
}

fn value(exposition: &Exposition, name: &str, wanted: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = exposition.find(name, wanted).map(|s| s.value).collect();
    assert_eq!(found.len(), 1, "one series {name} {wanted:?} in\n{}", exposition.text);
    found[0]
}

#[test]
fn a_primary_failing_mid_utterance_hands_the_replay_then_the_live_rest_to_the_fallback() {
    let deepgram_heard = Arc::new(Mutex::new(Vec::new()));
    let google_heard = Arc::new(Mutex::new(Vec::new()));
    let (primary, fallback) = (Arc::clone(&deepgram_heard), Arc::clone(&google_heard));
    let (handle, logs) = paused_with_logs(|_| async move {
        let stt = FallbackChain::builder(ProviderKind::Stt)
            .registry(&ProviderRegistry::new())
            // Fails after 1.5 s of the 3 s utterance, after its first interim result.
            .stream_provider(
                ProviderSettings::new("deepgram"),
                provider("deepgram", primary, Fail::AfterBytes(12_000)),
            )
            .stream_provider(
                ProviderSettings::new("google"),
                provider("google", fallback, Fail::Never),
            )
            .first_byte_when(|t: &Transcript| !t.text.is_empty())
            .build()
            .unwrap();
        // The last second is replayed.
        let (feed, audio) = live_audio(RATE, Duration::from_secs(1)).unwrap();
        let mut transcripts = stt.live(audio, |t: &Transcript| t.is_final);
        let caller = tokio::spawn(async move {
            for i in 0..FRAMES {
                feed.send(frame(i));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            feed.speech_ended();
            feed.close();
            tokio::time::Instant::now()
        });
        let mut seen = Vec::new();
        while let Some(result) = transcripts.next().await {
            let transcript = result.expect("the fallback answers");
            seen.push((transcripts.serving().unwrap().to_owned(), transcript));
        }
        let speech_end = caller.await.unwrap();
        let interim = |name: &str| Transcript { text: format!("{name}: I need"), is_final: false };
        // 0.5 s of replay (frames 25..75) then the live rest (75..150) is 1 s + 1.5 s.
        let final_text = format!("google: I need help ({} bytes)", 125 * FRAME);
        assert_eq!(
            seen,
            [
                ("deepgram".to_owned(), interim("deepgram")),
                ("google".to_owned(), interim("google")),
                ("google".to_owned(), Transcript { text: final_text, is_final: true }),
            ]
        );
        assert_eq!(speech_end.elapsed(), FINAL_AFTER);
    });
    // The primary heard 1.5 s; the fallback exactly the last second of it, then the rest.
    let expected: Vec<u8> = (0..75).flat_map(frame).collect();
    assert_eq!(*deepgram_heard.lock().unwrap(), expected);
    let expected: Vec<u8> = (25..FRAMES).flat_map(frame).collect();
    assert_eq!(google_heard.lock().unwrap().len(), expected.len());
    assert_eq!(*google_heard.lock().unwrap(), expected);

    // Each provider request's line: TTFB only for the one that delivered a final.
    assert!(logs.contains("[STT deepgram] trace=- TTFB=- "), "{logs}");
    assert!(logs.contains("[STT google] trace=- TTFB=400ms "), "{logs}");
    assert!(logs.contains("[STT fallback] deepgram -> google reason=unavailable"), "{logs}");
    let exposition = Exposition::render(&handle);
    let stt = |provider| [("kind", "stt"), ("provider", provider)];
    let fallback = [("from", "deepgram"), ("to", "google"), ("reason", "unavailable")];
    assert_eq!(value(&exposition, "voice_provider_fallbacks_total", &fallback), 1.0);
    // TTFB runs from the end of speech to the final transcript: exactly the delay.
    let ttfb = "voice_provider_ttfb_seconds";
    assert_eq!(exposition.count(ttfb, &stt("deepgram")), 0, "an interim result is no TTFB");
    assert_eq!(exposition.count(ttfb, &stt("google")), 1);
    assert_eq!(value(&exposition, "voice_provider_ttfb_seconds_sum", &stt("google")), 0.4);
    let chain = [("kind", "stt")];
    assert_eq!(exposition.count("voice_provider_chain_ttfb_seconds", &chain), 1);
    assert_eq!(value(&exposition, "voice_provider_chain_ttfb_seconds_sum", &chain), 0.4);
    let requests = "voice_provider_requests_total";
    let outcome = |provider, outcome| [("provider", provider), ("outcome", outcome)];
    assert_eq!(value(&exposition, requests, &outcome("deepgram", "error")), 1.0);
    assert_eq!(value(&exposition, requests, &outcome("google", "ok")), 1.0);
}

#[test]
fn ttfb_from_the_end_of_speech_includes_a_failover_after_it() {
    let google_heard = Arc::new(Mutex::new(Vec::new()));
    let fallback = Arc::clone(&google_heard);
    let handle = paused(|_| async move {
        let primary = Arc::new(Mutex::new(Vec::new()));
        // deepgram fails 100 ms after the end of the audio instead of its final result.
        let stt = FallbackChain::builder(ProviderKind::Stt)
            .registry(&ProviderRegistry::new())
            .stream_provider(
                ProviderSettings::new("deepgram"),
                provider("deepgram", primary, Fail::AtEnd(Duration::from_millis(100))),
            )
            .stream_provider(
                ProviderSettings::new("google"),
                provider("google", fallback, Fail::Never),
            )
            .build()
            .unwrap();
        let (feed, audio) = live_audio(RATE, Duration::from_secs(1)).unwrap();
        let mut transcripts = stt.live(audio, |t: &Transcript| t.is_final);
        tokio::spawn(async move {
            for i in 0..FRAMES {
                feed.send(frame(i));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            feed.speech_ended();
            feed.close();
        });
        let mut finals = 0;
        while let Some(result) = transcripts.next().await {
            finals += usize::from(result.expect("the fallback answers").is_final);
        }
        assert_eq!(finals, 1);
    });
    // The fallback heard the last second again, nothing live.
    let expected: Vec<u8> = (100..FRAMES).flat_map(frame).collect();
    assert_eq!(*google_heard.lock().unwrap(), expected);
    let exposition = Exposition::render(&handle);
    // 100 ms lost to the failing primary, then the fallback's 400 ms.
    let google = [("kind", "stt"), ("provider", "google")];
    assert_eq!(value(&exposition, "voice_provider_ttfb_seconds_sum", &google), 0.4 + 0.1);
    let chain = [("kind", "stt")];
    assert_eq!(value(&exposition, "voice_provider_chain_ttfb_seconds_sum", &chain), 0.4 + 0.1);
    let fallback = [("from", "deepgram"), ("to", "google"), ("reason", "timeout")];
    assert_eq!(value(&exposition, "voice_provider_fallbacks_total", &fallback), 1.0);
}

#[tokio::test(start_paused = true)]
async fn the_replay_window_holds_the_last_seconds_and_nothing_already_final() {
    let (feed, audio) = live_audio(RATE, Duration::from_millis(500)).unwrap();
    // Ten seconds of audio in frames: the window keeps the last 0.5 s, 4000 bytes.
    for i in 0..500 {
        feed.send(frame(i));
    }
    let replayed = |audio: &LiveAudio| {
        let mut opened = audio.stream();
        let mut bytes = Vec::new();
        while let Some(Some(chunk)) = opened.next().now_or_never() {
            bytes.extend_from_slice(&chunk);
        }
        bytes
    };
    let expected: Vec<u8> = (475..500).flat_map(frame).collect();
    assert_eq!(replayed(&audio), expected);
    // A chunk larger than the window keeps its last 0.5 s.
    feed.send((0..10_000_u32).map(|b| b as u8).collect::<Vec<u8>>());
    let expected: Vec<u8> = (6_000..10_000_u32).map(|b| b as u8).collect();
    assert_eq!(replayed(&audio), expected);
    // A final transcript covers what was fed: nothing is replayed, the next audio is.
    audio.transcribed();
    assert_eq!(replayed(&audio), Vec::<u8>::new());
    feed.send(frame(7));
    assert_eq!(replayed(&audio), frame(7));
    // Closed, a provider's stream ends after the window.
    feed.close();
    let all: Vec<_> = audio.stream().collect().await;
    assert_eq!(all.concat(), frame(7));
}

#[test]
fn a_window_that_is_zero_or_unbounded_is_refused() {
    assert!(matches!(live_audio(0, Duration::from_secs(1)), Err(ConfigError::Zero { .. })));
    assert!(matches!(live_audio(RATE, Duration::ZERO), Err(ConfigError::Zero { .. })));
    let too_long = live_audio(RATE, Duration::from_secs(61)).unwrap_err();
    assert_eq!(too_long.to_string(), "replay: at most 60 s (got \"61s\")");
}
