//! Fallback chains and circuit breakers against in-process fake providers with injected
//! faults, on tokio's paused clock: stalls and cool-downs take no wall time and no
//! scheduler noise reaches the timing.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use voxscope::MetricsHandle;
use voxscope::provider::{
    BreakerConfig, ErrorClass, FallbackChain, FallbackError, ProviderKind, ProviderRegistry,
    ProviderSettings,
};
use voxscope_tests::Exposition;
use voxscope_tests::fake_provider::{Fake, Fault, paused, paused_with_logs};

fn chain(
    settings: [ProviderSettings; 2],
    fakes: [&Arc<Fake>; 2],
) -> voxscope::provider::FallbackChainBuilder<String, String, StatusCode> {
    let [first, second] = settings;
    FallbackChain::builder(ProviderKind::Llm)
        .registry(&ProviderRegistry::new())
        .stream_provider(first, fakes[0].provider())
        .stream_provider(second, fakes[1].provider())
}

async fn answer(
    chain: &FallbackChain<String, String, StatusCode>,
) -> Vec<Result<String, FallbackError<StatusCode>>> {
    chain.stream("hi".to_owned()).collect().await
}

const FALLBACKS: &str = "voice_provider_fallbacks_total";
const REQUESTS: &str = "voice_provider_requests_total";
const CIRCUIT: &str = "voice_provider_circuit_open";

fn fallbacks(exposition: &Exposition, from: &str, to: &str, reason: &str) -> f64 {
    exposition.sum(FALLBACKS, &[("kind", "llm"), ("from", from), ("to", to), ("reason", reason)])
}

fn requests(exposition: &Exposition, provider: &str, outcome: &str) -> f64 {
    exposition.sum(REQUESTS, &[("provider", provider), ("outcome", outcome)])
}

#[test]
fn fallback_count_equals_injected_primary_failures() {
    let primary = Fake::new("groq", Fault::None);
    let secondary = Fake::new("openai", Fault::None);
    // Every fourth request fails: never three in a row, so the breaker stays closed.
    primary.script((0..20).map(|i| {
        if i % 4 == 0 { Fault::Fail(StatusCode::SERVICE_UNAVAILABLE) } else { Fault::None }
    }));
    let handle = paused(|_| async {
        let chain = chain(
            [
                ProviderSettings::new("groq")
                    .breaker(BreakerConfig::default().consecutive_failures(3)),
                ProviderSettings::new("openai"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        for _ in 0..20 {
            let items = answer(&chain).await;
            assert_eq!(items.len(), 3);
            assert!(items.iter().all(Result::is_ok));
        }
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(fallbacks(&exposition, "groq", "openai", "unavailable"), 5.0);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 5.0);
    assert_eq!(requests(&exposition, "groq", "ok"), 15.0);
    assert_eq!(requests(&exposition, "groq", "error"), 5.0);
    assert_eq!(requests(&exposition, "openai", "ok"), 5.0);
    assert_eq!((primary.calls(), secondary.calls()), (20, 5));
    assert_eq!(exposition.sum(CIRCUIT, &[("provider", "groq")]), 0.0);
    assert_eq!(exposition.sum(CIRCUIT, &[("provider", "openai")]), 0.0);
}

#[test]
fn no_first_byte_within_the_timeout_moves_to_the_fallback() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_secs(10)));
    let secondary = Fake::new("azure", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(
            [
                ProviderSettings::new("elevenlabs").first_byte_timeout(Duration::from_millis(500)),
                ProviderSettings::new("azure"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        let started = tokio::time::Instant::now();
        let items = answer(&chain).await;
        let waited = started.elapsed();
        assert_eq!(
            items.first().and_then(|r| r.as_ref().ok()).map(String::as_str),
            Some("azure:hi:0")
        );
        assert!(
            (Duration::from_millis(500)..Duration::from_millis(600)).contains(&waited),
            "switched after {waited:?}"
        );
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(fallbacks(&exposition, "elevenlabs", "azure", "timeout"), 1.0);
    assert_eq!(requests(&exposition, "elevenlabs", "timeout"), 1.0);
    assert_eq!(
        exposition.sum(
            "voice_provider_errors_total",
            &[("provider", "elevenlabs"), ("error", "timeout")]
        ),
        1.0
    );
    assert_eq!(requests(&exposition, "azure", "ok"), 1.0);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
}

#[test]
fn breaker_opens_after_the_threshold_skips_the_primary_probes_and_closes() {
    let primary = Fake::new("deepgram", Fault::Fail(StatusCode::BAD_GATEWAY));
    let secondary = Fake::new("google", Fault::None);
    let handle = paused(|handle| async move {
        let chain = chain(
            [
                ProviderSettings::new("deepgram").breaker(
                    BreakerConfig::default()
                        .consecutive_failures(3)
                        .cool_down(Duration::from_secs(30)),
                ),
                ProviderSettings::new("google"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        let circuit = |handle: &MetricsHandle| {
            Exposition::render(handle).sum(CIRCUIT, &[("provider", "deepgram")])
        };

        for _ in 0..3 {
            assert!(answer(&chain).await.iter().all(Result::is_ok));
        }
        assert_eq!(primary.calls(), 3);
        assert_eq!(circuit(&handle), 1.0, "open after 3 consecutive failures");

        for _ in 0..5 {
            assert!(answer(&chain).await.iter().all(Result::is_ok));
        }
        assert_eq!(primary.calls(), 3, "open: the primary is not called");

        tokio::time::advance(Duration::from_secs(29)).await;
        answer(&chain).await;
        assert_eq!(primary.calls(), 3, "still cooling down");

        primary.set_default(Fault::None);
        tokio::time::advance(Duration::from_secs(2)).await;
        let probe = answer(&chain).await;
        assert_eq!(primary.calls(), 4, "one probe after the cool-down");
        assert_eq!(probe[0].as_ref().ok().map(String::as_str), Some("deepgram:hi:0"));
        assert_eq!(circuit(&handle), 0.0, "closed by the successful probe");

        answer(&chain).await;
        assert_eq!(primary.calls(), 5, "closed: back on the primary");
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(fallbacks(&exposition, "deepgram", "google", "unavailable"), 3.0);
    assert_eq!(fallbacks(&exposition, "deepgram", "google", "circuit_open"), 6.0);
    assert_eq!(requests(&exposition, "deepgram", "error"), 3.0);
    assert_eq!(requests(&exposition, "deepgram", "ok"), 2.0);
    assert_eq!(requests(&exposition, "google", "ok"), 9.0);
}

#[test]
fn a_failure_ratio_in_the_window_opens_the_breaker() {
    let primary = Fake::new("groq", Fault::None);
    let secondary = Fake::new("openai", Fault::None);
    let fail = Fault::Fail(StatusCode::SERVICE_UNAVAILABLE);
    primary.script([fail, Fault::None, fail, Fault::None]);
    paused(|handle| async move {
        let chain = chain(
            [
                ProviderSettings::new("groq").breaker(
                    BreakerConfig::default().consecutive_failures(100).failure_ratio(
                        0.5,
                        Duration::from_secs(60),
                        4,
                    ),
                ),
                ProviderSettings::new("openai"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        for _ in 0..3 {
            answer(&chain).await;
        }
        let circuit = |handle: &MetricsHandle| {
            Exposition::render(handle).sum(CIRCUIT, &[("provider", "groq")])
        };
        assert_eq!(circuit(&handle), 0.0, "3 requests: below the minimum of 4");
        answer(&chain).await;
        assert_eq!(circuit(&handle), 0.0, "the 4th succeeded: checked on failures only");
        primary.script([fail]);
        answer(&chain).await;
        assert_eq!(circuit(&handle), 1.0, "3 of 5 failed within the window");
        answer(&chain).await;
        assert_eq!(primary.calls(), 5, "open: skipped");
    });
}

#[test]
fn a_failed_probe_opens_the_breaker_again() {
    let primary = Fake::new("deepgram", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let secondary = Fake::new("google", Fault::None);
    paused(|handle| async move {
        let chain = chain(
            [
                ProviderSettings::new("deepgram").breaker(
                    BreakerConfig::default()
                        .consecutive_failures(2)
                        .cool_down(Duration::from_secs(10)),
                ),
                ProviderSettings::new("google"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        for _ in 0..2 {
            answer(&chain).await;
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        answer(&chain).await;
        assert_eq!(primary.calls(), 3, "the probe went to the primary and failed");
        answer(&chain).await;
        assert_eq!(primary.calls(), 3, "open again: skipped");
        let exposition = Exposition::render(&handle);
        assert_eq!(exposition.sum(CIRCUIT, &[("provider", "deepgram")]), 1.0);
    });
}

#[test]
fn a_probe_dropped_by_the_caller_lets_the_next_request_probe() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let secondary = Fake::new("openai", Fault::None);
    paused(|handle| async move {
        let chain = chain(
            [
                ProviderSettings::new("groq").breaker(
                    BreakerConfig::default()
                        .consecutive_failures(1)
                        .cool_down(Duration::from_secs(5)),
                ),
                ProviderSettings::new("openai"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        answer(&chain).await;
        tokio::time::advance(Duration::from_secs(6)).await;
        primary.set_default(Fault::Stall(Duration::from_secs(60)));
        let mut probe = chain.stream("hi".to_owned());
        let polled = tokio::time::timeout(Duration::from_secs(1), probe.next()).await;
        assert!(polled.is_err(), "the probe is stalling");
        assert_eq!(probe.serving(), Some("groq"));
        drop(probe);
        primary.set_default(Fault::None);
        let items = answer(&chain).await;
        assert_eq!(items[0].as_ref().ok().map(String::as_str), Some("groq:hi:0"));
        assert_eq!(primary.calls(), 3);
        let exposition = Exposition::render(&handle);
        assert_eq!(requests(&exposition, "groq", "cancelled"), 1.0);
        assert_eq!(exposition.sum(CIRCUIT, &[("provider", "groq")]), 0.0);
        assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
    });
}

#[test]
fn a_stream_that_fails_after_its_first_item_is_not_retried_by_default() {
    let primary = Fake::new("elevenlabs", Fault::FailAfter(2, StatusCode::BAD_GATEWAY));
    let secondary = Fake::new("azure", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(
            [ProviderSettings::new("elevenlabs"), ProviderSettings::new("azure")],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        let items = answer(&chain).await;
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        let error = items[2].as_ref().err().map(FallbackError::class);
        assert_eq!(error, Some(ErrorClass::Unavailable));
        assert_eq!(secondary.calls(), 0, "no second voice mid-sentence");
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 0.0);
    assert_eq!(requests(&exposition, "elevenlabs", "error"), 1.0);
}

#[test]
fn retry_after_first_item_can_be_enabled() {
    let primary = Fake::new("elevenlabs", Fault::FailAfter(2, StatusCode::BAD_GATEWAY));
    let secondary = Fake::new("azure", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(
            [ProviderSettings::new("elevenlabs"), ProviderSettings::new("azure")],
            [&primary, &secondary],
        )
        .retry_after_first_item(true)
        .build()
        .unwrap();
        let items: Vec<String> = answer(&chain).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            items,
            ["elevenlabs:hi:0", "elevenlabs:hi:1", "azure:hi:0", "azure:hi:1", "azure:hi:2"]
        );
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(fallbacks(&exposition, "elevenlabs", "azure", "unavailable"), 1.0);
}

#[test]
fn bad_requests_neither_fall_back_nor_trip_the_breaker() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::UNPROCESSABLE_ENTITY));
    let secondary = Fake::new("openai", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(
            [
                ProviderSettings::new("groq")
                    .breaker(BreakerConfig::default().consecutive_failures(2)),
                ProviderSettings::new("openai"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        for _ in 0..5 {
            let items = answer(&chain).await;
            assert_eq!(items.len(), 1);
            assert_eq!(
                items[0].as_ref().err().map(FallbackError::class),
                Some(ErrorClass::BadRequest)
            );
        }
        assert_eq!((primary.calls(), secondary.calls()), (5, 0));
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(CIRCUIT, &[("provider", "groq")]), 0.0);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 0.0);
}

#[test]
fn the_total_timeout_ends_a_stalled_stream_as_timeout() {
    let primary = Fake::new("elevenlabs", Fault::StallAfter(1, Duration::from_secs(30)));
    let secondary = Fake::new("azure", Fault::None);
    let handle = paused(|_| async {
        let chain = chain(
            [
                ProviderSettings::new("elevenlabs").timeout(Duration::from_secs(2)),
                ProviderSettings::new("azure"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        let items = answer(&chain).await;
        assert_eq!(items.len(), 2);
        assert!(matches!(items[1], Err(FallbackError::Timeout { .. })), "{:?}", items[1]);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(requests(&exposition, "elevenlabs", "timeout"), 1.0);
    assert_eq!(exposition.sum(FALLBACKS, &[]), 0.0);
}

#[test]
fn every_provider_failing_returns_the_last_error() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::TOO_MANY_REQUESTS));
    let secondary = Fake::new("openai", Fault::Fail(StatusCode::UNAUTHORIZED));
    let handle = paused(|_| async {
        let chain = chain(
            [ProviderSettings::new("groq"), ProviderSettings::new("openai")],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        let items = answer(&chain).await;
        assert_eq!(items.len(), 1);
        let error = items[0].as_ref().err();
        assert_eq!(error.and_then(FallbackError::provider), Some("openai"));
        assert_eq!(error.map(FallbackError::class), Some(ErrorClass::Auth));
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(fallbacks(&exposition, "groq", "openai", "rate_limited"), 1.0);
}

#[test]
fn unary_providers_answer_through_call() {
    paused(|handle| async move {
        let chain = FallbackChain::builder(ProviderKind::Stt)
            .provider(ProviderSettings::new("azure_stt"), |_: Vec<u8>| async {
                Err::<String, _>(StatusCode::INTERNAL_SERVER_ERROR)
            })
            .provider(ProviderSettings::new("deepgram"), |audio: Vec<u8>| async move {
                Ok::<_, StatusCode>(format!("{} bytes heard", audio.len()))
            })
            .build()
            .unwrap();
        assert_eq!(chain.call(vec![0; 320]).await.unwrap(), "320 bytes heard");
        let exposition = Exposition::render(&handle);
        assert_eq!(requests(&exposition, "deepgram", "ok"), 1.0);
        assert_eq!(exposition.sum(FALLBACKS, &[("kind", "stt"), ("reason", "unavailable")]), 1.0);
    });
}

#[test]
fn bad_chain_settings_name_the_field() {
    let fake = Fake::new("a", Fault::None);
    let build = |settings: [ProviderSettings; 2]| {
        chain(settings, [&fake, &fake]).build().map(|_| ()).unwrap_err().to_string()
    };
    assert_eq!(
        build([ProviderSettings::new("groq"), ProviderSettings::new("groq")]),
        "providers[1]: a name not used by an earlier provider of the chain (got \"groq\")"
    );
    assert_eq!(
        build([
            ProviderSettings::new("groq").first_byte_timeout(Duration::ZERO),
            ProviderSettings::new("openai")
        ]),
        "groq.first_byte_timeout: must be greater than 0"
    );
    assert_eq!(
        build([
            ProviderSettings::new("groq")
                .first_byte_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(1)),
            ProviderSettings::new("openai")
        ]),
        "groq.first_byte_timeout: at most the total timeout (got \"5s\")"
    );
    assert_eq!(
        build([
            ProviderSettings::new("groq").breaker(BreakerConfig::default().failure_ratio(
                1.5,
                Duration::from_secs(60),
                10
            )),
            ProviderSettings::new("openai")
        ]),
        "groq.breaker.failure_ratio: a share in 0 < ratio <= 1 (got \"1.5\")"
    );
}

#[test]
fn switches_and_breaker_transitions_are_logged_once_each() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let secondary = Fake::new("openai", Fault::None);
    let (_, text) = paused_with_logs(|_| async {
        let chain = chain(
            [
                ProviderSettings::new("groq").breaker(
                    BreakerConfig::default()
                        .consecutive_failures(2)
                        .cool_down(Duration::from_secs(10)),
                ),
                ProviderSettings::new("openai"),
            ],
            [&primary, &secondary],
        )
        .build()
        .unwrap();
        for _ in 0..4 {
            answer(&chain).await;
        }
        primary.set_default(Fault::None);
        tokio::time::advance(Duration::from_secs(11)).await;
        answer(&chain).await;
    });
    let count = |needle: &str| text.matches(needle).count();
    assert_eq!(count("[LLM fallback] groq -> openai reason=unavailable trace="), 2, "{text}");
    assert_eq!(count("reason=circuit_open"), 0, "debug only: {text}");
    assert_eq!(count("circuit opened for llm groq: 2 consecutive failures"), 1, "{text}");
    assert_eq!(count("circuit half-open for llm groq"), 1, "{text}");
    assert_eq!(count("circuit closed for llm groq"), 1, "{text}");
}
