//! The middleware service and its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Method, Request, Response, StatusCode, header};
use pin_project::pin_project;
use tower::Service;

use crate::extract::PassedThrough;
use crate::guard::PollGuard;
use crate::layer::{Shared, valid_id};

/// Middleware that opens a [`Call`](crate::Call) per WebSocket upgrade request and lets
/// other requests pass uncounted; built by [`CallLayer`](crate::CallLayer).
#[derive(Debug)]
pub struct CallMetrics<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for CallMetrics<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: Arc::clone(&self.shared) }
    }
}

impl<S> CallMetrics<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    fn call_id<B>(&self, request: &Request<B>) -> Option<String> {
        let from_header = || {
            let name = self.shared.id_header.as_ref()?;
            request.headers().get(name)?.to_str().ok().filter(|id| valid_id(id))
        };
        let from_query = || {
            let name = self.shared.id_query.as_deref()?;
            request.uri().query()?.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key == name && valid_id(value)).then_some(value)
            })
        };
        from_header().or_else(from_query).map(str::to_owned)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CallMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if !is_websocket_upgrade(&request) {
            request.extensions_mut().insert(PassedThrough);
            return ResponseFuture {
                kind: Kind::PassedThrough { inner: self.inner.call(request) },
            };
        }
        let id = self.call_id(&request);
        let Some(call) = self.shared.admit(id) else {
            return ResponseFuture {
                kind: Kind::Shed { retry_after: self.shared.retry_after.clone() },
            };
        };
        request.extensions_mut().insert(call.clone());
        let inner = self.inner.call(request);
        ResponseFuture { kind: Kind::Inner { inner, guard: PollGuard::new(call) } }
    }
}

/// Whether `request` asks for a WebSocket: `Upgrade: websocket` (HTTP/1.1), or an
/// extended CONNECT (HTTP/2, RFC 8441). Anything else is not a call.
fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    if request.method() == Method::CONNECT {
        return true;
    }
    request.headers().get_all(header::UPGRADE).iter().any(|value| {
        value.to_str().is_ok_and(|tokens| {
            tokens.split(',').any(|token| token.trim().eq_ignore_ascii_case("websocket"))
        })
    })
}

/// Response future of [`CallMetrics`]: the inner service's response, or `503` for a
/// call shed at capacity.
#[pin_project]
#[derive(Debug)]
pub struct ResponseFuture<F> {
    #[pin]
    kind: Kind<F>,
}

#[pin_project(project = KindProj)]
#[derive(Debug)]
enum Kind<F> {
    Inner {
        #[pin]
        inner: F,
        guard: PollGuard,
    },
    Shed {
        retry_after: http::HeaderValue,
    },
    PassedThrough {
        #[pin]
        inner: F,
    },
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { inner, guard } => {
                guard.polling = true;
                let result = inner.poll(cx);
                guard.polling = false;
                let result = ready!(result);
                if let (Err(_), Some(call)) = (&result, &guard.call) {
                    call.fail("the service returned an error");
                }
                guard.call = None;
                Poll::Ready(result)
            }
            KindProj::PassedThrough { inner } => inner.poll(cx),
            KindProj::Shed { retry_after } => {
                let mut response = Response::new(B::default());
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
                Poll::Ready(Ok(response))
            }
        }
    }
}
