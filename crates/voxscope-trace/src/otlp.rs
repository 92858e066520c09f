//! The OTLP http/protobuf exporters (feature `otlp`): kept spans and, when asked, log
//! records, both sent with the [`BlockingClient`] from threads of their own.

use std::collections::HashMap;

use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithHttpConfig};

use crate::error::TraceError;
use crate::http_client::{BlockingClient, TIMEOUT};

/// Where and how an OTLP exporter sends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) endpoint: &'a str,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) gzip: bool,
}

impl Target<'_> {
    fn failed(&self, reason: impl ToString) -> TraceError {
        TraceError::Exporter { endpoint: self.endpoint.to_owned(), reason: reason.to_string() }
    }

    fn headers(&self) -> HashMap<String, String> {
        self.headers.iter().cloned().collect()
    }
}

/// The span exporter to `target`.
pub(crate) fn exporter(target: Target<'_>) -> Result<opentelemetry_otlp::SpanExporter, TraceError> {
    configure(opentelemetry_otlp::SpanExporter::builder().with_http(), target)?
        .build()
        .map_err(|error| target.failed(error))
}

/// The log record exporter to `target`.
pub(crate) fn log_exporter(
    target: Target<'_>,
) -> Result<opentelemetry_otlp::LogExporter, TraceError> {
    configure(opentelemetry_otlp::LogExporter::builder().with_http(), target)?
        .build()
        .map_err(|error| target.failed(error))
}

/// The settings both exporters share: client, protocol, endpoint, headers, gzip.
fn configure<B: WithExportConfig + WithHttpConfig>(
    builder: B,
    target: Target<'_>,
) -> Result<B, TraceError> {
    let mut builder = builder
        .with_http_client(BlockingClient::new(target.endpoint)?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(target.endpoint)
        .with_timeout(TIMEOUT)
        .with_headers(target.headers());
    if target.gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    Ok(builder)
}
