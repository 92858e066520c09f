//! The middleware service: head decision, span, parent extraction.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Method, Request, Response};
use opentelemetry::Context as OtelContext;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use tower::Service;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::body::ResponseBody;
use crate::deferred::{self, DEFERRED_TARGET, DeferredRoot, RouteName};
use crate::filter::{TRACED_TARGET, UNTRACED_TARGET};
use crate::future::{ResponseFuture, SpanKind};
use crate::ids::{self, RequestIds};
use crate::layer::LayerState;
use crate::policy::{Decision, Head};
use crate::sampler::HeadHint;
use crate::traceparent::TraceParent;

/// Middleware that traces requests; built by [`TraceLayer`](crate::TraceLayer).
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
    state: Arc<LayerState>,
}

impl<S> Trace<S> {
    pub(crate) fn new(inner: S, state: Arc<LayerState>) -> Self {
        Self { inner, state }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Trace<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (span, ids, downstream, kind) = self.state.start(&request);
        let inner = {
            let _entered = span.enter();
            let _attached = downstream.clone().map(OtelContext::attach);
            self.inner.call(request)
        };
        ResponseFuture::new(inner, span, ids.trace_id, downstream, Arc::clone(&self.state))
            .kind(kind)
    }
}

/// A request's span, its ids, the trace context current while it is handled (for a
/// request without an OpenTelemetry span of its own), and what kind of span it is.
type Started = (tracing::Span, RequestIds, Option<OtelContext>, SpanKind);

impl LayerState {
    fn start<B>(&self, request: &Request<B>) -> Started {
        let route = route(request);
        let parent = TraceParent::from_headers(request.headers());
        // The trace id comes first: the ratio decision is a function of it.
        let trace_id = parent.map_or_else(ids::new_trace_id, |p| p.trace_id);
        let head = self.policy.head(route, parent.map(|p| p.sampled), trace_id);
        let method = method_label(request.method());
        let keep = match head {
            Head::Skip => {
                self.counters.decision(Decision::Dropped);
                let span = tracing::info_span!(
                    target: UNTRACED_TARGET,
                    "request",
                    http.request.method = method,
                    http.route = route,
                );
                let ids = RequestIds { trace_id, span_id: ids::new_span_id() };
                ids::attach(&span, ids);
                // Not traced here, but the trace goes on downstream: the caller's context
                // unchanged, or a new unsampled one with this request's ids.
                let downstream = match parent {
                    Some(_) => self.propagator.extract(&HeaderExtractor(request.headers())),
                    None => OtelContext::new().with_remote_span_context(SpanContext::new(
                        ids.trace_id,
                        ids.span_id,
                        TraceFlags::default(),
                        false,
                        TraceState::default(),
                    )),
                };
                return (span, ids, Some(downstream), SpanKind::Untraced);
            }
            // Left to the tail: most such requests are dropped, so their OpenTelemetry
            // span is built only if the tail may keep them.
            Head::Undecided if self.defer && parent.is_none() => {
                let span = tracing::info_span!(
                    target: DEFERRED_TARGET,
                    "request",
                    http.request.method = method,
                    http.route = route,
                    otel.status_code = Empty,
                    http.response.status_code = Empty,
                    error.type = Empty,
                    client.address = Empty,
                );
                let ids = RequestIds { trace_id, span_id: ids::new_span_id() };
                let root =
                    DeferredRoot::new(ids, method, route_name(request), request.uri().clone());
                deferred::attach(&span, root);
                if self.client_address {
                    record_client_address(&span, request);
                }
                return (span, ids, Some(deferred::context(ids)), SpanKind::Deferred);
            }
            Head::Keep(decision) => Some(decision),
            Head::Undecided => None,
        };
        let name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        };
        let span = tracing::info_span!(
            target: TRACED_TARGET,
            "request",
            otel.name = name,
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = method,
            http.route = route,
            url.scheme = request.uri().scheme_str().unwrap_or("http"),
            url.path = request.uri().path(),
            http.response.status_code = Empty,
            error.type = Empty,
            client.address = Empty,
        );
        if self.client_address {
            record_client_address(&span, request);
        }
        let parent_cx = match parent {
            Some(_) => self.propagator.extract(&HeaderExtractor(request.headers())),
            None => opentelemetry::Context::new(),
        };
        // Read by the sampler and the tail processor when the span is built, just below.
        let _ = span.set_parent(parent_cx.with_value(HeadHint(keep)));
        // A new root gets the trace id the decision was made on.
        let cx = ids::with_trace_id(trace_id, || span.context());
        let otel = cx.span().span_context().clone();
        let ids = if otel.is_valid() {
            RequestIds { trace_id: otel.trace_id(), span_id: otel.span_id() }
        } else {
            // No OpenTelemetry layer in this subscriber: ids for the logs all the same.
            RequestIds { trace_id, span_id: ids::new_span_id() }
        };
        ids::attach(&span, ids);
        (span, ids, None, SpanKind::Traced)
    }
}

#[cfg(feature = "axum")]
fn route<B>(request: &Request<B>) -> Option<&str> {
    request.extensions().get::<axum::extract::MatchedPath>().map(|path| path.as_str())
}

#[cfg(not(feature = "axum"))]
fn route<B>(_request: &Request<B>) -> Option<&str> {
    None
}

#[cfg(feature = "axum")]
fn route_name<B>(request: &Request<B>) -> Option<RouteName> {
    request.extensions().get::<axum::extract::MatchedPath>().cloned()
}

#[cfg(not(feature = "axum"))]
fn route_name<B>(_request: &Request<B>) -> Option<RouteName> {
    None
}

#[cfg(feature = "axum")]
fn record_client_address<B>(span: &tracing::Span, request: &Request<B>) {
    use axum::extract::ConnectInfo;
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<std::net::SocketAddr>>()
    {
        span.record("client.address", tracing::field::display(addr.ip()));
    }
}

#[cfg(not(feature = "axum"))]
fn record_client_address<B>(_span: &tracing::Span, _request: &Request<B>) {}

/// `http.request.method`: the standard verbs, else `_OTHER` (semantic conventions).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}
