//! Hedged requests: a provider slow to send its first useful item is raced by the next
//! one; the first useful item wins and the loser is cancelled. On tokio's paused clock,
//! with exact timings and counts.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use voxscope::provider::{FallbackChain, ProviderKind, ProviderRegistry, ProviderSettings};
use voxscope_tests::Exposition;
use voxscope_tests::fake_provider::{Fake, Fault, paused};

const FALLBACKS: &str = "voice_provider_fallbacks_total";

fn hedged(
    primary: (ProviderSettings, &Arc<Fake>),
    secondary: &Arc<Fake>,
) -> FallbackChain<String, String, StatusCode> {
    FallbackChain::builder(ProviderKind::Tts)
        .registry(&ProviderRegistry::new())
        .stream_provider(primary.0, primary.1.provider())
        .stream_provider(ProviderSettings::new("azure"), secondary.provider())
        .hedge_after(Duration::from_millis(300))
        .build()
        .unwrap()
}

/// Every item of the answer, and how long the caller waited for the first.
async fn answer(chain: &FallbackChain<String, String, StatusCode>) -> (Vec<String>, Duration) {
    let started = tokio::time::Instant::now();
    let mut stream = chain.stream("hi".to_owned());
    let first = stream.next().await.unwrap().unwrap();
    let waited = started.elapsed();
    let mut items = vec![first];
    items.extend(stream.map(Result::unwrap).collect::<Vec<_>>().await);
    (items, waited)
}

fn requests(exposition: &Exposition, provider: &str, outcome: &str) -> f64 {
    exposition.sum("voice_provider_requests_total", &[("provider", provider), ("outcome", outcome)])
}

fn hedges(exposition: &Exposition) -> f64 {
    exposition.sum(FALLBACKS, &[("from", "elevenlabs"), ("to", "azure"), ("reason", "hedged")])
}

#[test]
fn the_hedge_answering_first_serves_the_caller_and_the_primary_is_cancelled() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_secs(2)));
    let secondary = Fake::new("azure", Fault::Stall(Duration::from_millis(100)));
    let handle = paused(|_| async {
        let chain = hedged((ProviderSettings::new("elevenlabs"), &primary), &secondary);
        let (items, waited) = answer(&chain).await;
        assert_eq!(items, ["azure:hi:0", "azure:hi:1", "azure:hi:2"]);
        assert_eq!(waited, Duration::from_millis(400), "hedged at 300 ms, answered 100 ms later");
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(hedges(&exposition), 1.0);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 1.0);
    assert_eq!(requests(&exposition, "elevenlabs", "cancelled"), 1.0);
    assert_eq!(requests(&exposition, "azure", "ok"), 1.0);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
    // Losing a race is no failure: the primary's breaker is untouched.
    assert_eq!(exposition.sum("voice_provider_circuit_open", &[("provider", "elevenlabs")]), 0.0);
}

#[test]
fn the_primary_answering_first_keeps_the_caller_and_the_hedge_is_cancelled() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_millis(500)));
    let secondary = Fake::new("azure", Fault::Stall(Duration::from_secs(1)));
    let handle = paused(|_| async {
        let chain = hedged((ProviderSettings::new("elevenlabs"), &primary), &secondary);
        let (items, waited) = answer(&chain).await;
        assert_eq!(items[0], "elevenlabs:hi:0");
        assert_eq!(waited, Duration::from_millis(500));
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(hedges(&exposition), 1.0);
    assert_eq!(requests(&exposition, "elevenlabs", "ok"), 1.0);
    assert_eq!(requests(&exposition, "azure", "cancelled"), 1.0);
    assert_eq!(secondary.calls(), 1);
}

#[test]
fn a_primary_answering_before_hedge_after_sends_no_hedge() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_millis(200)));
    let secondary = Fake::new("azure", Fault::None);
    let handle = paused(|_| async {
        let chain = hedged((ProviderSettings::new("elevenlabs"), &primary), &secondary);
        for _ in 0..3 {
            assert_eq!(answer(&chain).await.1, Duration::from_millis(200));
        }
    });
    let exposition = Exposition::render(&handle);
    let series: Vec<f64> = exposition
        .find(FALLBACKS, &[("from", "elevenlabs"), ("reason", "hedged")])
        .map(|s| s.value)
        .collect();
    assert_eq!(series, [0.0], "the hedge series exists from the build, at 0");
    assert_eq!(secondary.calls(), 0);
}

#[test]
fn a_failing_hedge_leaves_the_primary_on_and_a_failing_primary_hands_over_to_the_hedge() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_secs(1)));
    primary.script([Fault::Stall(Duration::from_secs(1)), Fault::Stall(Duration::from_secs(2))]);
    let secondary = Fake::new("azure", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    secondary.script([
        Fault::Fail(StatusCode::SERVICE_UNAVAILABLE),
        Fault::Stall(Duration::from_millis(400)),
    ]);
    let handle = paused(|_| async {
        let settings =
            ProviderSettings::new("elevenlabs").first_byte_timeout(Duration::from_millis(500));
        let patient = hedged((ProviderSettings::new("elevenlabs"), &primary), &secondary);
        // The hedge fails at once: the primary goes on and answers at 1 s.
        let (items, waited) = answer(&patient).await;
        assert_eq!((items[0].as_str(), waited), ("elevenlabs:hi:0", Duration::from_secs(1)));
        // The primary times out at 500 ms while the hedge (sent at 300 ms) is still on:
        // the hedge takes over and answers at 700 ms.
        let impatient = hedged((settings, &primary), &secondary);
        let (items, waited) = answer(&impatient).await;
        assert_eq!((items[0].as_str(), waited), ("azure:hi:0", Duration::from_millis(700)));
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(hedges(&exposition), 2.0);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 2.0, "hedges only: no switch counted twice");
    assert_eq!(requests(&exposition, "azure", "error"), 1.0);
    assert_eq!(requests(&exposition, "azure", "ok"), 1.0);
    assert_eq!(requests(&exposition, "elevenlabs", "ok"), 1.0);
    assert_eq!(requests(&exposition, "elevenlabs", "timeout"), 1.0);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
}
