//! The provider lines operators grep for, written through voxscope-trace's log format
//! inside a traced request: one per provider request and one per fallback, each with
//! the request's trace id.

#[path = "trace_common.rs"]
mod common;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::Logs;
use futures_util::StreamExt;
use tracing_subscriber::prelude::*;
use voxscope::provider::{FallbackChain, ProviderKind, ProviderRegistry, ProviderSettings};
use voxscope::trace::{LogFormat, SamplingPolicy, TraceConfig, TracePipeline};
use voxscope_tests::fake_provider::{Fake, Fault};

type Chain = FallbackChain<String, String, StatusCode>;

async fn turn(State(chain): State<Arc<Chain>>) -> String {
    let items: Vec<_> = chain.stream("hi".to_owned()).collect().await;
    format!("{} items", items.iter().filter(|item| item.is_ok()).count())
}

#[test]
fn each_provider_request_and_fallback_has_one_line_with_the_trace_id() {
    let pipeline = TracePipeline::new(&TraceConfig::new("agent").policy(SamplingPolicy::default()))
        .expect("pipeline");
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer()).with(
        tracing_subscriber::fmt::layer()
            .event_format(pipeline.log_format(LogFormat::Text))
            .with_writer(move || writer.clone()),
    );
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let trace_ids = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let groq = Fake::new("groq", Fault::Fail(StatusCode::TOO_MANY_REQUESTS));
            let openai = Fake::new("openai", Fault::None);
            let chain = FallbackChain::builder(ProviderKind::Llm)
                .registry(&ProviderRegistry::new())
                .stream_provider(ProviderSettings::new("groq"), groq.provider())
                .stream_provider(ProviderSettings::new("openai"), openai.provider())
                .build()
                .expect("chain");
            let app = Router::new()
                .route("/turn", get(turn))
                .with_state(Arc::new(chain))
                .layer(pipeline.trace_layer());
            let addr = voxscope_tests::serve(app).await;
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for _ in 0..3 {
                let response = client.get(format!("http://{addr}/turn")).send().await.unwrap();
                ids.push(response.headers()["x-trace-id"].to_str().unwrap().to_owned());
                assert!(response.text().await.unwrap().ends_with(" items"));
            }
            ids
        })
    });
    let lines = logs.lines();
    for id in &trace_ids {
        let with_id: Vec<&String> = lines.iter().filter(|l| l.contains(id.as_str())).collect();
        let grep = |needle: &str| with_id.iter().filter(|l| l.contains(needle)).count();
        let failed = format!("[LLM groq] trace={id} TTFB=- ");
        assert_eq!(grep(&failed), 1, "{lines:#?}");
        assert_eq!(grep("chunks=0 outcome=error error=rate_limited"), 1, "{lines:#?}");
        let fallback = format!("[LLM fallback] groq -> openai reason=rate_limited trace={id}");
        assert_eq!(grep(&fallback), 1, "{lines:#?}");
        let served = format!("[LLM openai] trace={id} TTFB=");
        assert_eq!(grep(&served), 1, "{lines:#?}");
        let line = with_id.iter().find(|l| l.contains(&served)).unwrap();
        assert!(line.contains("[INFO]") && line.contains(" chunks=3 outcome=ok "), "{line}");
        let switch = with_id.iter().find(|l| l.contains(&fallback)).unwrap();
        assert!(switch.contains("[WARN]"), "{switch}");
    }
    let fallback_lines = lines.iter().filter(|l| l.contains("[LLM fallback]")).count();
    assert_eq!(fallback_lines, 3);
}
