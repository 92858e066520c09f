//! The Zipkin exporter (feature `zipkin`): opentelemetry-zipkin's span model, sent as
//! Zipkin v2 JSON with the [`BlockingClient`] from the export thread.
//!
//! Two gaps of opentelemetry-zipkin 0.33 are closed on the way out, in the JSON it
//! writes: it gives `localEndpoint` no `serviceName` (it ignores the resource), which
//! Zipkin files under an unknown service, and it writes a root span's `parentId` as 16
//! zeros, where Zipkin v2 leaves the field out.
//!
//! opentelemetry-zipkin is deprecated upstream in favour of Zipkin's own OTLP ingestion;
//! this exporter is for Zipkin servers without it (a server with it takes
//! `otlp_endpoint` instead).
#![allow(deprecated)]

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_zipkin::ZipkinExporter;
use serde_json::Value;

use crate::error::TraceError;
use crate::http_client::BlockingClient;

const NO_PARENT: &str = "0000000000000000";

/// The exporter to `endpoint` (such as `http://localhost:9411/api/v2/spans`), naming
/// `service` as every span's local endpoint.
pub(crate) fn exporter(endpoint: &str, service: &str) -> Result<ZipkinExporter, TraceError> {
    let client = ZipkinClient { http: BlockingClient::new(endpoint)?, service: service.into() };
    ZipkinExporter::builder()
        .with_http_client(client)
        .with_collector_endpoint(endpoint)
        .build()
        .map_err(|error| TraceError::Exporter {
            endpoint: endpoint.to_owned(),
            reason: error.to_string(),
        })
}

#[derive(Debug)]
struct ZipkinClient {
    http: BlockingClient,
    service: Box<str>,
}

impl HttpClient for ZipkinClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = complete(&body, &self.service)?;
            self.http.send(Request::from_parts(parts, body))
        })
    }
}

/// The span list with `localEndpoint.serviceName` set and all-zero `parentId`s left out.
fn complete(body: &[u8], service: &str) -> Result<Bytes, serde_json::Error> {
    let mut spans: Value = serde_json::from_slice(body)?;
    for span in spans.as_array_mut().into_iter().flatten() {
        let Some(span) = span.as_object_mut() else { continue };
        if span.get("parentId").and_then(Value::as_str) == Some(NO_PARENT) {
            span.remove("parentId");
        }
        let endpoint =
            span.entry("localEndpoint").or_insert_with(|| Value::Object(Default::default()));
        if let Some(endpoint) = endpoint.as_object_mut() {
            endpoint.entry("serviceName").or_insert_with(|| Value::String(service.to_owned()));
        }
    }
    Ok(serde_json::to_vec(&spans)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_service_and_drops_the_zero_parent() {
        let body = br#"[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","parentId":"0000000000000000","id":"00f067aa0ba902b7","localEndpoint":{}},{"parentId":"00f067aa0ba902b7","localEndpoint":{"serviceName":"other"}}]"#;
        let out: Value = serde_json::from_slice(&complete(body, "voice-agent").unwrap()).unwrap();
        assert_eq!(out[0].get("parentId"), None);
        assert_eq!(out[0]["localEndpoint"]["serviceName"], "voice-agent");
        assert_eq!(out[1]["parentId"], "00f067aa0ba902b7");
        assert_eq!(out[1]["localEndpoint"]["serviceName"], "other");
        assert!(complete(b"not json", "x").is_err());
    }
}
