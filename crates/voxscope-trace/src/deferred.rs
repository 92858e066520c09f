//! Deferred request spans: a request that the head left to the tail builds no
//! OpenTelemetry span until something could make the tail keep it.
//!
//! Most requests the head does not keep are fast, succeed and do nothing traced inside:
//! the tail drops them. Building their OpenTelemetry span only to drop it (attributes
//! copied into owned strings, the sampler, the tail buffer's bookkeeping at start and
//! end) is most of what tracing costs a request. So [`TraceLayer`](crate::TraceLayer)
//! gives such a request (head and tail mode, not kept at the head, no caller's
//! `traceparent`) a registry span hidden from tracing-opentelemetry, with its ids and
//! what its span would carry in a [`DeferredRoot`], and [`DeferredLayer`] builds the
//! OpenTelemetry span, with those ids and its real start time, only:
//!
//! - when a traced span starts inside it (a provider span, your own): its trace may be
//!   kept by that span's error, so the request's span goes to the tail before the
//!   child does, exactly as if it had been built at the start;
//! - when an event at the span level happens in it: the event is recorded on the span
//!   (an `ERROR` event sets its status to error, as tracing-opentelemetry does);
//! - when it ends in error (a 5xx, a handler error, a panic, a failed body) or slow:
//!   the span is built with its start and end times, and the tail keeps it.
//!
//! Otherwise the request ends with `voxscope_traces_total{decision="dropped"}` counted
//! and nothing built. The tail's decision is the same either way.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use http::Uri;
use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt as _, TraceFlags,
    TraceState, Tracer as _,
};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span as SdkSpan};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::counters::Counters;
use crate::ids::{self, RequestIds};
use crate::policy::Decision;
use crate::sampler::HeadHint;

/// The target of a request span whose OpenTelemetry span is deferred.
pub(crate) const DEFERRED_TARGET: &str = "voxscope_trace::deferred";

/// The route template a deferred span is named by (a reference count, not a copy).
#[cfg(feature = "axum")]
pub(crate) type RouteName = axum::extract::MatchedPath;
/// The route template a deferred span is named by: none without axum.
#[cfg(not(feature = "axum"))]
pub(crate) type RouteName = std::convert::Infallible;

fn route_str(route: &RouteName) -> &str {
    #[cfg(feature = "axum")]
    return route.as_str();
    #[cfg(not(feature = "axum"))]
    match *route {}
}

/// What a deferred request's OpenTelemetry span would carry, kept in its registry span.
#[derive(Debug)]
pub(crate) struct DeferredRoot {
    ids: RequestIds,
    start: SystemTime,
    /// When the response was ready (the last exit from the span, as tracing-opentelemetry
    /// ends a span); the span's close otherwise.
    end: Option<SystemTime>,
    method: &'static str,
    route: Option<RouteName>,
    uri: Uri,
    status_code: Option<i64>,
    error_type: Option<String>,
    client_address: Option<String>,
    status: Status,
    /// The OpenTelemetry span, once something inside the request needed it.
    started: Option<SdkSpan>,
}

impl DeferredRoot {
    pub(crate) fn new(
        ids: RequestIds,
        method: &'static str,
        route: Option<RouteName>,
        uri: Uri,
    ) -> Self {
        Self {
            ids,
            start: SystemTime::now(),
            end: None,
            method,
            route,
            uri,
            status_code: None,
            error_type: None,
            client_address: None,
            status: Status::Unset,
            started: None,
        }
    }

    /// The ids the request gave out: in its response header, its log lines and the
    /// `traceparent` of its outgoing requests.
    pub(crate) fn ids(&self) -> RequestIds {
        self.ids
    }

    fn name(&self) -> String {
        match &self.route {
            Some(route) => format!("{} {}", self.method, route_str(route)),
            None => self.method.to_owned(),
        }
    }

    /// The attributes known when the request started, as the traced path records them.
    fn start_attributes(&self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(7);
        attributes.push(KeyValue::new("http.request.method", self.method));
        if let Some(route) = &self.route {
            attributes.push(KeyValue::new("http.route", route_str(route).to_owned()));
        }
        attributes
            .push(KeyValue::new("url.scheme", self.uri.scheme_str().unwrap_or("http").to_owned()));
        attributes.push(KeyValue::new("url.path", self.uri.path().to_owned()));
        attributes
    }

    /// The attributes recorded as the request went.
    fn end_attributes(&mut self) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(3);
        if let Some(code) = self.status_code {
            attributes.push(KeyValue::new("http.response.status_code", code));
        }
        if let Some(kind) = self.error_type.take() {
            attributes.push(KeyValue::new("error.type", kind));
        }
        if let Some(address) = self.client_address.take() {
            attributes.push(KeyValue::new("client.address", address));
        }
        attributes
    }

    fn is_error(&self) -> bool {
        matches!(self.status, Status::Error { .. })
    }
}

/// Stores a deferred request's ids and state on its registry span.
pub(crate) fn attach(span: &tracing::Span, root: DeferredRoot) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
            // Its ids are read from the root (`ids::in_extensions`).
            span.extensions_mut().replace(root);
        }
    });
}

/// The deferred request's response is ready: its span's end time and outcome (its status
/// code, and the error type that marks it failed), as a traced request's span records
/// them.
pub(crate) fn response_ready(span: &tracing::Span, code: Option<i64>, error: Option<&str>) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id))
            && let Some(root) = span.extensions_mut().get_mut::<DeferredRoot>()
        {
            root.end = Some(SystemTime::now());
            root.status_code = code;
            if let Some(error) = error {
                root.status = Status::error("");
                root.error_type = Some(error.to_owned());
            }
        }
    });
}

/// Builds a deferred request's OpenTelemetry span when it is needed, or counts the
/// request dropped when it never was. Part of
/// [`TracePipeline::otel_layer`](crate::TracePipeline::otel_layer).
#[derive(Debug)]
pub(crate) struct DeferredLayer {
    pub(crate) tracer: SdkTracer,
    pub(crate) counters: Arc<Counters>,
    pub(crate) slow: Duration,
    pub(crate) keep_errors: bool,
    pub(crate) span_level: LevelFilter,
    pub(crate) dispatch: OnceLock<WeakDispatch>,
}

impl DeferredLayer {
    /// Starts `root`'s OpenTelemetry span with its own ids and start time: the sampler
    /// and the tail processor see the request span the traced path would have built.
    fn start(&self, root: &DeferredRoot) -> SdkSpan {
        let builder = SpanBuilder::from_name(root.name())
            .with_kind(SpanKind::Server)
            .with_start_time(root.start)
            .with_attributes(root.start_attributes());
        let parent = OtelContext::new().with_value(HeadHint(None));
        // Called from this subscriber's callbacks: tracing-core keeps anything the SDK
        // might log from dispatching back into it.
        ids::with_ids(root.ids, || self.tracer.build_with_context(builder, &parent))
    }

    fn promote<S>(&self, span: &SpanRef<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let mut extensions = span.extensions_mut();
        let Some(root) = extensions.get_mut::<DeferredRoot>() else { return false };
        if root.started.is_none() {
            root.started = Some(self.start(root));
        }
        true
    }

    fn finish(&self, mut root: DeferredRoot) {
        let end = root.end.unwrap_or_else(SystemTime::now);
        let mut span = match root.started.take() {
            Some(span) => span,
            None => {
                let slow = end.duration_since(root.start).unwrap_or_default() >= self.slow;
                let kept = slow || (self.keep_errors && root.is_error());
                if !kept {
                    self.counters.decision(Decision::Dropped);
                    return;
                }
                self.start(&root)
            }
        };
        span.set_attributes(root.end_attributes());
        span.set_status(root.status);
        span.end_with_timestamp(end);
    }
}

fn deferred<S>(span: &SpanRef<'_, S>) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    span.metadata().target() == DEFERRED_TARGET
}

impl<S> Layer<S> for DeferredLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    /// A span that follows from a deferred request (a call from its upgrade request)
    /// links to the request's span, as it would to a built one.
    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(follows) = ctx.span(follows) else { return };
        if !deferred(&follows) {
            return;
        }
        let Some(ids) = ids::in_extensions(&follows.extensions()) else { return };
        drop(follows);
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else { return };
        if let Some(cx) = tracing_opentelemetry::get_otel_context(id, &dispatch) {
            cx.span().add_link(span_context(ids), Vec::new());
        }
    }

    /// A traced span starting in a deferred request: the request's span goes first.
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if metadata.target() == DEFERRED_TARGET || *metadata.level() > self.span_level {
            return;
        }
        if let Some(parent) = ctx.span(id).and_then(|span| span.parent())
            && deferred(&parent)
        {
            self.promote(&parent);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !deferred(&span) {
            return;
        }
        if let Some(root) = span.extensions_mut().get_mut::<DeferredRoot>() {
            values.record(&mut RequestFields(root));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if *metadata.level() > self.span_level {
            return;
        }
        let Some(span) = ctx.event_span(event) else { return };
        if !deferred(&span) || !self.promote(&span) {
            return;
        }
        let mut fields = EventFields { name: None, attributes: Vec::new(), status: None };
        fields.attributes.push(KeyValue::new("level", metadata.level().as_str()));
        fields.attributes.push(KeyValue::new("target", metadata.target().to_owned()));
        event.record(&mut fields);
        let mut extensions = span.extensions_mut();
        let Some(root) = extensions.get_mut::<DeferredRoot>() else { return };
        if *metadata.level() == tracing::Level::ERROR && !root.is_error() {
            root.status = Status::error("");
        }
        if let Some(status) = fields.status {
            root.status = status;
        }
        if let Some(otel) = &mut root.started {
            let name = fields.name.unwrap_or_else(|| metadata.name().to_owned());
            otel.add_event(name, fields.attributes);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if !deferred(&span) {
            return;
        }
        let root = span.extensions_mut().remove::<DeferredRoot>();
        drop(span);
        if let Some(root) = root {
            self.finish(root);
        }
    }
}

/// The fields the request span records as it goes (see `ResponseFuture`).
struct RequestFields<'a>(&'a mut DeferredRoot);

impl Visit for RequestFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "http.response.status_code" {
            self.0.status_code = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.status_code" => {
                self.0.status = match value.to_ascii_lowercase().as_str() {
                    "error" => Status::error(""),
                    "ok" => Status::Ok,
                    _ => Status::Unset,
                }
            }
            "error.type" => self.0.error_type = Some(value.to_owned()),
            "client.address" => self.0.client_address = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// An event in a deferred request, as tracing-opentelemetry records one on a span: the
/// message is its name, an `error` field before it marks the span's status and makes it
/// an `exception`, other fields are attributes.
struct EventFields {
    name: Option<String>,
    attributes: Vec<KeyValue>,
    status: Option<Status>,
}

impl EventFields {
    fn error(&mut self, value: String) {
        self.status = Some(Status::error(value.clone()));
        self.name = Some("exception".to_owned());
        self.attributes.push(KeyValue::new("exception.message", value));
    }
}

impl Visit for EventFields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "message" => self.name = Some(value.to_string()),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "message" => self.name = Some(value.to_string()),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.record_i64(field, value),
            Err(_) => self.record_debug(field, &value),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match field.name() {
            "message" => self.name = Some(value.to_string()),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.name = Some(value.to_owned()),
            "error" if self.name.is_none() => self.error(format!("{value:?}")),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.name = Some(format!("{value:?}")),
            "error" if self.name.is_none() => self.error(format!("{value:?}")),
            name if name.starts_with("log.") => {}
            name => self.attributes.push(KeyValue::new(name, format!("{value:?}"))),
        }
    }
}

/// The trace context of a deferred request while it is handled: its own ids, not
/// sampled, so that spans inside it and outgoing requests name it as their parent.
pub(crate) fn context(ids: RequestIds) -> OtelContext {
    OtelContext::new().with_remote_span_context(span_context(ids))
}

/// A deferred request's span context: local, not sampled (the tail decides).
fn span_context(ids: RequestIds) -> SpanContext {
    SpanContext::new(ids.trace_id, ids.span_id, TraceFlags::default(), false, TraceState::default())
}
