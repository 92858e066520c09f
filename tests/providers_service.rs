//! A fallback chain as a tower `Service`: `tower::timeout` bounds the time to its first
//! useful item, load shedding rejects requests while no provider can take one, and
//! `poll_ready` wakes when a place frees or a cool-down ends. On tokio's paused clock.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use voxscope::provider::{
    BreakerConfig, FallbackChain, ProviderKind, ProviderRegistry, ProviderSettings,
};
use voxscope_tests::Exposition;
use voxscope_tests::fake_provider::paused;

type Answer = Pin<Box<dyn Future<Output = io::Result<String>> + Send>>;

/// A provider that answers `fast` at once, `stall` after 5 s, and refuses `fail`.
fn sim(name: &'static str, calls: &Arc<AtomicUsize>) -> impl Fn(String) -> Answer + use<> {
    let calls = Arc::clone(calls);
    move |request: String| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match request.as_str() {
                "stall" => tokio::time::sleep(Duration::from_secs(5)).await,
                "fail" => return Err(io::ErrorKind::ConnectionRefused.into()),
                _ => {}
            }
            Ok(format!("{name}:{request}"))
        })
    }
}

/// Polls `stream` once, so that its request takes its provider's place.
async fn start(stream: &mut (impl futures_util::Stream + Unpin)) {
    let polled = tokio::time::timeout(Duration::from_millis(1), stream.next()).await;
    assert!(polled.is_err(), "still waiting for the provider");
}

#[test]
fn timeout_and_load_shed_compose_around_a_chain() {
    let calls = Arc::new(AtomicUsize::new(0));
    let handle = paused(|_| async {
        let chain = FallbackChain::builder(ProviderKind::Llm)
            .registry(&ProviderRegistry::new())
            .provider(ProviderSettings::new("groq").concurrency_limit(1), sim("groq", &calls))
            .provider(ProviderSettings::new("openai").concurrency_limit(1), sim("openai", &calls))
            .build()
            .unwrap();
        let mut service = ServiceBuilder::new()
            .load_shed()
            .timeout(Duration::from_secs(1))
            .service(chain.clone());

        let answer = service.ready().await.unwrap().call("fast".to_owned()).await.unwrap();
        let items: Vec<String> = answer.map(Result::unwrap).collect().await;
        assert_eq!(items, ["groq:fast"]);

        let started = tokio::time::Instant::now();
        let error = service.ready().await.unwrap().call("stall".to_owned()).await.unwrap_err();
        assert!(error.is::<tower::timeout::error::Elapsed>(), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(1));

        // Both providers at their limit: shed at once, no provider asked.
        let (mut first, mut second) = (chain.stream("stall".into()), chain.stream("stall".into()));
        start(&mut first).await;
        start(&mut second).await;
        let asked = calls.load(Ordering::SeqCst);
        let error: BoxError =
            service.ready().await.unwrap().call("fast".to_owned()).await.unwrap_err();
        assert!(error.is::<tower::load_shed::error::Overloaded>(), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), asked);

        drop(first);
        let answer = service.ready().await.unwrap().call("fast".to_owned()).await.unwrap();
        assert_eq!(answer.map(Result::unwrap).collect::<Vec<_>>().await, ["groq:fast"]);
        drop(second);
    });
    let exposition = Exposition::render(&handle);
    let requests = |provider, outcome| {
        exposition
            .sum("voice_provider_requests_total", &[("provider", provider), ("outcome", outcome)])
    };
    assert_eq!(requests("groq", "ok"), 2.0);
    // The timed-out request and the one dropped while stalling.
    assert_eq!(requests("groq", "cancelled"), 2.0);
    assert_eq!(requests("openai", "cancelled"), 1.0);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
}

#[test]
fn poll_ready_waits_for_a_free_place_or_the_end_of_a_cool_down() {
    let calls = Arc::new(AtomicUsize::new(0));
    paused(|_| async {
        let breaker =
            BreakerConfig::default().consecutive_failures(1).cool_down(Duration::from_secs(5));
        let mut chain = FallbackChain::builder(ProviderKind::Stt)
            .registry(&ProviderRegistry::new())
            .provider(
                ProviderSettings::new("deepgram").concurrency_limit(1).breaker(breaker),
                sim("deepgram", &calls),
            )
            .build()
            .unwrap();
        let wait = Duration::from_secs(1);

        let mut busy = chain.stream("stall".into());
        start(&mut busy).await;
        assert!(tokio::time::timeout(wait, chain.ready()).await.is_err(), "no free place");
        let freed = tokio::time::Instant::now();
        drop(busy);
        tokio::time::timeout(wait, chain.ready()).await.unwrap().unwrap();
        assert_eq!(freed.elapsed(), Duration::ZERO, "woken as the place freed");

        assert!(chain.call("fail".to_owned()).await.is_err());
        let opened = tokio::time::Instant::now();
        assert!(tokio::time::timeout(Duration::from_secs(4), chain.ready()).await.is_err());
        tokio::time::timeout(Duration::from_secs(2), chain.ready()).await.unwrap().unwrap();
        let waited = opened.elapsed();
        assert!(
            (Duration::from_secs(5)..Duration::from_millis(5_010)).contains(&waited),
            "ready when the cool-down ended: {waited:?}"
        );
        let answer = Service::call(&mut chain, "fast".to_owned()).await.unwrap();
        assert_eq!(answer.map(Result::unwrap).collect::<Vec<_>>().await, ["deepgram:fast"]);
    });
}
