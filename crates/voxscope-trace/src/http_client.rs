//! The HTTP client of the exporters (features `otlp` and `zipkin`): reqwest's blocking
//! client, called from the export threads.
//!
//! A request never shares a runtime with the service, and the workspace keeps one
//! reqwest major version (the exporters' own client features would bring another).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};

use crate::error::TraceError;

/// How long one export request may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// An [`HttpClient`] on reqwest's blocking client.
#[derive(Debug)]
pub(crate) struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    /// A client with [`TIMEOUT`]; `endpoint` names the failure.
    pub(crate) fn new(endpoint: &str) -> Result<Self, TraceError> {
        let failed =
            |reason: String| TraceError::Exporter { endpoint: endpoint.to_owned(), reason };
        // reqwest's blocking client may not be built inside an async runtime: build it on
        // a thread of its own.
        let client =
            std::thread::spawn(|| reqwest::blocking::Client::builder().timeout(TIMEOUT).build())
                .join()
                .map_err(|_| failed("the HTTP client could not be built".to_owned()))?
                .map_err(|error| failed(error.to_string()))?;
        Ok(Self(client))
    }

    /// Sends `request` and reads the whole answer.
    pub(crate) fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::blocking::Request::try_from(request)?;
        let response = self.0.execute(request)?;
        let mut builder = Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        let body = response.bytes()?;
        Ok(builder.body(body)?)
    }
}

impl HttpClient for BlockingClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move { self.send(request) })
    }
}
