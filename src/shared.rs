//! What a layer and everything made from it share: every clone of a [`SymblAuthLayer`], every
//! [`SymblAuth`] service, `SymblAuthMiddleware` and WebSocket connect.
//!
//! [`SymblAuthLayer`]: crate::SymblAuthLayer
//! [`SymblAuth`]: crate::SymblAuth

use http::Extensions;

use crate::cache::{CacheConfig, KeyedCaches, Token, TokenCache};
use crate::dpop::Dpop;
use crate::scope::Scope;
use crate::stats::Counters;
use crate::{CredentialKey, Error};

pub(crate) struct Shared {
    pub(crate) tokens: Tokens,
    pub(crate) scope: Scope,
    /// The largest request body kept for a retry after a 401.
    pub(crate) replay_limit: usize,
    /// The proofs of tokens bound to a key (DPoP): the origin setting and servers' nonces.
    pub(crate) dpop: Dpop,
    /// The limit on each streaming handshake.
    #[cfg(feature = "websocket")]
    pub(crate) handshake_timeout: std::time::Duration,
}

/// Where a layer's tokens are cached: one cache, or one per [`CredentialKey`].
pub(crate) enum Tokens {
    One(TokenCache),
    Keyed(KeyedCaches),
}

impl Shared {
    /// The cache for a request with `extensions`: the layer's one cache (a key is ignored), or
    /// the cache of the key they name.
    #[cfg(any(feature = "reqwest-middleware", feature = "websocket"))]
    pub(crate) fn cache_for(&self, extensions: &Extensions) -> Result<TokenCache, Error> {
        self.cache_for_key(extensions.get::<CredentialKey>())
    }

    /// The cache for a request naming `key`, if any.
    pub(crate) fn cache_for_key(&self, key: Option<&CredentialKey>) -> Result<TokenCache, Error> {
        match (&self.tokens, key) {
            (Tokens::One(cache), _) => Ok(cache.clone()),
            (Tokens::Keyed(keyed), Some(key)) => Ok(keyed.cache(key)),
            (Tokens::Keyed(_), None) => Err(Error::MissingCredentialKey {}),
        }
    }

    /// A keyed request's way to its token: the cache of the key `extensions` name, and that
    /// cache's token if it is fresh. (On a layer with one cache, that cache.)
    #[inline]
    pub(crate) fn keyed_lookup(
        &self,
        extensions: &Extensions,
    ) -> Result<(TokenCache, Option<Token>), Error> {
        match (&self.tokens, extensions.get::<CredentialKey>()) {
            (Tokens::Keyed(keyed), Some(key)) => Ok(keyed.lookup(key)),
            (Tokens::Keyed(_), None) => Err(Error::MissingCredentialKey {}),
            (Tokens::One(cache), _) => Ok((cache.clone(), cache.fresh())),
        }
    }

    pub(crate) fn counters(&self) -> &Counters {
        match &self.tokens {
            Tokens::One(cache) => cache.counters(),
            Tokens::Keyed(keyed) => keyed.counters(),
        }
    }

    pub(crate) fn config(&self) -> &CacheConfig {
        match &self.tokens {
            Tokens::One(cache) => cache.config(),
            Tokens::Keyed(keyed) => keyed.config(),
        }
    }
}
