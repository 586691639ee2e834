//! [`SymblAuthLayerBuilder`]: every setting, its default, and why.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;

use crate::cache::{CacheConfig, TokenCache};
use crate::layer::Shared;
use crate::replay::DEFAULT_REPLAY_LIMIT;
use crate::scope::{may_travel, Scope};
use crate::token_endpoint::DEFAULT_TOKEN_URL;
use crate::{Credentials, Error, SymblAuthLayer, SymblTokenSource, TokenSource};

/// Configures a [`SymblAuthLayer`]; made by [`SymblAuthLayer::builder`].
///
/// ```
/// use std::time::Duration;
/// use symbl_auth::{Credentials, SymblAuthLayer};
///
/// let layer = SymblAuthLayer::builder(Credentials::new("app-id", "app-secret"))
///     .token_url("http://127.0.0.1:8080/oauth2/token:generate")
///     .allow_host("localhost")
///     .refresh_window(Duration::from_secs(600))
///     .build()?;
/// # Ok::<(), symbl_auth::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SymblAuthLayerBuilder {
    credentials: Credentials,
    token_url: Option<String>,
    extra_hosts: Vec<String>,
    allow_insecure_http: bool,
    token_source: Option<Arc<dyn TokenSource>>,
    replay_limit: usize,
    timings: CacheConfig,
}

impl SymblAuthLayerBuilder {
    /// Symbl tokens live 24 h; five minutes leaves a refresh time to retry through a short
    /// outage before any request has to wait.
    pub const DEFAULT_REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);
    /// Symbl answers in well under a second; a hung connection must not hold every waiting
    /// request for long.
    pub const DEFAULT_TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// The longest a request without a valid token waits while the endpoint keeps failing.
    pub const DEFAULT_TOKEN_RETRY_BUDGET: Duration = Duration::from_secs(30);
    /// After a failed fetch, requests get its error at once for this long instead of each
    /// starting a fetch: it bounds the load on a failing endpoint.
    pub const DEFAULT_FAILURE_COOLDOWN: Duration = Duration::from_secs(5);

    pub(crate) fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            token_url: None,
            extra_hosts: Vec::new(),
            allow_insecure_http: false,
            token_source: None,
            replay_limit: DEFAULT_REPLAY_LIMIT,
            timings: CacheConfig {
                refresh_window: Self::DEFAULT_REFRESH_WINDOW,
                attempt_timeout: Self::DEFAULT_TOKEN_REQUEST_TIMEOUT,
                retry_budget: Self::DEFAULT_TOKEN_RETRY_BUDGET,
                failure_cooldown: Self::DEFAULT_FAILURE_COOLDOWN,
            },
        }
    }

    /// The token endpoint (default `https://api.symbl.ai/oauth2/token:generate`). Its host is
    /// the first host that gets the token, in place of `api.symbl.ai`.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Attaches the token to requests for `host` too (any port). Requests to hosts not allowed
    /// pass through untouched.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.extra_hosts.push(host.into());
        self
    }

    /// Allows sending the token (and fetching it) over plain `http://` to hosts that are not
    /// loopback. Off by default: anyone on the path could read the token. Loopback hosts are
    /// always allowed, for local test servers.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// How long before expiry one background refresh starts while requests keep using the
    /// current token (default [5 minutes](Self::DEFAULT_REFRESH_WINDOW); at most half the
    /// token's lifetime is used).
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.timings.refresh_window = window;
        self
    }

    /// The limit on one token request, connect to last byte (default
    /// [10 s](Self::DEFAULT_TOKEN_REQUEST_TIMEOUT)).
    pub fn token_request_timeout(mut self, timeout: Duration) -> Self {
        self.timings.attempt_timeout = timeout;
        self
    }

    /// How long one fetch may keep retrying a failing token endpoint, backoff included
    /// (default [30 s](Self::DEFAULT_TOKEN_RETRY_BUDGET)).
    pub fn token_retry_budget(mut self, budget: Duration) -> Self {
        self.timings.retry_budget = budget;
        self
    }

    /// How long a failed fetch's error is handed out before another fetch may start (default
    /// [5 s](Self::DEFAULT_FAILURE_COOLDOWN); longer if the endpoint sent `Retry-After`).
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.timings.failure_cooldown = cooldown;
        self
    }

    /// The largest request body kept for a retry after a 401 (default 64 KiB). Larger bodies
    /// are sent once, and their 401 is returned to the caller.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// Fetches tokens from `source` instead of Symbl's endpoint (the credentials are then
    /// unused). The layer still adds timeouts, retries, caching and single flight.
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.token_source = Some(Arc::new(source));
        self
    }

    /// Checks the settings and builds the layer.
    ///
    /// Fails with [`Error::InvalidConfig`] for a token URL that is not an absolute http(s)
    /// URL, an empty host or a zero timeout, and with [`Error::InsecureTransport`] for a plain
    /// `http://` token URL to a host that is not loopback (unless allowed).
    pub fn build(self) -> Result<SymblAuthLayer, Error> {
        let url = self.token_url.as_deref().unwrap_or(DEFAULT_TOKEN_URL);
        let uri: Uri = url
            .parse()
            .map_err(|_| Error::config("token_url is not a valid URL"))?;
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Err(Error::config(
                "token_url must be an absolute http or https URL",
            ));
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(Error::config("token_url must be an http or https URL"));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(Error::config("token_url must not contain credentials"));
        }
        if self.extra_hosts.iter().any(|host| host.trim().is_empty()) {
            return Err(Error::config("allow_host needs a host name"));
        }
        if self.timings.attempt_timeout.is_zero() || self.timings.retry_budget.is_zero() {
            return Err(Error::config(
                "token_request_timeout and token_retry_budget must be above zero",
            ));
        }
        if !may_travel(Some(scheme), host, self.allow_insecure_http) {
            return Err(Error::InsecureTransport {
                host: host.to_owned(),
            });
        }
        let extra = self.extra_hosts.iter().map(|host| host.trim());
        let hosts = std::iter::once(host).chain(extra);
        let hosts = hosts.map(str::to_ascii_lowercase).collect();
        Ok(self.assemble(hosts))
    }

    /// The default settings cannot fail to build; this skips the checks.
    pub(crate) fn build_default(self) -> SymblAuthLayer {
        self.assemble(vec!["api.symbl.ai".to_owned()])
    }

    fn assemble(self, hosts: Vec<String>) -> SymblAuthLayer {
        let url = self.token_url.as_deref().unwrap_or(DEFAULT_TOKEN_URL);
        let source = self
            .token_source
            .unwrap_or_else(|| Arc::new(SymblTokenSource::new(url, self.credentials)));
        SymblAuthLayer {
            shared: Arc::new(Shared {
                cache: TokenCache::new(source, self.timings),
                scope: Scope::new(hosts, self.allow_insecure_http),
                replay_limit: self.replay_limit,
            }),
        }
    }
}

impl fmt::Debug for SymblAuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuthLayerBuilder")
            .field("credentials", &self.credentials)
            .field("token_url", &self.token_url)
            .field("extra_hosts", &self.extra_hosts)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("token_source", &self.token_source)
            .field("replay_limit", &self.replay_limit)
            .field("timings", &self.timings)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SymblAuthLayerBuilder {
        SymblAuthLayer::builder(Credentials::new("id", "secret"))
    }

    #[test]
    fn token_url_host_is_allowed_by_default() {
        let layer = builder()
            .token_url("http://127.0.0.1:9999/oauth2/token:generate")
            .allow_host("Example.COM")
            .build()
            .expect("valid");
        assert_eq!(layer.shared.scope.hosts(), ["127.0.0.1", "example.com"]);
        let layer = SymblAuthLayer::new(Credentials::new("id", "secret"));
        assert_eq!(layer.shared.scope.hosts(), ["api.symbl.ai"]);
    }

    #[test]
    fn refuses_plain_http_token_url_to_remote_hosts() {
        let err = builder()
            .token_url("http://auth.example.com/token")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InsecureTransport { .. }));
        builder()
            .token_url("http://auth.example.com/token")
            .allow_insecure_http(true)
            .build()
            .expect("opted in");
    }

    #[test]
    fn rejects_bad_settings_with_clear_errors() {
        for url in [
            "not a url",
            "/relative/path",
            "ftp://host/x",
            "https://user:pw@host/x",
        ] {
            let err = builder().token_url(url).build().unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }), "{url}");
            assert!(!err.to_string().contains("pw"), "{err}");
        }
        let err = builder().allow_host(" ").build().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
        let err = builder()
            .token_request_timeout(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }));
    }

    #[test]
    fn debug_shows_settings_but_not_the_secret() {
        let text = format!("{:?}", builder().allow_host("x.example"));
        assert!(text.contains("x.example"));
        assert!(!text.contains("secret\""));
        let text = format!("{:?}", builder().build().expect("valid"));
        assert!(text.contains("api.symbl.ai"));
        assert!(!text.contains("\"secret\""));
    }
}
