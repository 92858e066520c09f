//! [`ProviderRegistry`]: one circuit breaker and one concurrency limit per (kind,
//! provider), shared by every chain that names the provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use metrics::SharedString;
use tokio::sync::Semaphore;
use voxscope_core::ConfigError;

use crate::breaker::{Breaker, BreakerConfig};
use crate::handles::Instruments;
use crate::kind::ProviderKind;

/// Where fallback chains find the breaker and concurrency limit of a provider.
///
/// A provider's health and quota do not depend on which chain calls it: two chains that
/// name `openai` for `llm` share one breaker (and so one `voice_provider_circuit_open`
/// series) and one concurrency limit, as long as either is alive. Chains use
/// [`ProviderRegistry::global`] unless given another one with
/// [`FallbackChainBuilder::registry`](crate::FallbackChainBuilder::registry), for example
/// to keep tests or tenants apart. Chains sharing a provider must configure the same
/// breaker and limit; [`build`](crate::FallbackChainBuilder::build) rejects the second
/// chain otherwise.
///
/// ```
/// use voxscope_provider::ProviderRegistry;
///
/// let isolated = ProviderRegistry::new();
/// assert_eq!(isolated.len(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProviderRegistry {
    entries: Arc<Mutex<Entries>>,
}

type Entries = HashMap<(ProviderKind, SharedString), Weak<Shared>>;

/// What chains share about one provider.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) breaker: Arc<Breaker>,
    pub(crate) limit: Option<(usize, Arc<Semaphore>)>,
}

impl ProviderRegistry {
    /// An empty registry, shared by the chains given it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry that chains use by default.
    pub fn global() -> &'static ProviderRegistry {
        static GLOBAL: OnceLock<ProviderRegistry> = OnceLock::new();
        GLOBAL.get_or_init(ProviderRegistry::new)
    }

    /// How many providers have live chains.
    pub fn len(&self) -> usize {
        self.lock().values().filter(|entry| entry.strong_count() > 0).count()
    }

    /// Whether no provider has a live chain.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shared state of the provider of `instruments`, created with `breaker` and
    /// `limit` when no live chain names it yet.
    pub(crate) fn join(
        &self,
        instruments: &Arc<Instruments>,
        breaker: &BreakerConfig,
        limit: Option<usize>,
    ) -> Result<Arc<Shared>, ConfigError> {
        let key = (instruments.kind(), instruments.provider().clone());
        let mut entries = self.lock();
        entries.retain(|_, entry| entry.strong_count() > 0);
        if let Some(shared) = entries.get(&key).and_then(Weak::upgrade) {
            let same_limit = shared.limit.as_ref().map(|(max, _)| *max) == limit;
            if shared.breaker.config() != breaker || !same_limit {
                return Err(ConfigError::Invalid {
                    field: format!("{}.breaker", key.1),
                    value: format!("{breaker:?}, concurrency limit {limit:?}"),
                    reason: "the breaker and concurrency limit of the other chains naming the provider",
                });
            }
            return Ok(shared);
        }
        let shared = Arc::new(Shared {
            breaker: Arc::new(Breaker::new(breaker.clone(), Arc::clone(instruments))),
            limit: limit.map(|max| (max, Arc::new(Semaphore::new(max)))),
        });
        entries.insert(key, Arc::downgrade(&shared));
        Ok(shared)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
