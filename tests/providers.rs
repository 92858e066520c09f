//! Provider metrics through `ProviderLayer` and the observe helpers, against fake
//! providers: an HTTP provider on loopback answering scripted statuses, and in-process
//! streams with injected delays.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::{FutureExt, StreamExt, stream};
use tower::{Layer, ServiceExt, service_fn};
use voxscope::provider::{ErrorClass, ProviderKind, ProviderLayer, ProviderMetrics, Usage};
use voxscope_tests::{Exposition, serve, with_local_prometheus};

const REQUESTS: &str = "voice_provider_requests_total";
const ERRORS: &str = "voice_provider_errors_total";
const IN_FLIGHT: &str = "voice_provider_in_flight";
const DURATION: &str = "voice_provider_request_duration_seconds";
const TTFB: &str = "voice_provider_ttfb_seconds";

/// A fake HTTP provider: `/status/{code}` answers that status, `/slow` takes 5 s.
fn fake_http_provider() -> Router {
    Router::new()
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT), "body")
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
}

#[test]
fn outcomes_and_error_classes_are_counted_exactly() {
    let handle = with_local_prometheus(|_| async {
        let addr = serve(fake_http_provider()).await;
        // A port that refuses connections: bound, then released.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);

        let client =
            reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
        let metrics = ProviderMetrics::builder(ProviderKind::Stt, "deepgram").build().unwrap();
        let stt = ProviderLayer::new(metrics).layer(service_fn(move |url: String| {
            let client = client.clone();
            async move { client.get(url).send().await?.error_for_status()?.text().await }
        }));

        let mut urls: Vec<String> = [200, 200, 401, 403, 429, 500, 503, 400, 404, 408]
            .iter()
            .map(|code| format!("http://{addr}/status/{code}"))
            .collect();
        urls.push(format!("http://{addr}/slow"));
        urls.push(format!("http://{closed_addr}/status/200"));
        for url in urls {
            let _ = stt.clone().oneshot(url).await;
        }
    });

    let exposition = Exposition::render(&handle);
    let stt = [("kind", "stt"), ("provider", "deepgram")];
    let outcome = |o: &'static str| {
        let mut labels = stt.to_vec();
        labels.push(("outcome", o));
        exposition.sum(REQUESTS, &labels)
    };
    assert_eq!(outcome("ok"), 2.0);
    // 401, 403, 429, 500, 503, 400, 404 and the refused connection.
    assert_eq!(outcome("error"), 8.0);
    // 408 and the client-side timeout on /slow.
    assert_eq!(outcome("timeout"), 2.0);
    assert_eq!(outcome("cancelled"), 0.0);
    for (class, count) in [
        ("auth", 2.0),
        ("rate_limited", 1.0),
        ("timeout", 2.0),
        ("unavailable", 3.0),
        ("bad_request", 2.0),
        ("other", 0.0),
    ] {
        assert_eq!(exposition.sum(ERRORS, &[("error", class)]), count, "error={class}");
    }
    assert_eq!(exposition.count(DURATION, &stt), 12);
    assert_eq!(exposition.count(TTFB, &stt), 2, "TTFB only for answers");
    assert_eq!(exposition.sum(IN_FLIGHT, &stt), 0.0);
}

/// An endless stream of 20 ms audio chunks.
fn endless_audio() -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    stream::repeat_with(|| Ok(vec![0_u8; 160])).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        chunk
    })
}

#[test]
fn stream_dropped_after_three_chunks_records_cancelled_once() {
    let handle = with_local_prometheus(|handle| async move {
        let metrics = ProviderMetrics::builder(ProviderKind::Tts, "elevenlabs").build().unwrap();
        let tts = ProviderLayer::new(metrics)
            .streaming()
            .layer(service_fn(|_text: String| async { Ok::<_, std::io::Error>(endless_audio()) }));
        let audio = tts.oneshot("hello".to_owned()).await.unwrap();
        let mut audio = Box::pin(audio);
        for _ in 0..3 {
            assert!(audio.next().await.is_some_and(|chunk| chunk.is_ok()));
        }
        let during = Exposition::render(&handle);
        assert_eq!(during.sum(IN_FLIGHT, &[("provider", "elevenlabs")]), 1.0);
        drop(audio); // the caller barged in
    });

    let exposition = Exposition::render(&handle);
    let tts = [("kind", "tts"), ("provider", "elevenlabs")];
    assert_eq!(exposition.sum(REQUESTS, &[("outcome", "cancelled")]), 1.0);
    assert_eq!(exposition.sum(REQUESTS, &tts), 1.0, "one request, one outcome");
    assert_eq!(exposition.sum(ERRORS, &tts), 0.0);
    assert_eq!(exposition.count(DURATION, &tts), 1);
    assert_eq!(exposition.count(TTFB, &tts), 1);
    assert_eq!(exposition.sum(IN_FLIGHT, &tts), 0.0);
}

#[test]
fn ttfb_matches_an_injected_first_chunk_delay() {
    let handle = with_local_prometheus(|_| async {
        let metrics = ProviderMetrics::builder(ProviderKind::Llm, "groq").build().unwrap();
        let tokens = stream::iter(["Hel", "lo", "!"]).then(|token| async move {
            if token == "Hel" {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok::<_, Infallible>(token)
        });
        let text: Vec<_> = metrics.observe_stream(tokens).collect().await;
        assert_eq!(text.len(), 3);
    });

    let exposition = Exposition::render(&handle);
    let llm = [("kind", "llm"), ("provider", "groq")];
    assert_eq!(exposition.count(TTFB, &llm), 1);
    let ttfb = exposition.sum(&format!("{TTFB}_sum"), &llm);
    assert!((0.25..3.0).contains(&ttfb), "ttfb {ttfb}");
    let duration = exposition.sum(&format!("{DURATION}_sum"), &llm);
    assert!(duration >= ttfb, "duration {duration} < ttfb {ttfb}");
    assert_eq!(exposition.sum(REQUESTS, &[("outcome", "ok")]), 1.0);
}

#[test]
fn stt_ttfb_runs_from_the_end_of_speech_to_the_final_transcript_when_marked() {
    let handle = with_local_prometheus(|_| async {
        let metrics = ProviderMetrics::builder(ProviderKind::Stt, "deepgram")
            .ttfb_from_speech_end(true)
            .build()
            .unwrap();
        let results = stream::iter(["I", "I need", "I need help"]).map(Ok::<_, Infallible>);
        let mut results = Box::pin(metrics.observe_stream(results));
        // Interim results while the caller speaks: no TTFB from the request's start.
        results.next().await;
        results.next().await;
        if let Some(call) = results.as_mut().call_mut() {
            call.speech_ended();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        results.next().await;
        if let Some(call) = results.as_mut().call_mut() {
            call.final_transcript();
        }
        assert!(results.next().await.is_none());
    });
    let exposition = Exposition::render(&handle);
    let stt = [("kind", "stt"), ("provider", "deepgram")];
    assert_eq!(exposition.count(TTFB, &stt), 1);
    let ttfb = exposition.sum(&format!("{TTFB}_sum"), &stt);
    assert!((0.25..3.0).contains(&ttfb), "ttfb {ttfb}");
}

#[test]
fn an_error_item_ends_the_stream_request_with_its_class() {
    let handle = with_local_prometheus(|_| async {
        let metrics = ProviderMetrics::builder(ProviderKind::Stt, "azure").build().unwrap();
        let results = stream::iter([Ok("hel"), Err(StatusCode::BAD_GATEWAY), Ok("lo")]);
        let seen: Vec<_> = metrics.observe_stream(results).collect().await;
        assert_eq!(seen.len(), 3, "items pass through untouched");
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(REQUESTS, &[("outcome", "error")]), 1.0);
    assert_eq!(exposition.sum(REQUESTS, &[]), 1.0);
    assert_eq!(exposition.sum(ERRORS, &[("error", "unavailable")]), 1.0);
    assert_eq!(exposition.count(TTFB, &[("provider", "azure")]), 1);
}

#[test]
fn usage_from_responses_and_from_the_app_is_recorded_once_per_request() {
    let handle = with_local_prometheus(|_| async {
        let openai = ProviderMetrics::builder(ProviderKind::Llm, "openai").build().unwrap();
        let llm = ProviderLayer::new(openai)
            .usage_with(|reply: &(String, u64, u64)| Usage::tokens(reply.1, reply.2))
            .layer(service_fn(|prompt: String| async move {
                Ok::<_, Infallible>((format!("re: {prompt}"), 812, 64))
            }));
        llm.oneshot("hi".to_owned()).await.unwrap();

        let azure = ProviderMetrics::builder(ProviderKind::Tts, "azure_tts").build().unwrap();
        let mut call = azure.start();
        call.first_byte();
        call.add_usage(Usage::characters(120));
        call.succeed();

        let deepgram = ProviderMetrics::builder(ProviderKind::Stt, "deepgram").build().unwrap();
        for _ in 0..4 {
            let mut call = deepgram.start();
            call.add_usage(Usage::audio_seconds(0.75));
            call.succeed();
        }
    });
    let exposition = Exposition::render(&handle);
    let tokens = "gen_ai_client_token_usage";
    let input = [("provider", "openai"), ("token_type", "input")];
    let output = [("provider", "openai"), ("token_type", "output")];
    assert_eq!(exposition.count(tokens, &input), 1);
    assert_eq!(exposition.sum(&format!("{tokens}_sum"), &input), 812.0);
    assert_eq!(exposition.sum(&format!("{tokens}_sum"), &output), 64.0);
    assert_eq!(exposition.sum("voice_tts_characters_total", &[("provider", "azure_tts")]), 120.0);
    // 4 x 0.75 s: whole seconds are counted as they complete.
    assert_eq!(exposition.sum("voice_stt_audio_seconds_total", &[("provider", "deepgram")]), 3.0);
}

#[test]
fn a_panicking_provider_records_an_error_and_releases_in_flight() {
    let handle = with_local_prometheus(|_| async {
        let metrics = ProviderMetrics::builder(ProviderKind::Llm, "flaky").build().unwrap();
        let answer = metrics.observe(async {
            if ErrorClass::Other.is_permanent() {
                return Ok::<_, Infallible>(());
            }
            panic!("provider client bug");
        });
        let caught = std::panic::AssertUnwindSafe(answer).catch_unwind().await;
        assert!(caught.is_err());
    });
    let exposition = Exposition::render(&handle);
    let flaky = [("provider", "flaky")];
    assert_eq!(exposition.sum(REQUESTS, &[("provider", "flaky"), ("outcome", "error")]), 1.0);
    assert_eq!(exposition.sum(ERRORS, &[("provider", "flaky"), ("error", "other")]), 1.0);
    assert_eq!(exposition.sum(IN_FLIGHT, &flaky), 0.0);
}

#[test]
fn concurrency_limit_and_in_flight_are_published() {
    let handle = with_local_prometheus(|handle| async move {
        let metrics = ProviderMetrics::builder(ProviderKind::Llm, "groq")
            .concurrency_limit(16)
            .build()
            .unwrap();
        let built = Exposition::render(&handle);
        assert_eq!(built.sum("voice_provider_concurrency_limit", &[("provider", "groq")]), 16.0);
        let calls: Vec<_> = (0..3).map(|_| metrics.start()).collect();
        let during = Exposition::render(&handle);
        assert_eq!(during.sum(IN_FLIGHT, &[("provider", "groq")]), 3.0);
        assert_eq!(during.sum("voice_provider_concurrency_limit", &[("provider", "groq")]), 16.0);
        drop(calls);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum(IN_FLIGHT, &[("provider", "groq")]), 0.0);
    assert_eq!(exposition.sum(REQUESTS, &[("outcome", "cancelled")]), 3.0);
}

#[test]
fn provider_names_that_are_not_label_values_are_rejected() {
    let err = ProviderMetrics::builder(ProviderKind::Llm, "https://api.example/v1?key=sk-1")
        .build()
        .unwrap_err();
    assert!(err.to_string().starts_with("provider: 1 to 64 letters"), "{err}");
    assert!(ProviderMetrics::builder(ProviderKind::Llm, "").build().is_err());
    let err = ProviderMetrics::builder(ProviderKind::Llm, "groq")
        .concurrency_limit(0)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "concurrency_limit: must be greater than 0");
}
