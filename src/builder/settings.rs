//! The numeric settings: each one's unit, default, what zero means, and why.

use std::time::Duration;

use super::SymblAuthLayerBuilder;
#[cfg(doc)]
use crate::Error;

impl SymblAuthLayerBuilder {
    /// How long before a token expires one background refresh starts, while requests keep
    /// using the current token. A duration; default
    /// [5 minutes](Self::DEFAULT_REFRESH_WINDOW). At most half the token's lifetime is used,
    /// so a short-lived token is still refreshed ahead.
    ///
    /// Zero turns refreshing ahead off: a token is used until shortly before it expires (30 s
    /// before, or a tenth of its lifetime if that is less), and requests made from then on
    /// wait for the new one. A window shorter than that margin does the same.
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.timings.refresh_window = window;
        self
    }

    /// The limit on one token request, from connecting to the answer's last byte. A
    /// duration; default [10 s](Self::DEFAULT_TOKEN_REQUEST_TIMEOUT). An attempt that runs out
    /// of time is retried like a network error, within the
    /// [retry budget](Self::token_retry_budget).
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]): no token request could finish.
    pub fn token_request_timeout(mut self, timeout: Duration) -> Self {
        self.timings.attempt_timeout = timeout;
        self
    }

    /// How long one fetch may keep trying a failing token endpoint, attempts and backoff
    /// included: the longest a request waits for a token. A duration; default
    /// [30 s](Self::DEFAULT_TOKEN_RETRY_BUDGET). An attempt still running when it ends is cut
    /// short.
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]): not even one attempt would fit.
    pub fn token_retry_budget(mut self, budget: Duration) -> Self {
        self.timings.retry_budget = budget;
        self
    }

    /// After a fetch fails, how long its error is handed out at once to requests that need a
    /// token, instead of each starting a fetch (a token that is still valid is kept, and
    /// refreshed again after it). A duration; default [5 s](Self::DEFAULT_FAILURE_COOLDOWN),
    /// or the endpoint's `Retry-After` if that is longer (at most 10 minutes).
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]): every request after a failure
    /// could start a fetch, the load on a failing endpoint this setting exists to bound. In
    /// tests, a millisecond does what zero would.
    pub fn failure_cooldown(mut self, cooldown: Duration) -> Self {
        self.timings.failure_cooldown = cooldown;
        self
    }

    /// The limit on each handshake of [`websocket::connect`](crate::websocket::connect), TCP
    /// connect, TLS and HTTP upgrade together. A duration; default
    /// [10 s](Self::DEFAULT_HANDSHAKE_TIMEOUT). A connect makes at most two handshakes (one
    /// more after a `401`), each with this limit; the token fetch between them has its own.
    /// A handshake past it ends the connect with [`websocket::Elapsed`](crate::websocket::Elapsed).
    ///
    /// Zero is refused at `build` ([`Error::InvalidConfig`]): it would fail every connect.
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The largest request body kept for a retry after a 401, in bytes. Default
    /// [64 KiB](crate::DEFAULT_REPLAY_LIMIT). A larger body is sent once, and its 401 is
    /// returned to the caller (counted in
    /// [`Stats::replays_skipped`](crate::Stats::replays_skipped)).
    ///
    /// Zero keeps no body: only requests with an empty body (a `GET`, say) are sent again
    /// after a 401.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// The origin (`https://api.example.com`) that DPoP proofs name for requests whose URI
    /// has no scheme and authority, such as a tonic `Channel`'s, which adds its origin below
    /// the layer. Only for a source whose tokens are bound to a key
    /// ([`ClientCredentials::dpop`](crate::oauth2::ClientCredentials::dpop)): each request
    /// then carries a proof whose `htu` is the request's scheme, authority and path (RFC 9449
    /// §4.2), and none is guessed. Default: none, and such a request fails with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) before anything is sent. A
    /// request with its own authority always uses its own.
    ///
    /// `build` refuses (`InvalidConfig`) anything but `http` or `https`, a host and an
    /// optional port: no path, query or user information.
    pub fn dpop_origin(mut self, origin: impl Into<String>) -> Self {
        self.dpop_origin = Some(origin.into());
        self
    }
}
