//! Sharing tokens with other processes through a [`TokenStore`] (feature `redis`).
//!
//! The hook is the fetch itself: a flight asks [`Fleet::fetch`] instead of the source. It reads
//! the store; takes the lease; reads again; fetches; writes. Everything else in the cache (single
//! flight, refresh ahead, cool-downs, compare-and-invalidate) is the same with or without a
//! store, so the hook applies to each cache on its own, keyed caches included.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use tokio::time::Instant;

use super::fetch::fetch_with_retries;
use super::schedule::{later, CacheConfig};
use crate::stats::Counters;
use crate::store::seal::{Opened, Sealer};
use crate::store::{StoreFuture, TokenStore};
use crate::token::Rebind;
use crate::{AccessToken, CacheKey, Error, TokenSource};

/// How often a process that waits for another's fetch reads the store again (give or take a
/// random half, so waiters spread out).
const POLL: Duration = Duration::from_millis(20);

/// One cache's link to a shared store.
pub(crate) struct Fleet {
    store: Arc<dyn TokenStore>,
    /// `None` if the entries cannot be sealed (no provider, nothing secret): not shared.
    sealer: Option<Sealer>,
    /// Whether the last operation failed: a failure is logged once per episode, not per call.
    failing: AtomicBool,
    /// The entry this process last read or wrote, and its token: what a 401 may remove.
    entry: Mutex<Option<(HeaderValue, Vec<u8>)>>,
    /// What makes a token read from the store whole again (a DPoP token's binding).
    rebind: Option<Rebind>,
}

/// The store failed (or timed out); it has been logged.
struct Down;

impl Fleet {
    /// The link of the cache whose tokens `key` determines; one that shares nothing (logged
    /// once, here) if they cannot be sealed: a keyed layer's key, met after `build`.
    pub(crate) fn new(store: Arc<dyn TokenStore>, key: &CacheKey) -> Self {
        let sealer = Sealer::new(&*store, key)
            .inspect_err(|error| {
                tracing::warn!(%error, "this credential's tokens are not shared through the store");
            })
            .ok();
        Self::with(store, sealer, key)
    }

    /// The link, or [`Error::InvalidConfig`] if the tokens cannot be sealed (see
    /// [`Sealer::new`]): what `build` says of the layer's one source.
    pub(crate) fn try_new(store: Arc<dyn TokenStore>, key: &CacheKey) -> Result<Self, Error> {
        let sealer = Sealer::new(&*store, key)?;
        Ok(Self::with(store, Some(sealer), key))
    }

    fn with(store: Arc<dyn TokenStore>, sealer: Option<Sealer>, key: &CacheKey) -> Self {
        Self {
            store,
            sealer,
            failing: AtomicBool::new(false),
            entry: Mutex::new(None),
            rebind: key.rebind().cloned(),
        }
    }

    /// A token from the store, or fetched under the fleet's lease and written for the others;
    /// fetched alone if the store fails. `held` is the token the cache has (or last had): one
    /// being refreshed or rejected, never to be taken back from the store.
    pub(super) async fn fetch(
        &self,
        held: Option<HeaderValue>,
        source: &dyn TokenSource,
        config: &CacheConfig,
        counters: &Counters,
    ) -> Result<(AccessToken, Instant), Error> {
        let Some(sealer) = &self.sealer else {
            return fetch_with_retries(source, config, counters).await;
        };
        match self
            .share(sealer, held.as_ref(), source, config, counters)
            .await
        {
            Ok(fetched) => fetched,
            Err(Down) => fetch_with_retries(source, config, counters).await,
        }
    }

    /// How long a lease lasts: as long as the holder's whole fetch may take (every attempt
    /// and backoff within the retry budget, or one attempt if that is longer), and a store
    /// operation. The others wait that long before fetching themselves; a holder that dies
    /// frees it by then.
    fn lease(&self, config: &CacheConfig) -> Duration {
        config.retry_budget.max(config.attempt_timeout) + self.store.timeout()
    }

    async fn share(
        &self,
        sealer: &Sealer,
        held: Option<&HeaderValue>,
        source: &dyn TokenSource,
        config: &CacheConfig,
        counters: &Counters,
    ) -> Result<Result<(AccessToken, Instant), Error>, Down> {
        let lease = self.lease(config);
        // Past this, a lease that never frees (a key written by hand) is ignored.
        let give_up = later(Instant::now(), lease * 2);
        let id = sealer.lease_id().ok_or(Down)?;
        loop {
            if let Some(found) = self.read(sealer, held, config).await? {
                return Ok(Ok(found));
            }
            let taken = self
                .op(self.store.put_new(sealer.lease_key(), &id, lease))
                .await?;
            if taken {
                // Another process may have written a token a moment ago.
                let fetched = match self.read(sealer, held, config).await {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => match self.cooling_down(sealer).await {
                        Some(error) => Err(error),
                        None => {
                            let fetched = fetch_with_retries(source, config, counters).await;
                            match &fetched {
                                Ok((token, sent_at)) => self.write(sealer, token, *sent_at).await,
                                Err(error) => self.cool_down(sealer, error, config).await,
                            }
                            fetched
                        }
                    },
                    Err(Down) => fetch_with_retries(source, config, counters).await,
                };
                let _ = self.op(self.store.remove_if(sealer.lease_key(), &id)).await;
                return Ok(fetched);
            }
            if Instant::now() >= give_up {
                tracing::warn!(
                    "the token store's lease was not freed in time; fetching without it"
                );
                return Err(Down);
            }
            let pause =
                POLL / 2 + Duration::from_millis(sealer.random_below(POLL.as_millis() as u64));
            tokio::time::sleep(pause).await;
        }
    }

    /// The store's token, if it opens, is not `held`, and is not yet due for a refresh.
    async fn read(
        &self,
        sealer: &Sealer,
        held: Option<&HeaderValue>,
        config: &CacheConfig,
    ) -> Result<Option<(AccessToken, Instant)>, Down> {
        let Some(entry) = self.op(self.store.get(sealer.token_key())).await? else {
            return Ok(None);
        };
        let Some(Opened {
            token,
            expires_at_ms,
        }) = sealer.open(&entry)
        else {
            tracing::warn!("the token store holds an entry that does not open; refusing it");
            return Ok(None);
        };
        let token = match &self.rebind {
            None => token,
            Some(rebind) => match rebind(token) {
                Ok(token) => token,
                Err(error) => {
                    tracing::warn!(%error, "a token from the store could not be bound; refusing it");
                    return Ok(None);
                }
            },
        };
        if held == Some(token.header_value()) {
            return Ok(None);
        }
        let lifetime = token.expires_in();
        let left = Duration::from_millis(expires_at_ms.saturating_sub(unix_millis()));
        let window = config.refresh_window.min(lifetime / 2);
        if left <= window {
            return Ok(None);
        }
        // Counted as if this process had requested it when its fetcher did, less a random
        // fifth of the refresh window: processes then refresh ahead at different moments.
        let jitter = Duration::from_millis(sealer.random_below(window.as_millis() as u64 / 5));
        let now = Instant::now();
        let (token, sent_at) = match now.checked_sub(lifetime.saturating_sub(left) + jitter) {
            Some(sent_at) => (token, sent_at),
            None => (
                AccessToken::from_header(token.header_value().clone(), left)
                    .bound(token.binding().cloned()),
                now,
            ),
        };
        self.remember(token.header_value(), entry);
        tracing::debug!(left = ?left, "access token taken from the token store");
        Ok(Some((token, sent_at)))
    }

    /// Writes `token`, requested at `sent_at`, sealed, to expire with it.
    async fn write(&self, sealer: &Sealer, token: &AccessToken, sent_at: Instant) {
        let lifetime = token.expires_in();
        let left = lifetime.saturating_sub(sent_at.elapsed());
        if left.is_zero() {
            return;
        }
        let expires_at_ms = unix_millis().saturating_add(left.as_millis() as u64);
        let Some(entry) = sealer.seal(token, lifetime, expires_at_ms) else {
            return;
        };
        let written = self
            .op(self.store.put(sealer.token_key(), &entry, left))
            .await;
        if written.is_ok() {
            self.remember(token.header_value(), entry);
        }
    }

    /// The fleet's cool-down, if another process's fetch failed and it is not over: the
    /// error this process fails with instead of asking the token endpoint itself, so a failing
    /// endpoint gets one token request per episode from the whole fleet.
    async fn cooling_down(&self, sealer: &Sealer) -> Option<Error> {
        let entry = self
            .op(self.store.get(sealer.cooldown_key()))
            .await
            .ok()??;
        let (text, until_ms) = sealer.open_cooldown(&entry)?;
        let left = Duration::from_millis(until_ms.checked_sub(unix_millis())?);
        tracing::debug!(left = ?left, "the token endpoint is cooling down for the fleet");
        Some(Error::unavailable(
            format!(
                "the token endpoint failed for another process of the fleet ({text}); left \
                 alone for the rest of its cool-down"
            ),
            Some(left),
        ))
    }

    /// Shares the cool-down after this process's fetch failed with `error`: as long as the
    /// cache holds it (the failure cool-down, or the `Retry-After` if longer). Only what the
    /// endpoint answered is shared: a network error or a timeout may be this process's own
    /// (its DNS, its route), and must not hold the rest of the fleet back.
    async fn cool_down(&self, sealer: &Sealer, error: &Error, config: &CacheConfig) {
        if matches!(error, Error::TokenEndpointUnavailable { status: None, .. }) {
            return;
        }
        let pause = config
            .failure_cooldown
            .max(error.retry_after().unwrap_or_default());
        let until_ms = unix_millis().saturating_add(pause.as_millis() as u64);
        let Some(entry) = sealer.seal_cooldown(&error.to_string(), pause, until_ms) else {
            return;
        };
        let _ = self
            .op(self.store.put(sealer.cooldown_key(), &entry, pause))
            .await;
    }

    fn remember(&self, header: &HeaderValue, entry: Vec<u8>) {
        *self.entry.lock().unwrap_or_else(PoisonError::into_inner) = Some((header.clone(), entry));
    }

    /// After a 401 for `rejected`: removes it from the store if the store still holds it, in
    /// the background (a compare-and-delete: a newer token another process wrote stays).
    pub(super) fn forget(self: &Arc<Self>, rejected: &HeaderValue) {
        let entry = {
            let mut entry = self.entry.lock().unwrap_or_else(PoisonError::into_inner);
            match entry.take() {
                Some((header, sealed)) if header == *rejected => sealed,
                other => {
                    *entry = other;
                    return;
                }
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let fleet = Arc::clone(self);
        runtime.spawn(async move {
            let Some(sealer) = &fleet.sealer else { return };
            let key = sealer.token_key();
            if let Ok(true) = fleet.op(fleet.store.remove_if(key, &entry)).await {
                tracing::info!("rejected access token removed from the token store");
            }
        });
    }

    /// One store operation, bounded by the store's timeout; a failure is logged once per
    /// episode, and the first success after it says the store is back.
    async fn op<T>(&self, operation: StoreFuture<'_, T>) -> Result<T, Down> {
        let limit = self.store.timeout();
        let error = match tokio::time::timeout(limit, operation).await {
            Ok(Ok(value)) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the token store answers again; sharing tokens through it");
                }
                return Ok(value);
            }
            Ok(Err(error)) => error,
            Err(_) => Error::unavailable(format!("no answer within {limit:?}"), None),
        };
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "the token store failed; fetching tokens without it until it is back");
        }
        Err(Down)
    }
}

/// The wall clock, in milliseconds since the Unix epoch: expiries in the store are shared by
/// processes that share no monotonic clock.
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("store", &self.store)
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}
