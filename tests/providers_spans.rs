//! Provider spans nest under the span current when a request starts. Alone in its test
//! binary: tracing caches a callsite's interest globally, and tests on other threads
//! without a subscriber could register the provider callsite as "never".

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;
use voxscope::provider::{
    FallbackChain, ProviderKind, ProviderLayer, ProviderMetrics, ProviderRegistry,
    ProviderSettings, Usage,
};
use voxscope_tests::with_local_prometheus;

/// A span's name and its parent's name.
type SpanAndParent = (String, Option<String>);

/// Records, for each new span, its name and its parent's name.
#[derive(Clone, Default)]
struct Parents(Arc<Mutex<Vec<SpanAndParent>>>);

impl<S> tracing_subscriber::Layer<S> for Parents
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let parent = span.parent().map(|p| p.name().to_owned());
            self.0.lock().unwrap().push((span.name().to_owned(), parent));
        }
    }
}

#[test]
fn provider_spans_are_children_of_the_current_request_span() {
    let parents = Parents::default();
    let subscriber = tracing_subscriber::registry().with(parents.clone());
    tracing::subscriber::with_default(subscriber, || {
        with_local_prometheus(|_| async {
            let metrics = ProviderMetrics::builder(ProviderKind::Llm, "groq").build().unwrap();
            let llm = ProviderLayer::new(metrics)
                .layer(service_fn(|_: ()| async { Ok::<_, Infallible>("ok") }));
            let turn = tracing::info_span!("call_turn", call_id = "call-7");
            let _entered = turn.enter();
            llm.oneshot(()).await.unwrap();
        });
    });
    let spans = parents.0.lock().unwrap().clone();
    assert!(
        spans.contains(&("provider".to_owned(), Some("call_turn".to_owned()))),
        "spans: {spans:?}"
    );
}

/// Every field recorded on `provider` spans, as `name=value` strings.
#[derive(Clone, Default)]
struct Fields(Arc<Mutex<Vec<String>>>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.lock().unwrap().push(format!("{}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.lock().unwrap().push(format!("{}={value}", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Fields
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attributes: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attributes.metadata().name() == "provider" {
            attributes.record(&mut self.clone());
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if ctx.span(id).is_some_and(|span| span.name() == "provider") {
            values.record(&mut self.clone());
        }
    }
}

#[test]
fn provider_spans_carry_the_gen_ai_attributes() {
    let fields = Fields::default();
    let subscriber = tracing_subscriber::registry().with(fields.clone());
    tracing::subscriber::with_default(subscriber, || {
        with_local_prometheus(|_| async {
            let llm = FallbackChain::builder(ProviderKind::Llm)
                .registry(&ProviderRegistry::new())
                .provider(
                    ProviderSettings::new("openai").model("gpt-4o-mini"),
                    |prompt: &'static str| async move {
                        Ok::<_, std::io::Error>((prompt.len() as u64, 42_u64))
                    },
                )
                .usage_with(|&(input, output): &(u64, u64)| Usage::tokens(input, output))
                .build()
                .unwrap();
            assert_eq!(llm.call("what time is it").await.unwrap(), (15, 42));
        });
    });
    let recorded = fields.0.lock().unwrap().clone();
    for expected in [
        "gen_ai.operation.name=chat",
        "gen_ai.provider.name=openai",
        "gen_ai.request.model=gpt-4o-mini",
        "gen_ai.usage.input_tokens=15",
        "gen_ai.usage.output_tokens=42",
        "outcome=ok",
    ] {
        assert!(recorded.iter().any(|f| f == expected), "{expected} in {recorded:?}");
    }
}

#[test]
fn model_names_are_bounded() {
    let error = ProviderMetrics::builder(ProviderKind::Stt, "deepgram")
        .model("nova\n3")
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "deepgram.model: 1 to 128 characters, none of them control characters (got \"nova\\n3\")"
    );
}
