//! The constructors of [`SymblAuthLayer`], beside the builder they make, as hyper-util keeps
//! `Client::builder` with its `Builder`: the layer itself never needs the builder.

use std::sync::Arc;

use super::SymblAuthLayerBuilder;
#[cfg(doc)]
use crate::Error;
use crate::{Credentials, SymblAuthLayer, TokenSource};

impl SymblAuthLayer {
    /// A layer for Symbl's API (`api.symbl.ai` and `api-labs.symbl.ai`), with the default
    /// settings and the built-in token client (so only with one of the features `rustls`,
    /// `rustls-ring`, `rustls-no-provider`, `native-tls`; without them, use
    /// [`builder`](Self::builder) and
    /// [`token_client`](SymblAuthLayerBuilder::token_client)).
    ///
    /// It cannot fail: the client is checked at the first token request, whose error every
    /// waiting call gets (under `rustls-no-provider`, [`Error::InvalidConfig`] if no provider
    /// was installed).
    #[cfg(builtin_client)]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            feature = "rustls",
            feature = "rustls-ring",
            feature = "rustls-no-provider",
            feature = "native-tls"
        )))
    )]
    pub fn new(credentials: Credentials) -> Self {
        Self::builder(credentials)
            .finish(false)
            .unwrap_or_else(|_| unreachable!("the default settings are valid"))
    }

    /// A builder for Symbl's token endpoint, to change the token URL, the hosts that get the
    /// token, and the timings.
    pub fn builder(credentials: Credentials) -> SymblAuthLayerBuilder {
        SymblAuthLayerBuilder::symbl(credentials)
    }

    /// A builder for a layer whose tokens come from `source` (an OAuth2 client, your own
    /// fetcher, a test double) instead of Symbl's token endpoint.
    ///
    /// No host gets the token until named with
    /// [`allow_host`](SymblAuthLayerBuilder::allow_host) (`build` fails without one); requests
    /// whose URI has no authority get it, as from any layer (`allow_host`'s rule 2). The layer
    /// adds to the source what it adds to Symbl's: single flight, caching, refresh ahead,
    /// timeouts, retries with backoff, and one retry after a 401.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use symbl_auth::{AccessToken, TokenFuture, TokenSource, SymblAuthLayer};
    /// # #[derive(Debug)]
    /// # struct MySource;
    /// # impl TokenSource for MySource {
    /// #     fn fetch_token(&self) -> TokenFuture<'_> {
    /// #         Box::pin(async { AccessToken::new("t", Duration::from_secs(60)) })
    /// #     }
    /// # }
    /// let layer = SymblAuthLayer::from_source(MySource)
    ///     .allow_host("api.example.com")
    ///     .build()?;
    /// # Ok::<(), symbl_auth::Error>(())
    /// ```
    pub fn from_source(source: impl TokenSource) -> SymblAuthLayerBuilder {
        SymblAuthLayerBuilder::custom(Arc::new(source))
    }
}
