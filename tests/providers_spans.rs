//! Provider spans nest under the span current when a request starts. Alone in its test
//! binary: tracing caches a callsite's interest globally, and tests on other threads
//! without a subscriber could register the provider callsite as "never".

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use tower::{Layer, ServiceExt, service_fn};
use tracing_subscriber::layer::SubscriberExt;
use voxscope::provider::{ProviderKind, ProviderLayer, ProviderMetrics};
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
