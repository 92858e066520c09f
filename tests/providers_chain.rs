//! Fallback chains that never count a failure as a success: empty answers, probes that
//! hang, durations that would overflow, providers shared by two chains, concurrency
//! limits, first useful bytes and what the caller waited. On tokio's paused clock, with
//! exact values read back from the Prometheus exposition.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::StreamExt;
use voxscope::provider::{
    BreakerConfig, ErrorClass, FallbackChain, FallbackChainBuilder, FallbackError, ProviderKind,
    ProviderRegistry, ProviderSettings,
};
use voxscope_tests::fake_provider::{Fake, Fault, paused, paused_with_logs};
use voxscope_tests::{Exposition, with_local_prometheus};

type Chain = FallbackChain<String, String, StatusCode>;

fn two(
    registry: &ProviderRegistry,
    first: (ProviderSettings, &Arc<Fake>),
    second: (ProviderSettings, &Arc<Fake>),
) -> FallbackChainBuilder<String, String, StatusCode> {
    FallbackChain::builder(ProviderKind::Llm)
        .registry(registry)
        .stream_provider(first.0, first.1.provider())
        .stream_provider(second.0, second.1.provider())
}

async fn answer(chain: &Chain) -> Vec<Result<String, FallbackError<StatusCode>>> {
    chain.stream("hi".to_owned()).collect().await
}

fn served(items: &[Result<String, FallbackError<StatusCode>>]) -> Vec<&str> {
    items.iter().map(|item| item.as_ref().map(String::as_str).unwrap_or("error")).collect()
}

const FALLBACKS: &str = "voice_provider_fallbacks_total";
const CIRCUIT: &str = "voice_provider_circuit_open";

/// Equal up to the paused clock's millisecond timer ticks.
fn near(got: f64, want: f64) -> bool {
    (got - want).abs() < 0.003
}

fn value(exposition: &Exposition, name: &str, wanted: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = exposition.find(name, wanted).map(|s| s.value).collect();
    assert_eq!(found.len(), 1, "one series {name} {wanted:?} in\n{}", exposition.text);
    found[0]
}

#[test]
fn an_empty_stream_is_an_error_of_its_own_class_that_falls_back() {
    let primary = Fake::new("groq", Fault::Empty);
    let secondary = Fake::new("openai", Fault::None);
    let handle = paused(|_| async {
        let registry = ProviderRegistry::new();
        let breaker = BreakerConfig::default().consecutive_failures(2);
        let chain = two(
            &registry,
            (ProviderSettings::new("groq").breaker(breaker), &primary),
            (ProviderSettings::new("openai"), &secondary),
        )
        .build()
        .unwrap();
        for _ in 0..3 {
            assert_eq!(
                served(&answer(&chain).await),
                ["openai:hi:0", "openai:hi:1", "openai:hi:2"]
            );
        }
    });
    let exposition = Exposition::render(&handle);
    let groq = [("provider", "groq")];
    assert_eq!(
        value(&exposition, FALLBACKS, &[("from", "groq"), ("to", "openai"), ("reason", "empty")]),
        2.0
    );
    assert_eq!(
        value(&exposition, "voice_provider_errors_total", &[groq[0], ("error", "empty")]),
        2.0
    );
    assert_eq!(
        value(&exposition, "voice_provider_requests_total", &[groq[0], ("outcome", "error")]),
        2.0
    );
    assert_eq!(
        value(&exposition, "voice_provider_requests_total", &[groq[0], ("outcome", "ok")]),
        0.0
    );
    // Two empty answers are two failures: the breaker opened and the third skipped groq.
    assert_eq!(value(&exposition, CIRCUIT, &groq), 1.0);
    assert_eq!(primary.calls(), 2);
    // One chain request per turn, whatever its failovers: the fallback share's denominator.
    assert_eq!(exposition.count("voice_provider_chain_duration_seconds", &[("kind", "llm")]), 3);
    assert_eq!(exposition.count("voice_provider_chain_ttfb_seconds", &[("kind", "llm")]), 3);
}

#[test]
fn the_last_provider_answering_nothing_fails_the_request_as_empty() {
    let only = Fake::new("azure", Fault::Empty);
    paused(|_| async {
        let chain = FallbackChain::builder(ProviderKind::Tts)
            .registry(&ProviderRegistry::new())
            .stream_provider(ProviderSettings::new("azure"), only.provider())
            .build()
            .unwrap();
        let items = answer(&chain).await;
        assert_eq!(items.len(), 1);
        let error = items.into_iter().next().unwrap().unwrap_err();
        assert_eq!(error.class(), ErrorClass::Empty);
        assert_eq!(error.to_string(), "tts provider azure answered nothing useful");
    });
}

#[test]
fn two_requests_racing_for_the_half_open_probe_send_one_probe() {
    let primary = Fake::new("deepgram", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let secondary = Fake::new("google", Fault::None);
    paused(|handle| async move {
        let breaker =
            BreakerConfig::default().consecutive_failures(1).cool_down(Duration::from_secs(5));
        let chain = two(
            &ProviderRegistry::new(),
            (ProviderSettings::new("deepgram").breaker(breaker), &primary),
            (ProviderSettings::new("google"), &secondary),
        )
        .build()
        .unwrap();
        answer(&chain).await;
        tokio::time::advance(Duration::from_secs(6)).await;
        primary.set_default(Fault::Stall(Duration::from_secs(1)));
        let (first, second) = tokio::join!(answer(&chain), answer(&chain));
        assert_eq!(primary.calls(), 2, "one probe for two racing requests");
        assert_eq!(served(&first)[0], "deepgram:hi:0", "the probe");
        assert_eq!(served(&second)[0], "google:hi:0", "skipped while the probe is out");
        let exposition = Exposition::render(&handle);
        assert_eq!(
            value(&exposition, FALLBACKS, &[("to", "google"), ("reason", "circuit_open")]),
            1.0
        );
        assert_eq!(value(&exposition, CIRCUIT, &[("provider", "deepgram")]), 0.0, "probe ok");
    });
}

#[test]
fn a_probe_that_never_settles_reopens_the_breaker_at_its_deadline() {
    let primary = Fake::new("groq", Fault::Fail(StatusCode::BAD_GATEWAY));
    let secondary = Fake::new("openai", Fault::None);
    let (handle, logs) = paused_with_logs(|handle| async move {
        let breaker = BreakerConfig::default()
            .consecutive_failures(1)
            .cool_down(Duration::from_secs(5))
            .probe_timeout(Duration::from_secs(2));
        let chain = two(
            &ProviderRegistry::new(),
            (ProviderSettings::new("groq").breaker(breaker), &primary),
            (ProviderSettings::new("openai"), &secondary),
        )
        .build()
        .unwrap();
        let circuit = || value(&Exposition::render(&handle), CIRCUIT, &[("provider", "groq")]);
        answer(&chain).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        // The probe hangs for 4 s, then answers: too late to count.
        primary.script([Fault::Stall(Duration::from_secs(4)), Fault::None]);
        let probing = chain.clone();
        let probe = tokio::spawn(async move { answer(&probing).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(primary.calls(), 2, "the probe went out");
        assert_eq!(served(&answer(&chain).await)[0], "openai:hi:0", "probe out: skipped");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(served(&answer(&chain).await)[0], "openai:hi:0", "deadline passed: open");
        assert_eq!(circuit(), 1.0);
        let late = probe.await.unwrap();
        assert_eq!(served(&late)[0], "groq:hi:0", "the hung probe did answer");
        assert_eq!(circuit(), 1.0, "its late verdict is ignored");
        assert_eq!(served(&answer(&chain).await)[0], "openai:hi:0", "still cooling down");
        assert_eq!(primary.calls(), 2);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(served(&answer(&chain).await)[0], "groq:hi:0", "a fresh probe closes it");
        assert_eq!(primary.calls(), 3);
        assert_eq!(circuit(), 0.0);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
    assert_eq!(logs.matches("circuit opened for llm groq: probe unsettled after 2s").count(), 1);
}

#[test]
fn durations_beyond_a_day_are_rejected_and_never_overflow() {
    let fake = Fake::new("groq", Fault::None);
    let build = |settings: ProviderSettings| {
        FallbackChain::builder(ProviderKind::Llm)
            .registry(&ProviderRegistry::new())
            .stream_provider(settings, fake.provider())
            .build()
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let max = Duration::MAX;
    let got = "(got \"18446744073709551615.999999999s\")";
    let groq = || ProviderSettings::new("groq");
    let breaker = BreakerConfig::default;
    assert_eq!(
        build(groq().first_byte_timeout(max)),
        format!("groq.first_byte_timeout: at most 24 hours {got}")
    );
    assert_eq!(build(groq().timeout(max)), format!("groq.timeout: at most 24 hours {got}"));
    assert_eq!(
        build(groq().breaker(breaker().cool_down(max))),
        format!("groq.breaker.cool_down: at most 24 hours {got}")
    );
    assert_eq!(
        build(groq().breaker(breaker().probe_timeout(max))),
        format!("groq.breaker.probe_timeout: at most 24 hours {got}")
    );
    assert_eq!(
        build(groq().breaker(breaker().failure_ratio(0.5, max, 10))),
        format!("groq.breaker.window: at most 24 hours {got}")
    );
    assert_eq!(
        build(groq().breaker(breaker().probe_timeout(Duration::ZERO))),
        "groq.breaker.probe_timeout: must be greater than 0"
    );
    assert_eq!(
        build(groq().concurrency_limit(0)),
        "groq.concurrency_limit: must be greater than 0"
    );

    // The longest accepted settings run a request, open and cool down without panicking.
    let failing = Fake::new("groq", Fault::Fail(StatusCode::BAD_GATEWAY));
    paused(|handle| async move {
        let day = voxscope::provider::MAX_SETTING;
        let chain = FallbackChain::builder(ProviderKind::Llm)
            .registry(&ProviderRegistry::new())
            .stream_provider(
                ProviderSettings::new("groq")
                    .first_byte_timeout(day)
                    .timeout(day)
                    .breaker(breaker().consecutive_failures(1).cool_down(day).probe_timeout(day)),
                failing.provider(),
            )
            .build()
            .unwrap();
        answer(&chain).await;
        let skipped = answer(&chain).await;
        assert!(matches!(skipped[0], Err(FallbackError::AllCircuitsOpen { .. })));
        tokio::time::advance(day).await;
        failing.set_default(Fault::None);
        assert_eq!(served(&answer(&chain).await)[0], "groq:hi:0");
        let exposition = Exposition::render(&handle);
        assert_eq!(value(&exposition, CIRCUIT, &[("provider", "groq")]), 0.0);
    });
}

#[test]
fn two_chains_naming_a_provider_share_one_breaker_and_one_gauge() {
    let groq = Fake::new("groq", Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
    let openai = Fake::new("openai", Fault::None);
    let anthropic = Fake::new("anthropic", Fault::None);
    paused(|handle| async move {
        let registry = ProviderRegistry::new();
        let breaker =
            BreakerConfig::default().consecutive_failures(2).cool_down(Duration::from_secs(30));
        let settings = || ProviderSettings::new("groq").breaker(breaker.clone());
        let replies =
            two(&registry, (settings(), &groq), (ProviderSettings::new("openai"), &openai))
                .build()
                .unwrap();
        let summaries =
            two(&registry, (settings(), &groq), (ProviderSettings::new("anthropic"), &anthropic))
                .build()
                .unwrap();
        assert_eq!(registry.len(), 3);
        answer(&replies).await;
        answer(&replies).await;
        assert_eq!(groq.calls(), 2);
        // The other chain sees the same open breaker: groq is skipped there too.
        assert_eq!(served(&answer(&summaries).await)[0], "anthropic:hi:0");
        assert_eq!(groq.calls(), 2);
        // A third chain joining the open breaker does not reset its gauge.
        let third =
            two(&registry, (settings(), &groq), (ProviderSettings::new("anthropic"), &anthropic))
                .build()
                .unwrap();
        let exposition = Exposition::render(&handle);
        assert_eq!(value(&exposition, CIRCUIT, &[("kind", "llm"), ("provider", "groq")]), 1.0);
        assert_eq!(
            value(
                &exposition,
                FALLBACKS,
                &[("from", "groq"), ("to", "anthropic"), ("reason", "circuit_open")]
            ),
            1.0
        );
        // Chains naming groq must agree on its breaker.
        let other = two(
            &registry,
            (ProviderSettings::new("groq"), &groq),
            (ProviderSettings::new("openai"), &openai),
        )
        .build()
        .map(|_| ())
        .unwrap_err();
        assert!(
            other.to_string().starts_with(
                "groq.breaker: the breaker and concurrency limit of the other chains naming the provider"
            ),
            "{other}"
        );
        drop((replies, summaries, third));
        assert_eq!(registry.len(), 0, "entries live as long as a chain names them");
    });
}

#[test]
fn fallback_series_limits_and_circuits_exist_from_the_build() {
    let fake = Fake::new("x", Fault::None);
    let handle = with_local_prometheus(|_| async {
        let chain = FallbackChain::builder(ProviderKind::Tts)
            .registry(&ProviderRegistry::new())
            .stream_provider(
                ProviderSettings::new("elevenlabs").concurrency_limit(8),
                fake.provider(),
            )
            .stream_provider(ProviderSettings::new("azure"), fake.provider())
            .stream_provider(ProviderSettings::new("polly").concurrency_limit(4), fake.provider())
            .fallback_on(&[ErrorClass::Unavailable, ErrorClass::Empty])
            .build()
            .unwrap();
        drop(chain);
    });
    let exposition = Exposition::render(&handle);
    let limit = |provider| {
        value(
            &exposition,
            "voice_provider_concurrency_limit",
            &[("kind", "tts"), ("provider", provider)],
        )
    };
    assert_eq!((limit("elevenlabs"), limit("polly")), (8.0, 4.0));
    assert_eq!(
        exposition.find("voice_provider_concurrency_limit", &[("provider", "azure")]).count(),
        0
    );
    for provider in ["elevenlabs", "azure", "polly"] {
        assert_eq!(value(&exposition, CIRCUIT, &[("provider", provider)]), 0.0);
    }
    let reasons = |from: &str, to: &str| {
        let mut found: Vec<(String, f64)> = exposition
            .find(FALLBACKS, &[("kind", "tts"), ("from", from), ("to", to)])
            .map(|s| (s.label("reason").unwrap().to_owned(), s.value))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    let zeros = |names: &[&str]| -> Vec<(String, f64)> {
        names.iter().map(|n| ((*n).to_owned(), 0.0)).collect()
    };
    let limited =
        zeros(&["circuit_open", "concurrency_limited", "empty", "timeout", "unavailable"]);
    let unlimited = zeros(&["circuit_open", "empty", "timeout", "unavailable"]);
    assert_eq!(reasons("elevenlabs", "azure"), limited);
    assert_eq!(reasons("elevenlabs", "polly"), limited);
    assert_eq!(reasons("azure", "polly"), unlimited);
    assert_eq!(reasons("polly", "azure"), []);
    assert_eq!(exposition.find(FALLBACKS, &[]).count(), 14);
    // Chain requests, the denominator of the fallback share, are counted from 0 too.
    let requests: Vec<f64> = exposition
        .find("voice_provider_chain_duration_seconds_count", &[("kind", "tts")])
        .map(|s| s.value)
        .collect();
    assert_eq!(requests, [0.0]);
}

#[test]
fn a_provider_at_its_concurrency_limit_is_skipped_not_waited_for() {
    let primary = Fake::new("elevenlabs", Fault::Stall(Duration::from_secs(2)));
    let secondary = Fake::new("azure", Fault::None);
    paused(|handle| async move {
        let chain = two(
            &ProviderRegistry::new(),
            (ProviderSettings::new("elevenlabs").concurrency_limit(2), &primary),
            (ProviderSettings::new("azure").concurrency_limit(1), &secondary),
        )
        .build()
        .unwrap();
        let started = tokio::time::Instant::now();
        let mut streams: Vec<_> = (0..3).map(|_| chain.stream("hi".to_owned())).collect();
        // Two take elevenlabs' places; the third skips to azure at once.
        let first_items =
            futures_util::future::join_all(streams.iter_mut().map(|s| s.next())).await;
        assert_eq!(primary.calls(), 2);
        let first: Vec<&str> =
            first_items.iter().map(|i| i.as_ref().unwrap().as_ref().unwrap().as_str()).collect();
        assert_eq!(first, ["elevenlabs:hi:0", "elevenlabs:hi:0", "azure:hi:0"]);
        // While all three hold their places, a fourth request finds both providers full.
        let saturated = answer(&chain).await;
        assert!(matches!(saturated[0], Err(FallbackError::Saturated { .. })), "{saturated:?}");
        assert_eq!(saturated[0].as_ref().unwrap_err().class(), ErrorClass::RateLimited);
        drop(streams);
        assert_eq!(served(&answer(&chain).await)[0], "elevenlabs:hi:0", "places freed");
        assert!(near(started.elapsed().as_secs_f64(), 4.0), "nobody waited for a place");
        let exposition = Exposition::render(&handle);
        assert_eq!(
            value(
                &exposition,
                FALLBACKS,
                &[("from", "elevenlabs"), ("to", "azure"), ("reason", "concurrency_limited")]
            ),
            1.0
        );
        assert_eq!(exposition.sum("voice_provider_in_flight", &[]), 0.0);
        assert_eq!(
            value(
                &exposition,
                "voice_provider_requests_total",
                &[("provider", "elevenlabs"), ("outcome", "cancelled")]
            ),
            2.0
        );
    });
}

#[test]
fn the_chain_measures_the_first_useful_item_and_the_failover_before_it() {
    let stalled = Fake::new("groq", Fault::Stall(Duration::from_secs(10)));
    let chatty = Fake::new(
        "openai",
        Fault::MetadataFirst { first: Duration::from_millis(200), gap: Duration::from_secs(1) },
    );
    let handle = paused(|_| async {
        let chain = two(
            &ProviderRegistry::new(),
            (
                ProviderSettings::new("groq").first_byte_timeout(Duration::from_millis(500)),
                &stalled,
            ),
            (
                ProviderSettings::new("openai").first_byte_timeout(Duration::from_millis(300)),
                &chatty,
            ),
        )
        .first_byte_when(|chunk: &String| chunk != "meta")
        .build()
        .unwrap();
        let started = tokio::time::Instant::now();
        let mut stream = chain.stream("hi".to_owned());
        let first = stream.next().await.unwrap().unwrap();
        // The metadata item was held back until the first useful one.
        assert_eq!(first, "meta");
        assert!(near(started.elapsed().as_secs_f64(), 0.7), "{:?}", started.elapsed());
        let rest: Vec<String> = stream.map(Result::unwrap).collect().await;
        assert_eq!(rest, ["openai:hi:0", "openai:hi:1", "openai:hi:2"]);
        assert!(near(started.elapsed().as_secs_f64(), 2.7), "{:?}", started.elapsed());
    });
    let exposition = Exposition::render(&handle);
    let llm = [("kind", "llm")];
    assert_eq!(exposition.count("voice_provider_chain_ttfb_seconds", &llm), 1);
    assert!(near(exposition.sum("voice_provider_chain_ttfb_seconds_sum", &llm), 0.7));
    assert_eq!(exposition.count("voice_provider_chain_duration_seconds", &llm), 1);
    assert!(near(exposition.sum("voice_provider_chain_duration_seconds_sum", &llm), 2.7));
    assert_eq!(
        value(&exposition, FALLBACKS, &[("from", "groq"), ("to", "openai"), ("reason", "timeout")]),
        1.0
    );
}

#[test]
fn a_stream_of_only_metadata_is_empty_and_its_items_never_reach_the_caller() {
    let secondary = Fake::new("google", Fault::None);
    paused(|handle| async move {
        // deepgram's one message is metadata: nothing useful, so google answers alone.
        let chain = FallbackChain::builder(ProviderKind::Stt)
            .registry(&ProviderRegistry::new())
            .stream_provider(ProviderSettings::new("deepgram"), |_: String| async {
                let items = [Ok::<_, StatusCode>("meta".to_owned())];
                Ok::<_, StatusCode>(futures_util::stream::iter(items))
            })
            .stream_provider(ProviderSettings::new("google"), secondary.provider())
            .first_byte_when(|chunk: &String| chunk != "meta")
            .build()
            .unwrap();
        let items = answer(&chain).await;
        assert_eq!(served(&items), ["google:hi:0", "google:hi:1", "google:hi:2"]);
        let exposition = Exposition::render(&handle);
        assert_eq!(
            value(
                &exposition,
                FALLBACKS,
                &[("kind", "stt"), ("from", "deepgram"), ("reason", "empty")]
            ),
            1.0
        );
        assert_eq!(exposition.count("voice_provider_ttfb_seconds", &[("provider", "deepgram")]), 0);
    });
}

/// Real time here: provider TTFB is read from the monotonic clock, not tokio's.
#[test]
fn provider_ttfb_is_the_first_useful_item_well_before_the_end() {
    let paced = Fake::new(
        "openai",
        Fault::MetadataFirst { first: Duration::from_millis(300), gap: Duration::from_millis(400) },
    );
    let handle = with_local_prometheus(|_| async {
        let chain = FallbackChain::builder(ProviderKind::Llm)
            .registry(&ProviderRegistry::new())
            .stream_provider(ProviderSettings::new("openai"), paced.provider())
            .first_byte_when(|chunk: &String| chunk != "meta")
            .build()
            .unwrap();
        assert_eq!(answer(&chain).await.len(), 4);
    });
    let exposition = Exposition::render(&handle);
    let openai = [("provider", "openai")];
    let ttfb = exposition.sum("voice_provider_ttfb_seconds_sum", &openai);
    let duration = exposition.sum("voice_provider_request_duration_seconds_sum", &openai);
    assert!((0.3..0.6).contains(&ttfb), "ttfb {ttfb}: the metadata item does not count");
    assert!(duration >= 1.1, "duration {duration}: until the last item");
    assert!(duration - ttfb >= 0.8, "ttfb {ttfb} well below duration {duration}");
}

#[test]
fn token_usage_carries_the_model_label_only_where_enabled() {
    let handle = with_local_prometheus(|_| async {
        let answer = |_: String| async { Ok::<_, std::io::Error>((812_u64, 64_u64)) };
        for (name, labelled) in [("openai", true), ("groq", false)] {
            let llm = FallbackChain::builder(ProviderKind::Llm)
                .registry(&ProviderRegistry::new())
                .provider(
                    ProviderSettings::new(name).model("gpt-4o-mini").model_label(labelled),
                    answer,
                )
                .usage_with(|&(input, output): &(u64, u64)| {
                    voxscope::provider::Usage::tokens(input, output)
                })
                .build()
                .unwrap();
            llm.call("hi".to_owned()).await.unwrap();
        }
    });
    let exposition = Exposition::render(&handle);
    let usage = "gen_ai_client_token_usage_sum";
    let openai = [("provider", "openai"), ("token_type", "input"), ("model", "gpt-4o-mini")];
    assert_eq!(value(&exposition, usage, &openai), 812.0);
    let groq: Vec<_> = exposition.find(usage, &[("provider", "groq")]).collect();
    assert_eq!(groq.len(), 2, "input and output");
    assert!(groq.iter().all(|s| s.label("model").is_none()), "{groq:?}");
    let unset = voxscope::provider::ProviderMetrics::builder(ProviderKind::Llm, "groq")
        .model_label(true)
        .build()
        .unwrap_err();
    assert_eq!(unset.to_string(), "groq.model_label: a model set with model() (got \"true\")");
}

#[test]
fn list_prices_turn_usage_into_an_estimated_cost_in_whole_units() {
    use voxscope::provider::{Price, Usage};
    let costs = |requests: usize| {
        let handle = with_local_prometheus(|_| async move {
            let llm = FallbackChain::builder(ProviderKind::Llm)
                .registry(&ProviderRegistry::new())
                .provider(
                    ProviderSettings::new("openai").price(Price::new("USD").tokens(0.15, 0.60)),
                    |_: String| async { Ok::<_, std::io::Error>((1_000_000_u64, 200_000_u64)) },
                )
                .usage_with(|&(input, output): &(u64, u64)| Usage::tokens(input, output))
                .build()
                .unwrap();
            for _ in 0..requests {
                llm.call("hi".to_owned()).await.unwrap();
            }
        });
        let exposition = Exposition::render(&handle);
        let labels = [("kind", "llm"), ("provider", "openai"), ("currency", "USD")];
        value(&exposition, "voice_provider_cost_total", &labels)
    };
    // 0.15 + 0.12 = 0.27 USD a request: whole dollars once complete, fractions carried.
    assert_eq!(costs(3), 0.0, "0.81");
    assert_eq!(costs(4), 1.0, "1.08");
    assert_eq!(costs(8), 2.0, "2.16");
    assert_eq!(costs(38), 10.0, "10.26");

    let bad = |price: Price| {
        voxscope::provider::ProviderMetrics::builder(ProviderKind::Tts, "azure")
            .price(price)
            .build()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad(Price::new("dollars")),
        "azure.price.currency: an ISO 4217 code such as USD (got \"dollars\")"
    );
    assert_eq!(
        bad(Price::new("EUR").characters(-1.0)),
        "azure.price.characters.per_thousand: a finite price of 0 or more (got \"-1\")"
    );
}
