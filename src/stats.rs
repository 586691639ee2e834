//! Counters of what the layer did, cheap enough to read from a metrics exporter.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a layer's counters, from [`SymblAuthLayer::stats`](crate::SymblAuthLayer::stats).
///
/// Counts are since the layer was built and shared by all its clones (and by a
/// `SymblAuthMiddleware` made from it). Only slow paths count, so the hot path pays nothing.
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
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    token_requests: AtomicU64,
    token_failures: AtomicU64,
    refreshes: AtomicU64,
    retries: AtomicU64,
    replays_skipped: AtomicU64,
    retries_declined: AtomicU64,
}

/// Which counter to bump.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    TokenRequest,
    TokenFailure,
    Refresh,
    Retry,
    ReplaySkipped,
    RetryDeclined,
}

impl Counters {
    pub(crate) fn count(&self, event: Event) {
        let counter = match event {
            Event::TokenRequest => &self.token_requests,
            Event::TokenFailure => &self.token_failures,
            Event::Refresh => &self.refreshes,
            Event::Retry => &self.retries,
            Event::ReplaySkipped => &self.replays_skipped,
            Event::RetryDeclined => &self.retries_declined,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            token_requests: read(&self.token_requests),
            token_failures: read(&self.token_failures),
            refreshes: read(&self.refreshes),
            retries: read(&self.retries),
            replays_skipped: read(&self.replays_skipped),
            retries_declined: read(&self.retries_declined),
        }
    }
}
