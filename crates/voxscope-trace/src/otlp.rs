//! The OTLP http/protobuf exporter (feature `otlp`).
//!
//! Sent with reqwest's blocking client from the export thread: a request never shares a
//! runtime with it, and the workspace keeps one reqwest major version (the exporter's
//! own client feature would bring another).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithHttpConfig};

use crate::error::TraceError;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The exporter to `endpoint`, sending `headers` and gzipping when asked.
pub(crate) fn exporter(
    endpoint: &str,
    headers: &[(String, String)],
    gzip: bool,
) -> Result<opentelemetry_otlp::SpanExporter, TraceError> {
    let failed = |reason: String| TraceError::Exporter { endpoint: endpoint.to_owned(), reason };
    // reqwest's blocking client may not be built inside an async runtime: build it on a
    // thread of its own.
    let client =
        std::thread::spawn(|| reqwest::blocking::Client::builder().timeout(TIMEOUT).build())
            .join()
            .map_err(|_| failed("the HTTP client could not be built".to_owned()))?
            .map_err(|error| failed(error.to_string()))?;
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(BlockingClient(client))
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(TIMEOUT)
        .with_headers(headers.iter().cloned().collect::<HashMap<_, _>>());
    if gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    builder.build().map_err(|error| failed(error.to_string()))
}

#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

impl HttpClient for BlockingClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let request = reqwest::blocking::Request::try_from(request)?;
            let response = self.0.execute(request)?;
            let mut builder = Response::builder().status(response.status().as_u16());
            for (name, value) in response.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let body = response.bytes()?;
            Ok(builder.body(body)?)
        })
    }
}
