//! [`SymblAuthLayer`]: the configuration, and the token cache its clones share. Its
//! constructors (`new`, `builder`, `from_source`) live beside the builder they use
//! (`builder/layer.rs`), so this file needs nothing above it.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::cache::TokenCache;
use crate::shared::{Shared, Tokens};
use crate::{AccessToken, CredentialKey, Error, Stats, SymblAuth};

/// A [`Layer`] that authenticates requests to Symbl with a cached access token.
///
/// Clones share one token cache, so every service built from one layer (and every clone of
/// those services) makes at most one token request at a time. See the
/// [crate documentation](crate) for an example and the rules it follows.
#[derive(Clone)]
pub struct SymblAuthLayer {
    pub(crate) shared: Arc<Shared>,
}

impl SymblAuthLayer {
    /// The current access token from the shared cache, fetched if need be, with the lifetime it
    /// has left ([`AccessToken::expires_in`] counts from the moment this returns). For handing
    /// a token to tools outside the layer (curl, a CLI); requests sent through the layer never
    /// need it. Fails as a request would: with the fetch's [`Error`], or [`Error::NoRuntime`]
    /// outside a Tokio runtime when there is no cached token. On a
    /// [`keyed`](Self::keyed) layer, [`Error::MissingCredentialKey`]: use
    /// [`access_token_for`](Self::access_token_for).
    ///
    /// ```
    /// use std::time::Duration;
    /// use symbl_auth::SymblAuthLayer;
    /// # use symbl_auth::{AccessToken, TokenFuture, TokenSource};
    /// # #[derive(Debug)]
    /// # struct OneHourTokens;
    /// # impl TokenSource for OneHourTokens {
    /// #     fn fetch_token(&self) -> TokenFuture<'_> {
    /// #         Box::pin(async { AccessToken::new("token-1", Duration::from_secs(3600)) })
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), symbl_auth::Error> {
    /// // Any source; `SymblAuthLayer::new(credentials)` for Symbl's.
    /// let layer = SymblAuthLayer::from_source(OneHourTokens)
    ///     .allow_host("api.example.com")
    ///     .build()?;
    ///
    /// let token = layer.access_token().await?; // fetched: granted for an hour
    /// assert_eq!(token.secret(), "token-1");
    /// assert_eq!(token.expires_in(), Duration::from_secs(3600));
    ///
    /// tokio::time::advance(Duration::from_secs(600)).await;
    /// let token = layer.access_token().await?; // the cached one: 50 minutes left
    /// assert_eq!(token.expires_in(), Duration::from_secs(3000));
    /// assert_eq!(layer.stats().token_requests, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        expiring(self.shared.cache_for_key(None)?).await
    }

    /// [`access_token`](Self::access_token) for the credential `key` names, on a
    /// [`keyed`](Self::keyed) layer (a use of the key, as a request's). On a layer that is not
    /// keyed, `key` is ignored: its one token.
    pub async fn access_token_for(&self, key: &CredentialKey) -> Result<AccessToken, Error> {
        expiring(self.shared.cache_for_key(Some(key))?).await
    }

    /// What the layer has done so far: token requests, failures, refreshes, retries. Counted
    /// by every clone of the layer and every service made from it; reading them is a few atomic
    /// loads. [`Stats`] says what each counter counts, with an example.
    ///
    /// ```
    /// # fn export(layer: &symbl_auth::SymblAuthLayer) {
    /// let stats = layer.stats();
    /// println!("symbl_token_requests_total {}", stats.token_requests);
    /// println!("symbl_token_failures_total {}", stats.token_failures);
    /// println!("symbl_401_retries_total {}", stats.retries);
    /// # }
    /// ```
    ///
    /// On a [`keyed`](Self::keyed) layer, the sums over every key, evicted ones included:
    /// counters never go down. [`key_stats`](Self::key_stats) has one key's.
    pub fn stats(&self) -> Stats {
        self.shared.counters().snapshot()
    }

    /// One key's counters on a [`keyed`](Self::keyed) layer, while the key is kept (since it
    /// was last added: an evicted key starts again from zero). `None` for a key not kept, and
    /// on a layer that is not keyed. Reading does not count as a use of the key.
    pub fn key_stats(&self, key: &CredentialKey) -> Option<Stats> {
        match &self.shared.tokens {
            Tokens::Keyed(keyed) => keyed.key_stats(key),
            Tokens::One(_) => None,
        }
    }

    /// How many keys a [`keyed`](Self::keyed) layer keeps now: at most its
    /// [`max_keys`](crate::SymblAuthLayerBuilder::max_keys). 0 on a layer that is not keyed.
    pub fn cached_keys(&self) -> usize {
        match &self.shared.tokens {
            Tokens::Keyed(keyed) => keyed.len(),
            Tokens::One(_) => 0,
        }
    }
}

/// A token from `cache`, with the lifetime it has left.
async fn expiring(cache: TokenCache) -> Result<AccessToken, Error> {
    let (token, expires_at) = cache.get_with_expiry().await?;
    let left = expires_at.saturating_duration_since(tokio::time::Instant::now());
    Ok(AccessToken::from_header(token.header, left).bound(token.binding))
}

impl<S> Layer<S> for SymblAuthLayer {
    type Service = SymblAuth<S>;

    fn layer(&self, inner: S) -> SymblAuth<S> {
        SymblAuth::new(inner, Arc::clone(&self.shared))
    }
}

impl fmt::Debug for SymblAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("SymblAuthLayer");
        match &self.shared.tokens {
            Tokens::One(cache) => debug.field("token_source", &cache.source()),
            Tokens::Keyed(keyed) => debug.field("keyed", keyed),
        };
        debug
            .field("allowed_hosts", &self.shared.scope.hosts())
            .field("replay_limit", &self.shared.replay_limit)
            .field("timings", self.shared.config())
            .finish()
    }
}
