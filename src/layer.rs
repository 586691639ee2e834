//! [`SymblAuthLayer`]: the configuration, and the token cache its clones share.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::cache::TokenCache;
use crate::scope::Scope;
use crate::{AccessToken, Credentials, Error, Stats, SymblAuth, SymblAuthLayerBuilder};

/// A [`Layer`] that authenticates requests to Symbl with a cached access token.
///
/// Clones share one token cache, so every service built from one layer (and every clone of
/// those services) makes at most one token request at a time. See the
/// [crate documentation](crate) for an example and the rules it follows.
#[derive(Clone)]
pub struct SymblAuthLayer {
    pub(crate) shared: Arc<Shared>,
}

/// What every [`SymblAuth`] service built from one layer shares.
pub(crate) struct Shared {
    pub(crate) cache: TokenCache,
    pub(crate) scope: Scope,
    pub(crate) replay_limit: usize,
}

impl SymblAuthLayer {
    /// A layer for Symbl's API at `api.symbl.ai`, with the default settings.
    pub fn new(credentials: Credentials) -> Self {
        Self::builder(credentials).build_default()
    }

    /// A builder to change the token URL, the hosts that get the token, and the timings.
    pub fn builder(credentials: Credentials) -> SymblAuthLayerBuilder {
        SymblAuthLayerBuilder::new(credentials)
    }

    /// The current access token from the shared cache, fetched if need be, with the lifetime it
    /// has left. For handing a token to tools outside the layer (curl, a CLI); requests sent
    /// through the layer never need it.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        let token = self.shared.cache.get().await?;
        let left = token
            .expires_at
            .saturating_duration_since(tokio::time::Instant::now());
        Ok(AccessToken::from_header(token.header, left))
    }

    /// What the layer has done so far: token requests, failures, refreshes, retries.
    pub fn stats(&self) -> Stats {
        self.shared.cache.counters().snapshot()
    }
}

impl<S> Layer<S> for SymblAuthLayer {
    type Service = SymblAuth<S>;

    fn layer(&self, inner: S) -> SymblAuth<S> {
        SymblAuth::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for SymblAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuthLayer")
            .field("token_source", &self.shared.cache.source())
            .field("allowed_hosts", &self.shared.scope.hosts())
            .field("replay_limit", &self.shared.replay_limit)
            .field("timings", self.shared.cache.config())
            .finish()
    }
}
