//! [`ProviderLayer`]: provider metrics around any tower service.

use std::marker::PhantomData;

use tower::Layer;

use crate::call::ProviderMetrics;
use crate::class::DefaultClassifier;
use crate::service::Provider;
use crate::usage::NoUsage;

/// Mode of a [`ProviderLayer`] whose service answers with one value: the request ends,
/// and TTFB is taken, when the response future resolves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unary;

/// Mode of a [`ProviderLayer`] whose service answers with a stream of `Result` items
/// (tokens, audio chunks, transcripts): TTFB at the first item, the request ends with the
/// stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct Streaming;

/// Mode of a [`ProviderLayer`] whose service answers with an `http::Response`: TTFB at
/// the first body byte, and the request ends with the body; see
/// [`http_body`](ProviderLayer::http_body).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpBody;

/// Records provider metrics for every request through the wrapped service.
///
/// ```
/// use std::convert::Infallible;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use voxscope_provider::{ProviderKind, ProviderLayer, ProviderMetrics};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let groq = ProviderMetrics::builder(ProviderKind::Llm, "groq").concurrency_limit(16).build()?;
/// let llm = ServiceBuilder::new()
///     .layer(ProviderLayer::new(groq))
///     .service(service_fn(|prompt: String| async move {
///         Ok::<_, Infallible>(format!("echo: {prompt}"))
///     }));
/// let reply = llm.oneshot("hi".to_owned()).await?;
/// assert_eq!(reply, "echo: hi");
/// # Ok(()) }
/// ```
///
/// A streaming service (its response is a `Stream` of `Result`) takes
/// [`streaming`](Self::streaming); your own error rule and usage reader plug in with
/// [`classify_with`](Self::classify_with) and [`usage_with`](Self::usage_with).
#[derive(Debug)]
pub struct ProviderLayer<M = Unary, C = DefaultClassifier, U = NoUsage> {
    pub(crate) metrics: ProviderMetrics,
    pub(crate) classify: C,
    pub(crate) usage: U,
    mode: PhantomData<fn() -> M>,
}

impl<M, C: Clone, U: Clone> Clone for ProviderLayer<M, C, U> {
    fn clone(&self) -> Self {
        Self {
            metrics: self.metrics.clone(),
            classify: self.classify.clone(),
            usage: self.usage.clone(),
            mode: PhantomData,
        }
    }
}

impl ProviderLayer {
    /// A layer for a request/response service, recording into `metrics`.
    pub fn new(metrics: ProviderMetrics) -> Self {
        Self { metrics, classify: DefaultClassifier, usage: NoUsage, mode: PhantomData }
    }
}

impl<M, C, U> ProviderLayer<M, C, U> {
    /// For a service whose response is a stream of `Result` items.
    ///
    /// ```
    /// use futures_util::{StreamExt, stream};
    /// use tower::{ServiceExt, service_fn, Layer};
    /// use voxscope_provider::{ProviderKind, ProviderLayer, ProviderMetrics};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let eleven = ProviderMetrics::builder(ProviderKind::Tts, "elevenlabs").build()?;
    /// let tts = ProviderLayer::new(eleven).streaming().layer(service_fn(|text: &'static str| async move {
    ///     let chunks = text.split(' ').map(|w| Ok::<_, std::io::Error>(w.len()));
    ///     Ok::<_, std::io::Error>(stream::iter(chunks))
    /// }));
    /// let audio: Vec<_> = tts.oneshot("hello there").await?.collect().await;
    /// assert_eq!(audio.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn streaming(self) -> ProviderLayer<Streaming, C, U> {
        ProviderLayer {
            metrics: self.metrics,
            classify: self.classify,
            usage: self.usage,
            mode: PhantomData,
        }
    }

    /// For a unary HTTP client service (its response is an `http::Response<B>`): TTFB is
    /// the first body byte, not the response head, and the duration runs until the body
    /// ends, so a TTS answering its audio as one body is timed as the caller hears it.
    /// A 4xx or 5xx status ends the request with the status's class; a body without a
    /// byte ends it as `empty`. Usage readers do not apply (bodies are bytes).
    ///
    /// ```
    /// use http_body_util::{BodyExt, Full};
    /// use tower::{ServiceExt, service_fn};
    /// use tower::Layer;
    /// use voxscope_provider::{ProviderKind, ProviderLayer, ProviderMetrics};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let azure = ProviderMetrics::builder(ProviderKind::Tts, "azure").build()?;
    /// let tts = ProviderLayer::new(azure).http_body().layer(service_fn(|text: String| async move {
    ///     Ok::<_, std::io::Error>(http::Response::new(Full::new(bytes::Bytes::from(text))))
    /// }));
    /// let response = tts.oneshot("hello".to_owned()).await?;
    /// let audio = response.into_body().collect().await?.to_bytes(); // the request ends here
    /// assert_eq!(&audio[..], b"hello");
    /// # Ok(()) }
    /// ```
    pub fn http_body(self) -> ProviderLayer<HttpBody, C, U> {
        ProviderLayer {
            metrics: self.metrics,
            classify: self.classify,
            usage: self.usage,
            mode: PhantomData,
        }
    }

    /// Classifies errors with `classify`, a
    /// [`ClassifyError`](crate::ClassifyError) such as a closure `Fn(&E) -> ErrorClass`.
    pub fn classify_with<C2>(self, classify: C2) -> ProviderLayer<M, C2, U> {
        ProviderLayer { metrics: self.metrics, classify, usage: self.usage, mode: PhantomData }
    }

    /// Reads usage from each response or stream item with `usage`, a
    /// [`UsageOf`](crate::UsageOf) such as a closure `Fn(&T) -> Usage`.
    pub fn usage_with<U2>(self, usage: U2) -> ProviderLayer<M, C, U2> {
        ProviderLayer { metrics: self.metrics, classify: self.classify, usage, mode: PhantomData }
    }

    /// The metrics this layer records into.
    pub fn metrics(&self) -> &ProviderMetrics {
        &self.metrics
    }
}

impl<S, M, C: Clone, U: Clone> Layer<S> for ProviderLayer<M, C, U> {
    type Service = Provider<S, M, C, U>;

    fn layer(&self, inner: S) -> Self::Service {
        Provider::new(inner, self.clone())
    }
}
