//! Counters of what the layer did, cheap enough to read from a metrics exporter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A snapshot of a layer's counters, from [`SymblAuthLayer::stats`](crate::SymblAuthLayer::stats).
///
/// Counts are since the layer was built and shared by all its clones (and by a
/// `SymblAuthMiddleware` made from it). Only slow paths count, so the hot path pays nothing.
///
/// An API that rejects the first token with a 401 costs one refresh and one retry:
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// use http::{header::AUTHORIZATION, Request, Response, StatusCode};
/// use symbl_auth::{AccessToken, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// /// Grants `token-1`, `token-2`, …
/// #[derive(Debug, Default)]
/// struct Numbered(AtomicU32);
///
/// impl TokenSource for Numbered {
///     fn fetch_token(&self) -> TokenFuture<'_> {
///         let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
///         Box::pin(async move { AccessToken::new(&format!("token-{n}"), Duration::from_secs(3600)) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), symbl_auth::BoxError> {
/// let layer = SymblAuthLayer::from_source(Numbered::default())
///     .allow_host("api.example.com")
///     .build()?;
/// // An API that has revoked `token-1`.
/// let api = service_fn(|request: Request<ReplayBody<String>>| async move {
///     let mut response = Response::new(String::new());
///     if request.headers()[AUTHORIZATION] == "Bearer token-1" {
///         *response.status_mut() = StatusCode::UNAUTHORIZED;
///     }
///     Ok::<_, Infallible>(response)
/// });
///
/// let request = Request::get("https://api.example.com/v1/items").body(String::new())?;
/// let response = layer.layer(api).oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
///
/// let stats = layer.stats();
/// assert_eq!(stats.token_requests, 2); // token-1, then token-2 after the 401
/// assert_eq!(stats.refreshes, 1);      // token-2 replaced token-1
/// assert_eq!(stats.retries, 1);        // the request, sent again with token-2
/// assert_eq!(stats.token_failures + stats.replays_skipped + stats.retries_declined, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests sent to the token endpoint, retries included.
    pub token_requests: u64,
    /// Token requests that failed (error status, network error, timeout, bad body).
    pub token_failures: u64,
    /// Token fetches started to replace a token: ahead of expiry, at expiry, or after a 401.
    pub refreshes: u64,
    /// Requests sent a second time after a 401.
    pub retries: u64,
    /// 401s returned to the caller because the request body could not be replayed.
    pub replays_skipped: u64,
    /// 401s returned to the caller because no newer token than the rejected one could be had
    /// (forced refreshes are at most one a second, and an endpoint may re-serve the token):
    /// sending again would resend the token just refused.
    pub retries_declined: u64,
    /// Requests sent again with the same token and a fresh DPoP proof, because the resource
    /// server asked for its nonce (RFC 9449 §9: a 401 with `error="use_dpop_nonce"`). Not
    /// counted in `retries`: no token was rejected.
    pub dpop_nonce_retries: u64,
    /// What the token server last said is left of its budget for this client: the
    /// `r` of Auth0's `Auth0-Client-Quota-Limit` (its tightest bucket), of the IETF `RateLimit`
    /// field, or `RateLimit-Remaining` / `X-RateLimit-Remaining`, on a token response; 0
    /// after a `429`. `None` until a server says. A `tracing` warning is logged when it falls
    /// to a tenth of the limit (or to 10, with no limit stated). On a keyed layer,
    /// `layer.stats()` has the last any key's server reported; `key_stats` has each key's.
    pub token_quota_remaining: Option<u64>,
    /// The budget that `token_quota_remaining` is counted against (`q`, `RateLimit-Policy`,
    /// `RateLimit-Limit`), if the server said.
    pub token_quota_limit: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Counters {
    token_requests: AtomicU64,
    token_failures: AtomicU64,
    refreshes: AtomicU64,
    retries: AtomicU64,
    replays_skipped: AtomicU64,
    retries_declined: AtomicU64,
    dpop_nonce_retries: AtomicU64,
    /// `u64::MAX` until a server says.
    quota_remaining: AtomicU64,
    quota_limit: AtomicU64,
    /// The layer's counters, for one key's on a keyed layer: every count goes to both, so the
    /// layer's sums keep the counts of keys evicted since.
    parent: Option<Arc<Counters>>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            token_requests: AtomicU64::new(0),
            token_failures: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            replays_skipped: AtomicU64::new(0),
            retries_declined: AtomicU64::new(0),
            dpop_nonce_retries: AtomicU64::new(0),
            quota_remaining: AtomicU64::new(UNKNOWN),
            quota_limit: AtomicU64::new(UNKNOWN),
            parent: None,
        }
    }
}

const UNKNOWN: u64 = u64::MAX;

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    TokenRequest,
    TokenFailure,
    Refresh,
    Retry,
    ReplaySkipped,
    RetryDeclined,
    NonceRetry,
}

impl Counters {
    /// One key's counters, counting into the layer's `parent` too.
    pub(crate) fn under(parent: Arc<Counters>) -> Self {
        Self {
            parent: Some(parent),
            ..Self::default()
        }
    }

    pub(crate) fn count(&self, event: Event) {
        if let Some(parent) = &self.parent {
            parent.count(event);
        }
        let counter = match event {
            Event::TokenRequest => &self.token_requests,
            Event::TokenFailure => &self.token_failures,
            Event::Refresh => &self.refreshes,
            Event::Retry => &self.retries,
            Event::ReplaySkipped => &self.replays_skipped,
            Event::RetryDeclined => &self.retries_declined,
            Event::NonceRetry => &self.dpop_nonce_retries,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records what the token server said is left of its budget; a limit it did not state
    /// keeps the last one known.
    /// On a keyed layer the layer's figures are the last any key's server reported.
    pub(crate) fn quota(&self, remaining: u64, limit: Option<u64>) {
        if let Some(parent) = &self.parent {
            parent.quota(remaining, limit);
        }
        self.quota_remaining
            .store(remaining.min(UNKNOWN - 1), Ordering::Relaxed);
        if let Some(limit) = limit {
            self.quota_limit
                .store(limit.min(UNKNOWN - 1), Ordering::Relaxed);
        }
    }

    /// The last budget recorded: what remains, and its limit.
    pub(crate) fn quota_left(&self) -> (Option<u64>, Option<u64>) {
        let known = |value: u64| (value != UNKNOWN).then_some(value);
        (
            known(self.quota_remaining.load(Ordering::Relaxed)),
            known(self.quota_limit.load(Ordering::Relaxed)),
        )
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (token_quota_remaining, token_quota_limit) = self.quota_left();
        Stats {
            token_requests: read(&self.token_requests),
            token_failures: read(&self.token_failures),
            refreshes: read(&self.refreshes),
            retries: read(&self.retries),
            replays_skipped: read(&self.replays_skipped),
            retries_declined: read(&self.retries_declined),
            dpop_nonce_retries: read(&self.dpop_nonce_retries),
            token_quota_remaining,
            token_quota_limit,
        }
    }
}
