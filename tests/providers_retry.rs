//! Retries on the same provider before a chain falls back: exponential backoff,
//! `Retry-After`, and the retry budget, on tokio's paused clock with exact counts.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use voxscope::provider::{
    BreakerConfig, FallbackChain, FallbackChainBuilder, ProviderKind, ProviderRegistry,
    ProviderSettings, RetryConfig,
};
use voxscope_tests::Exposition;
use voxscope_tests::fake_provider::{Fake, Fault, paused};

const RETRIES: &str = "voice_provider_retries_total";

fn chain(
    retry: RetryConfig,
    primary: &Arc<Fake>,
    secondary: &Arc<Fake>,
) -> FallbackChainBuilder<String, String, StatusCode> {
    let never_open = BreakerConfig::default().consecutive_failures(1_000);
    FallbackChain::builder(ProviderKind::Llm)
        .registry(&ProviderRegistry::new())
        .stream_provider(
            ProviderSettings::new("groq").retry(retry).breaker(never_open),
            primary.provider(),
        )
        .stream_provider(ProviderSettings::new("openai"), secondary.provider())
}

/// The provider that served the request, and how long the caller waited for it.
async fn first(chain: &FallbackChain<String, String, StatusCode>) -> (String, Duration) {
    let started = tokio::time::Instant::now();
    let mut stream = chain.stream("hi".to_owned());
    let item = stream.next().await.unwrap().unwrap();
    let provider = item.split(':').next().unwrap().to_owned();
    while stream.next().await.is_some() {}
    (provider, started.elapsed())
}

fn no_jitter() -> RetryConfig {
    RetryConfig::default()
        .max_retries(2)
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .jitter(0.0)
}

#[test]
fn transient_failures_are_retried_with_exponential_backoff_then_fall_back() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    primary.script([
        Fault::Fail(StatusCode::SERVICE_UNAVAILABLE),
        Fault::Fail(StatusCode::TOO_MANY_REQUESTS),
        Fault::None,
    ]);
    let secondary = Fake::new("openai", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(no_jitter(), &primary, &secondary).build().unwrap();
        // 503, 100 ms, 429, 200 ms, answer.
        assert_eq!(first(&chain).await, ("groq".to_owned(), Duration::from_millis(300)));
        // Three failures: two retries, then the fallback.
        assert_eq!(first(&chain).await, ("openai".to_owned(), Duration::from_millis(300)));
        // A bad request is the caller's: neither retried nor moved on.
        primary.set_default(Fault::Fail(StatusCode::BAD_REQUEST));
        let answer: Vec<_> = chain.stream("hi".to_owned()).collect().await;
        assert!(answer[0].is_err());
    });
    let exposition = Exposition::render(&handle);
    let retries = |reason| {
        exposition.sum(RETRIES, &[("kind", "llm"), ("provider", "groq"), ("reason", reason)])
    };
    assert_eq!(retries("unavailable"), 3.0);
    assert_eq!(retries("rate_limited"), 1.0);
    assert_eq!(exposition.sum(RETRIES, &[]), 4.0);
    assert_eq!(primary.calls(), 7);
    assert_eq!(exposition.sum("voice_provider_fallbacks_total", &[("reason", "unavailable")]), 1.0);
    assert_eq!(
        exposition
            .sum("voice_provider_requests_total", &[("provider", "groq"), ("outcome", "error")]),
        6.0
    );
}

#[test]
fn retry_after_lengthens_the_backoff_and_one_too_long_falls_back_at_once() {
    let primary = Fake::new("groq", Fault::None);
    primary.script([
        Fault::Fail(StatusCode::TOO_MANY_REQUESTS),
        Fault::None,
        Fault::Fail(StatusCode::SERVICE_UNAVAILABLE),
    ]);
    let secondary = Fake::new("openai", Fault::None);
    let handle = paused(|_| async {
        let retry = no_jitter().max_retry_after(Duration::from_secs(5));
        let chain = chain(retry, &primary, &secondary)
            // As a client reads it from the response: 2 s for the quota, 30 s for the outage.
            .retry_after_with(|status: &StatusCode| match *status {
                StatusCode::TOO_MANY_REQUESTS => Some(Duration::from_secs(2)),
                _ => Some(Duration::from_secs(30)),
            })
            .build()
            .unwrap();
        assert_eq!(first(&chain).await, ("groq".to_owned(), Duration::from_secs(2)));
        assert_eq!(first(&chain).await, ("openai".to_owned(), Duration::ZERO));
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(RETRIES, &[("reason", "rate_limited")]), 1.0);
    assert_eq!(exposition.sum(RETRIES, &[]), 1.0);
    assert_eq!(primary.calls(), 3);
}

#[test]
fn the_retry_budget_bounds_retries_during_an_outage() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::BAD_GATEWAY));
    let secondary = Fake::new("openai", Fault::None);
    let handle = paused(|_| async {
        // One retry per two requests, no floor.
        let retry = no_jitter().max_retries(1).budget(Duration::from_secs(10), 0, 0.5);
        let chain = chain(retry, &primary, &secondary).build().unwrap();
        for _ in 0..10 {
            assert_eq!(first(&chain).await.0, "openai");
        }
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(RETRIES, &[("provider", "groq")]), 5.0);
    assert_eq!(primary.calls(), 15);
    assert_eq!(exposition.sum("voice_provider_fallbacks_total", &[("from", "groq")]), 10.0);
}

#[test]
fn jitter_stays_within_its_share_of_the_backoff() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let secondary = Fake::new("openai", Fault::None);
    paused(|_| async {
        let retry = RetryConfig::default()
            .max_retries(1)
            .backoff(Duration::from_millis(400), Duration::from_secs(2))
            .jitter(1.0);
        let chain = chain(retry, &primary, &secondary).build().unwrap();
        let mut waits = Vec::new();
        for _ in 0..20 {
            let (provider, waited) = first(&chain).await;
            assert_eq!(provider, "openai");
            assert!(
                (Duration::from_millis(400)..=Duration::from_millis(801)).contains(&waited),
                "{waited:?}"
            );
            waits.push(waited);
        }
        waits.sort();
        waits.dedup();
        assert!(waits.len() > 10, "jittered, not one delay for all: {waits:?}");
    });
}

#[test]
fn retry_settings_out_of_range_name_the_field() {
    let fake = Fake::new("groq", Fault::None);
    let build = |retry: RetryConfig| {
        chain(retry, &fake, &fake).build().map(|_| ()).unwrap_err().to_string()
    };
    let day_and_more = Duration::from_secs(90_000);
    assert_eq!(
        build(RetryConfig::default().max_retries(0)),
        "groq.retry.max_retries: must be greater than 0"
    );
    assert_eq!(
        build(RetryConfig::default().backoff(Duration::from_secs(2), Duration::from_secs(1))),
        "groq.retry.backoff: min must be at most max (got \"2s..1s, jitter 1\")"
    );
    assert_eq!(
        build(RetryConfig::default().backoff(Duration::from_secs(1), day_and_more)),
        "groq.retry.backoff.max: at most 24 hours (got \"90000s\")"
    );
    assert_eq!(
        build(RetryConfig::default().jitter(f64::NAN)),
        "groq.retry.backoff: jitter must be a share in 0..=1 (got \"100ms..2s, jitter NaN\")"
    );
    assert_eq!(
        build(RetryConfig::default().budget(Duration::from_millis(60_500), 10, 0.2)),
        "groq.retry.budget.ttl: 1 to 60 seconds (got \"60.5s\")"
    );
    assert_eq!(
        build(RetryConfig::default().budget(Duration::from_secs(10), 10, f32::INFINITY)),
        "groq.retry.budget.retry_percent: a share in 0..=10 (got \"inf\")"
    );
}
