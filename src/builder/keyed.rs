//! A layer with many credentials: [`SymblAuthLayer::keyed`], and its bounds.

use std::sync::Arc;
use std::time::Duration;

use super::{KeySettings, Source, SymblAuthLayerBuilder};
use crate::cache::{KeyLimits, MakeSource};
#[cfg(doc)]
use crate::Error;
use crate::{CredentialKey, SymblAuthLayer, TokenSource};

impl SymblAuthLayer {
    /// A builder for a layer with many credentials: each request names its own with a
    /// [`CredentialKey`] in its extensions, and gets the token of that credential.
    ///
    /// `make` makes the token source of a key the first time the layer meets it (a
    /// [`SymblTokenSource`](crate::SymblTokenSource), an OAuth2
    /// [`ClientCredentials`](crate::oauth2::ClientCredentials), any [`TokenSource`]); it is
    /// called outside any lock, and may be called twice for a key two requests bring at once
    /// (one source is kept). Each key has a token cache of its own, with every guarantee of a
    /// layer's: one fetch at a time per key, refresh ahead, one retry after a 401 that drops
    /// only that key's token, a failure cool-down per key. The layer keeps at most
    /// [`max_keys`](SymblAuthLayerBuilder::max_keys) keys, the least recently used going
    /// first, and drops a key unused for
    /// [`idle_timeout`](SymblAuthLayerBuilder::idle_timeout).
    ///
    /// As with [`from_source`](Self::from_source), no host gets a token until named with
    /// [`allow_host`](SymblAuthLayerBuilder::allow_host), and every other setting applies to
    /// every key. A source's own settings (a plain-http token URL, say) are checked at its
    /// first token request, not at `build`.
    ///
    /// A request for an allowed host without a key fails with
    /// [`Error::MissingCredentialKey`], and nothing is sent (but for one that carries its own
    /// `Authorization`, which passes as the caller made it). A key on a request to a layer
    /// that is not keyed is ignored.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use symbl_auth::{AccessToken, TokenFuture, TokenSource};
    /// use symbl_auth::{CredentialKey, SymblAuthLayer};
    /// # #[derive(Debug)]
    /// # struct TenantSource(String);
    /// # impl TokenSource for TenantSource {
    /// #     fn fetch_token(&self) -> TokenFuture<'_> {
    /// #         Box::pin(async { AccessToken::new("t", Duration::from_secs(60)) })
    /// #     }
    /// # }
    ///
    /// let layer = SymblAuthLayer::keyed(|key: &CredentialKey| TenantSource(key.to_string()))
    ///     .allow_host("api.example.com")
    ///     .max_keys(10_000)
    ///     .build()?;
    ///
    /// let mut request = http::Request::get("https://api.example.com/v1/items").body(())?;
    /// request.extensions_mut().insert(CredentialKey::new("tenant-42"));
    /// # let _ = layer;
    /// # Ok::<(), symbl_auth::BoxError>(())
    /// ```
    pub fn keyed<F, S>(make: F) -> SymblAuthLayerBuilder
    where
        F: Fn(&CredentialKey) -> S + Send + Sync + 'static,
        S: TokenSource,
    {
        let make: Arc<MakeSource> = Arc::new(move |key: &CredentialKey| {
            let source: Arc<dyn TokenSource> = Arc::new(make(key));
            source
        });
        SymblAuthLayerBuilder::with_source(Source::Keyed {
            make,
            token_url: None,
        })
    }
}

impl SymblAuthLayerBuilder {
    /// The most keys a [`keyed`](SymblAuthLayer::keyed) layer keeps, each with its source and
    /// token (a few kilobytes each: BENCHMARKS.md). Default
    /// [10,000](Self::DEFAULT_MAX_KEYS). A new key past it evicts the least recently used
    /// one; a new key is never refused. A request in flight keeps its key's token, and a
    /// fetch others wait for runs on, whatever is evicted.
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]), and so is this setting on a
    /// layer that is not keyed.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.keys.max_keys = Some(keys);
        self
    }

    /// How long a key of a [`keyed`](SymblAuthLayer::keyed) layer is kept unused, before it is
    /// dropped with its token. A duration; default [1 hour](Self::DEFAULT_IDLE_TIMEOUT). A
    /// dropped key's next request fetches again.
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]), and so is this setting on a
    /// layer that is not keyed.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.keys.idle_timeout = Some(idle);
        self
    }

    /// Ten thousand tenants, at a few kilobytes each: tens of megabytes at most.
    pub const DEFAULT_MAX_KEYS: usize = 10_000;
    /// A key unused for an hour is probably a tenant gone for the day; its next request costs
    /// one token request (which Symbl answers from its own cache).
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
}

impl KeySettings {
    /// The bounds to build with, for a layer that is `keyed` or not.
    pub(super) fn checked(self, keyed: bool) -> Result<KeyLimits, crate::Error> {
        if !keyed && (self.max_keys.is_some() || self.idle_timeout.is_some()) {
            return Err(crate::Error::config(
                "max_keys and idle_timeout are for a keyed layer (SymblAuthLayer::keyed)",
            ));
        }
        let limits = KeyLimits {
            max_keys: self
                .max_keys
                .unwrap_or(SymblAuthLayerBuilder::DEFAULT_MAX_KEYS),
            idle_timeout: self
                .idle_timeout
                .unwrap_or(SymblAuthLayerBuilder::DEFAULT_IDLE_TIMEOUT),
        };
        if limits.max_keys == 0 {
            return Err(crate::Error::config(
                "max_keys must be above zero: a keyed layer with no room could keep no token",
            ));
        }
        if limits.idle_timeout.is_zero() {
            return Err(crate::Error::config(
                "idle_timeout must be above zero: every key would be dropped at once",
            ));
        }
        Ok(limits)
    }
}
