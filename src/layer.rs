//! [`SymblAuthLayer`]: the configuration, and the token cache its clones share. Its
//! constructors (`new`, `builder`, `from_source`) live beside the builder they use
//! (`builder/layer.rs`), so this file needs nothing above it.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::shared::Shared;
use crate::{AccessToken, Error, Stats, SymblAuth};

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
    /// outside a Tokio runtime when there is no cached token.
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
        let (token, expires_at) = self.shared.cache.get_with_expiry().await?;
        let left = expires_at.saturating_duration_since(tokio::time::Instant::now());
        Ok(AccessToken::from_header(token.header, left))
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
