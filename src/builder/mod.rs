//! [`SymblAuthLayerBuilder`]: every setting, its default, and why.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{CacheConfig, MakeSource};
use crate::oauth2::ClientCredentials;
use crate::redact::redact_url;
use crate::replay::DEFAULT_REPLAY_LIMIT;
use crate::transport::ClientSettings;
#[cfg(doc)]
use crate::SymblAuthLayer;
use crate::{Credentials, Error, SymblTokenSource, TokenSource};

/// Configures a [`SymblAuthLayer`]; made by [`SymblAuthLayer::builder`] (Symbl's token
/// endpoint) or [`SymblAuthLayer::from_source`] (any [`TokenSource`]).
///
/// Each setting says its unit, its default and what zero means; `build` checks them all.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use symbl_auth::{Credentials, SymblAuthLayer};
///
/// // A Symbl-compatible server on loopback, over plain http.
/// let local = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
/// let layer = SymblAuthLayer::builder(Credentials::new("app-id", "app-secret"))
///     .token_url("http://127.0.0.1:8080/oauth2/token:generate") // its host gets the token
///     .allow_host("localhost")                                  // and this one too
///     .token_client(local) // optional with a TLS feature on (the built-in client)
///     .refresh_window(Duration::from_secs(600))
///     .replay_limit(256 * 1024)
///     .build()?;
/// # Ok::<(), symbl_auth::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SymblAuthLayerBuilder {
    source: Source,
    /// `http_client` and `token_client`, for Symbl's token endpoint.
    client: ClientSettings,
    extra_hosts: Vec<String>,
    allow_insecure_http: bool,
    replay_limit: usize,
    /// The origin of DPoP proofs for requests without one (`dpop_origin`).
    dpop_origin: Option<String>,
    timings: CacheConfig,
    /// `max_keys` and `idle_timeout`, for a keyed layer only.
    keys: KeySettings,
    #[cfg(feature = "websocket")]
    handshake_timeout: Duration,
    /// Where the layer shares its tokens with other processes (`shared_store`).
    #[cfg(feature = "redis")]
    store: Option<Arc<dyn crate::store::TokenStore>>,
}

/// The bounds of a keyed layer, as set (`None`: the default).
#[derive(Clone, Copy, Debug, Default)]
struct KeySettings {
    max_keys: Option<usize>,
    idle_timeout: Option<Duration>,
}

/// Where the layer's tokens come from.
enum Source {
    /// Symbl's token endpoint: its host (or Symbl's API hosts, for the default URL) gets the
    /// token without being named.
    Symbl {
        credentials: Credentials,
        token_url: Option<String>,
    },
    /// Any source: only hosts named with `allow_host` get the token.
    Custom {
        source: Arc<dyn TokenSource>,
        /// A `token_url` given by mistake, refused at `build`.
        token_url: Option<String>,
        /// The same source when it is one of the crate's own, whose settings `build` checks.
        built_in: Option<BuiltIn>,
    },
    /// A source per credential key, made the first time a request names the key: only hosts
    /// named with `allow_host` get the tokens.
    Keyed {
        make: Arc<MakeSource>,
        /// A `token_url` given by mistake, refused at `build`.
        token_url: Option<String>,
    },
}

/// A source of the crate's own, given to `from_source`.
enum BuiltIn {
    OAuth2(ClientCredentials),
    Symbl(SymblTokenSource),
}

impl BuiltIn {
    fn of(source: &dyn Any) -> Option<Self> {
        if let Some(oauth2) = source.downcast_ref::<ClientCredentials>() {
            return Some(Self::OAuth2(oauth2.clone()));
        }
        let symbl = source.downcast_ref::<SymblTokenSource>()?;
        Some(Self::Symbl(symbl.clone()))
    }

    /// Checks its settings (a plain-http token URL without the opt-in among them) and
    /// prepares its client.
    fn prepare(&self) -> Result<(), Error> {
        match self {
            Self::OAuth2(source) => source.prepare(),
            Self::Symbl(source) => source.prepare(),
        }
    }
}

impl SymblAuthLayerBuilder {
    /// Symbl tokens live 24 h; five minutes leaves a refresh time to retry through a short
    /// outage before any request has to wait.
    pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);
    /// Symbl answers in well under a second; a hung connection must not hold every waiting
    /// request for long.
    pub const DEFAULT_TOKEN_REQUEST_TIMEOUT: Duration = crate::attempt::DEFAULT_ATTEMPT_TIMEOUT;
    /// The longest a request without a valid token waits while the endpoint keeps failing.
    pub const DEFAULT_TOKEN_RETRY_BUDGET: Duration = Duration::from_secs(30);
    /// After a failed fetch, requests get its error at once for this long instead of each
    /// starting a fetch: it bounds the load on a failing endpoint.
    pub const DEFAULT_FAILURE_COOLDOWN: Duration = Duration::from_secs(5);
    /// The limit on each streaming handshake: 10 s, as for one token request to the same
    /// host (and Python `websockets`' `open_timeout`); a handshake to Symbl takes well under a
    /// second.
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    pub(crate) fn symbl(credentials: Credentials) -> Self {
        Self::with_source(Source::Symbl {
            credentials,
            token_url: None,
        })
    }

    pub(crate) fn custom<T: TokenSource>(source: Arc<T>) -> Self {
        let built_in = BuiltIn::of(&*source as &dyn Any);
        Self::with_source(Source::Custom {
            source,
            token_url: None,
            built_in,
        })
    }

    fn with_source(source: Source) -> Self {
        Self {
            source,
            client: ClientSettings::default(),
            extra_hosts: Vec::new(),
            allow_insecure_http: false,
            replay_limit: DEFAULT_REPLAY_LIMIT,
            dpop_origin: None,
            timings: CacheConfig {
                refresh_window: Self::DEFAULT_REFRESH_WINDOW,
                attempt_timeout: Self::DEFAULT_TOKEN_REQUEST_TIMEOUT,
                retry_budget: Self::DEFAULT_TOKEN_RETRY_BUDGET,
                failure_cooldown: Self::DEFAULT_FAILURE_COOLDOWN,
            },
            keys: KeySettings::default(),
            #[cfg(feature = "websocket")]
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
            #[cfg(feature = "redis")]
            store: None,
        }
    }

    /// Symbl's token endpoint, an absolute `https://` URL (or `http://` to loopback, or with
    /// [`allow_insecure_http`](Self::allow_insecure_http)). Default
    /// [`DEFAULT_TOKEN_URL`](crate::DEFAULT_TOKEN_URL),
    /// `https://api.symbl.ai/oauth2/token:generate`. Its host is the first host that gets the
    /// token, in place of Symbl's API hosts ([`SYMBL_API_HOSTS`](crate::SYMBL_API_HOSTS)).
    ///
    /// Only for a layer made with [`SymblAuthLayer::builder`]: a layer made
    /// [`from_source`](SymblAuthLayer::from_source) fails to build with it, since its source
    /// knows its own URL.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        match &mut self.source {
            Source::Symbl { token_url, .. }
            | Source::Custom { token_url, .. }
            | Source::Keyed { token_url, .. } => {
                *token_url = Some(url.into());
            }
        }
        self
    }

    /// Attaches the token to requests for `host` too, on any port. May be called more than
    /// once. By default the allowed hosts are the token URL's host (for Symbl's default URL,
    /// [`SYMBL_API_HOSTS`](crate::SYMBL_API_HOSTS)); a layer made
    /// [`from_source`](SymblAuthLayer::from_source) has none until named here.
    ///
    /// The rules for which requests get the token, in order:
    /// 1. A request that already has an `Authorization` header, the header the layer would
    ///    set, is left as the caller made it, and costs no token fetch. The layer never
    ///    overwrites it. Any other header, `x-api-key` included, is left alone and does not
    ///    stop the token: an API gateway (AWS API Gateway, for one) may want an `x-api-key`
    ///    and a bearer token both. (On a streaming handshake, where the layer sets
    ///    `X-API-KEY`, that header counts too: see `websocket::connect`.)
    /// 2. **A request whose URI has no authority gets the token**, whatever the allowed hosts:
    ///    its URI is only a path (`/v1/conversations`, or the `/package.Service/Method` of a
    ///    tonic client), so the layer cannot see where it goes nor over which scheme, and takes
    ///    it to go where the wrapped service sends everything (a tonic `Channel` adds its own
    ///    origin). The wrapped service is trusted with the token: put the layer only in front
    ///    of a service bound to a host you mean to authenticate to, over `https://` (rule 4
    ///    cannot apply: over an `http://` channel the token travels in clear).
    /// 3. A request to a host that is not allowed passes through untouched, without the token.
    /// 4. A request to an allowed host over plain `http://` is refused
    ///    ([`Error::InsecureTransport`]) unless the host is loopback or
    ///    [`allow_insecure_http`](Self::allow_insecure_http) is on.
    ///
    /// So the token goes to the allowed hosts, and to whatever origin the wrapped service
    /// sends authority-less requests to; nowhere else.
    ///
    /// `host` is a bare host name or IP address (`api.example.com`, `127.0.0.2`, `[::1]`),
    /// compared without regard to case: `build` refuses one with a scheme, port, path, user
    /// name or wildcard, which would never match.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.extra_hosts.push(host.into());
        self
    }

    /// Allows sending the token (and fetching it) over plain `http://` to hosts that are not
    /// loopback. Default `false`: anyone on the path could read the token. Loopback hosts are
    /// always allowed, for local test servers. A [`ClientCredentials`] source has its own
    /// setting for its token URL, which this one does not reach.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

impl fmt::Debug for SymblAuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("SymblAuthLayerBuilder");
        match &self.source {
            Source::Symbl {
                credentials,
                token_url,
            } => debug
                .field("credentials", credentials)
                .field("token_url", &token_url.as_deref().map(redact_url)),
            Source::Custom { source, .. } => debug.field("token_source", source),
            Source::Keyed { .. } => debug.field("keys", &self.keys),
        };
        debug
            .field("token_client", &self.client)
            .field("extra_hosts", &self.extra_hosts)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("replay_limit", &self.replay_limit)
            .field("timings", &self.timings);
        #[cfg(feature = "redis")]
        debug.field("shared_store", &self.store);
        debug.finish()
    }
}

mod build;
mod client;
mod keyed;
mod layer;
mod settings;
#[cfg(feature = "redis")]
mod store;
#[cfg(test)]
mod tests;
