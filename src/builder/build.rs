//! `build`: every setting checked, the source and its cache made, the layer assembled.

use std::sync::Arc;

use super::{Source, SymblAuthLayerBuilder};
use crate::cache::{KeyedCaches, TokenCache};
#[cfg(doc)]
use crate::oauth2::ClientCredentials;
use crate::scope::{allowed_host, Scope, LAYER_INSECURE_HTTP};
use crate::shared::{Shared, Tokens};
use crate::symbl::{DEFAULT_TOKEN_URL, SYMBL_API_HOSTS};
use crate::transport::check_token_url;
use crate::{Error, SymblAuthLayer, SymblTokenSource, TokenSource};

impl SymblAuthLayerBuilder {
    /// Checks the settings and builds the layer.
    ///
    /// Fails with [`Error::InvalidConfig`] for a token URL that is not an absolute http(s)
    /// URL, an `allow_host` that is not a bare host, a zero `token_request_timeout`,
    /// `token_retry_budget`, `failure_cooldown` or `handshake_timeout`, a layer
    /// [`from_source`](SymblAuthLayer::from_source) with no allowed host, a token URL or
    /// client settings, both `http_client` and `token_client`, no token client at all (a build
    /// without a built-in one and no `token_client`), HTTP client settings that `reqwest`
    /// cannot build, or (under `rustls-no-provider`) no installed rustls provider; and with
    /// [`Error::InsecureTransport`] for a plain `http://` token URL to a host that is not
    /// loopback (unless allowed). The settings of a [`ClientCredentials`] or
    /// [`SymblTokenSource`] source are checked too.
    pub fn build(self) -> Result<SymblAuthLayer, Error> {
        self.finish(true)
    }

    /// [`build`](Self::build); with `prepare` false, the token client is not checked before
    /// its first request (for [`SymblAuthLayer::new`], which cannot fail).
    pub(crate) fn finish(self, prepare: bool) -> Result<SymblAuthLayer, Error> {
        let timings = &self.timings;
        for (setting, value, why) in [
            (
                "token_request_timeout",
                timings.attempt_timeout,
                "no token request could finish",
            ),
            (
                "token_retry_budget",
                timings.retry_budget,
                "no token request would fit in it",
            ),
            (
                "failure_cooldown",
                timings.failure_cooldown,
                "it bounds how often a failing token endpoint is asked (in tests, use a \
                 millisecond)",
            ),
        ] {
            if value.is_zero() {
                return Err(Error::config(format!(
                    "{setting} must be above zero: {why}"
                )));
            }
        }
        #[cfg(feature = "websocket")]
        if self.handshake_timeout.is_zero() {
            return Err(Error::config("handshake_timeout must be above zero"));
        }
        let dpop_origin = self
            .dpop_origin
            .as_deref()
            .map(crate::dpop::checked_origin)
            .transpose()?;
        let limits = self
            .keys
            .checked(matches!(self.source, Source::Keyed { .. }))?;
        let mut hosts = Vec::new();
        #[cfg(feature = "redis")]
        let store = self.store;
        // The seal's provider, for a keyed layer too (whose sources are made later).
        #[cfg(feature = "redis")]
        if let Some(store) = &store {
            crate::store::seal::provider(&**store)?;
        }
        // The cache of the layer's one source, sharing its tokens through the store if any.
        let timings = self.timings.clone();
        let one = |source: Arc<dyn TokenSource>| -> Result<TokenCache, Error> {
            let cache = TokenCache::new(source, timings.clone());
            #[cfg(feature = "redis")]
            if let Some(store) = &store {
                let key = cache.source().cache_key().ok_or_else(|| {
                    Error::config(
                        "shared_store needs a token source that says what determines its \
                         tokens (TokenSource::cache_key); this one returns None",
                    )
                })?;
                let fleet = crate::cache::Fleet::try_new(Arc::clone(store), &key)?;
                return Ok(cache.with_fleet(fleet));
            }
            Ok(cache)
        };
        let tokens = match self.source {
            Source::Symbl {
                credentials,
                token_url,
            } => {
                let url = match token_url {
                    Some(url) => {
                        hosts.push(check_token_url(
                            &url,
                            self.allow_insecure_http,
                            LAYER_INSECURE_HTTP,
                        )?);
                        url
                    }
                    None => {
                        hosts.extend(SYMBL_API_HOSTS.map(String::from));
                        DEFAULT_TOKEN_URL.to_owned()
                    }
                };
                let source = SymblTokenSource::configured(
                    url,
                    credentials,
                    self.client,
                    self.allow_insecure_http,
                );
                if prepare {
                    source.prepare()?;
                }
                Tokens::One(one(Arc::new(source))?)
            }
            Source::Custom {
                token_url: Some(_), ..
            }
            | Source::Keyed {
                token_url: Some(_), ..
            } => {
                return Err(Error::config(
                    "token_url is for Symbl's token endpoint; a layer from a token source \
                     names the hosts that get its token with allow_host",
                ))
            }
            Source::Custom { .. } | Source::Keyed { .. } if self.client.is_set() => {
                return Err(Error::config(
                    "http_client and token_client are for Symbl's token endpoint; a token \
                     source has its own (ClientCredentials::http_client, \
                     ClientCredentials::token_client)",
                ))
            }
            Source::Keyed {
                make,
                token_url: None,
            } => {
                if self.extra_hosts.is_empty() {
                    return Err(Error::config(
                        "a keyed layer sends its tokens to no host: name them with allow_host",
                    ));
                }
                let keyed = KeyedCaches::new(make, self.timings.clone(), limits);
                #[cfg(feature = "redis")]
                let keyed = match &store {
                    Some(store) => keyed.with_store(Arc::clone(store)),
                    None => keyed,
                };
                Tokens::Keyed(keyed)
            }
            Source::Custom {
                source,
                token_url: None,
                built_in,
            } => {
                if let (Some(built_in), true) = (built_in, prepare) {
                    built_in.prepare()?;
                }
                if self.extra_hosts.is_empty() {
                    return Err(Error::config(
                        "a layer from a token source sends its token to no host: name them \
                         with allow_host",
                    ));
                }
                Tokens::One(one(source)?)
            }
        };
        for host in &self.extra_hosts {
            let host = allowed_host(host)?;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        Ok(SymblAuthLayer {
            shared: Arc::new(Shared {
                tokens,
                scope: Scope::new(hosts, self.allow_insecure_http),
                replay_limit: self.replay_limit,
                dpop: crate::dpop::Dpop::new(dpop_origin),
                #[cfg(feature = "websocket")]
                handshake_timeout: self.handshake_timeout,
            }),
        })
    }
}
