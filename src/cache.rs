//! The token cache: one fetch at a time, refresh ahead of expiry, shared failures.
//!
//! The current token sits in an [`ArcSwapOption`], so the hot path is a lock-free load and a
//! clock read. Everything else — starting a fetch, recording its outcome, invalidating after a
//! 401 — happens under one short `Mutex` that is never held across an `.await`.
//!
//! Fetches run in a spawned task (a *flight*), so a caller that gives up never cancels the
//! fetch others wait for; waiters follow the flight through a `watch` channel, and if the task
//! dies its sender drops and they get an error instead of hanging. The task holds the cache
//! weakly, and the cache aborts it when dropped: nothing outlives the layer and its users.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http::HeaderValue;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::stats::{Counters, Event};
use crate::{AccessToken, Error, TokenSource};

/// The least time between two fetches that the cache starts on its own account (refreshing a
/// re-served token, replacing one rejected with a 401), so no server answer can make it loop.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How long before expiry a token stops being handed out without waiting (at most a tenth of
/// its lifetime): room for the request to reach Symbl before the token runs out.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The timing knobs of a cache; defaults and their reasons are on the builder.
#[derive(Clone, Debug)]
pub(crate) struct CacheConfig {
    pub(crate) refresh_window: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) retry_budget: Duration,
    pub(crate) failure_cooldown: Duration,
}

/// A token ready to attach: its header, the generation that identifies it for
/// compare-and-invalidate, and when it expires.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) header: HeaderValue,
    pub(crate) generation: u64,
    pub(crate) expires_at: Instant,
}

/// A wait for the fetch in flight.
pub(crate) type TokenWait = Pin<Box<dyn Future<Output = Result<Token, Error>> + Send>>;

/// The outcome of asking for a token: now, or after a fetch.
pub(crate) enum Lookup {
    Ready(Result<Token, Error>),
    Wait(TokenWait),
}

/// A cheap handle on one shared cache; clones share it.
#[derive(Clone)]
pub(crate) struct TokenCache {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwapOption<Cached>,
    state: Mutex<State>,
    source: Arc<dyn TokenSource>,
    config: CacheConfig,
    counters: Arc<Counters>,
}

/// A token with its schedule. Replaced whole (a new `Arc`) whenever the schedule changes.
#[derive(Debug)]
struct Cached {
    token: Token,
    /// From here, one background refresh is started while the token keeps being used.
    refresh_at: Instant,
    /// From here, requests wait for a new token instead of using this one.
    stale_at: Instant,
}

type Outcome = Option<Result<Arc<Cached>, Error>>;

#[derive(Default)]
struct State {
    /// The fetch in progress, if any; its result arrives on this channel.
    flight: Option<(u64, watch::Receiver<Outcome>)>,
    /// The task running it, aborted when the cache is dropped.
    task: Option<AbortHandle>,
    flights_started: u64,
    /// The last fetch failure, served to callers without a token until `until`.
    failure: Option<(Error, Instant)>,
    /// The header of the last token fetched, to notice when Symbl re-serves it.
    last_header: Option<HeaderValue>,
    generation: u64,
    last_forced_refresh: Option<Instant>,
}

impl TokenCache {
    pub(crate) fn new(source: Arc<dyn TokenSource>, config: CacheConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: ArcSwapOption::empty(),
                state: Mutex::default(),
                source,
                config,
                counters: Arc::default(),
            }),
        }
    }

    pub(crate) fn source(&self) -> &dyn TokenSource {
        &*self.shared.source
    }

    pub(crate) fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// A token, waiting for a fetch if there is none to use now.
    pub(crate) async fn get(&self) -> Result<Token, Error> {
        match self.token() {
            Lookup::Ready(token) => token,
            Lookup::Wait(token) => token.await,
        }
    }

    /// A token to attach now, or a future that waits for the fetch that brings one.
    pub(crate) fn token(&self) -> Lookup {
        // Hot path: a lock-free load and one clock read.
        if let Some(cached) = &*self.shared.current.load() {
            if Instant::now() < cached.refresh_at {
                return Lookup::Ready(Ok(cached.token.clone()));
            }
        }
        self.shared.token_slow()
    }

    /// After a 401: drops the token of `generation` if it is still the current one, so a burst
    /// of 401s for one token causes one refresh. Returns whether it did.
    pub(crate) fn invalidate(&self, generation: u64) -> bool {
        let mut state = self.shared.lock();
        let current = self.shared.current.load();
        let Some(cached) = &*current else {
            return false;
        };
        if cached.token.generation != generation {
            return false;
        }
        let now = Instant::now();
        if let Some(last) = state.last_forced_refresh {
            if now < last + MIN_REFRESH_INTERVAL {
                tracing::debug!(
                    "401 for the current token right after a forced refresh; keeping it"
                );
                return false;
            }
        }
        state.last_forced_refresh = Some(now);
        self.shared.current.store(None);
        self.shared.counters.count(Event::Refresh);
        tracing::info!(generation, "access token rejected with 401; refreshing");
        true
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below leaves `State` coherent before anything can panic, so a poisoned
        // lock is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn token_slow(self: &Arc<Self>) -> Lookup {
        let mut state = self.lock();
        let now = Instant::now();
        let current = self.current.load_full();
        if let Some(cached) = &current {
            let cooling_down = state.cooling_down(now);
            if now < cached.stale_at {
                if now >= cached.refresh_at && state.flight.is_none() && !cooling_down {
                    tracing::debug!("access token near expiry; refreshing in the background");
                    self.counters.count(Event::Refresh);
                    self.start_flight(&mut state);
                    // Keep the hot path lock-free while the refresh runs; its landing stores
                    // the next schedule.
                    self.current.store(Some(Arc::new(Cached {
                        token: cached.token.clone(),
                        refresh_at: cached.stale_at,
                        stale_at: cached.stale_at,
                    })));
                }
                return Lookup::Ready(Ok(cached.token.clone()));
            }
            // Nearly expired, but the last refresh failed: keep using it while it is valid.
            if cooling_down && now < cached.token.expires_at {
                return Lookup::Ready(Ok(cached.token.clone()));
            }
        }
        let receiver = match &state.flight {
            Some((_, receiver)) => receiver.clone(),
            None => {
                if let Some((error, until)) = &state.failure {
                    if now < *until {
                        return Lookup::Ready(Err(error.clone()));
                    }
                }
                if current.is_some() {
                    self.counters.count(Event::Refresh);
                }
                self.start_flight(&mut state)
            }
        };
        Lookup::Wait(Box::pin(wait_for_flight(receiver)))
    }

    fn start_flight(self: &Arc<Self>, state: &mut State) -> watch::Receiver<Outcome> {
        let (sender, receiver) = watch::channel(None);
        state.flights_started += 1;
        let id = state.flights_started;
        state.flight = Some((id, receiver.clone()));
        // The task holds the cache weakly: when the layer, its services and every waiter are
        // gone, the cache drops and aborts the task (see `Drop for Shared`).
        let (shared, source, config, counters) = (
            Arc::downgrade(self),
            Arc::clone(&self.source),
            self.config.clone(),
            Arc::clone(&self.counters),
        );
        let task = tokio::spawn(async move {
            let landing = Landing {
                shared,
                id,
                sender: Some(sender),
            };
            let fetched = fetch_with_retries(&*source, &config, &counters).await;
            landing.land(fetched);
        });
        state.task = Some(task.abort_handle());
        receiver
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = state.task.take() {
            task.abort();
        }
    }
}

/// Records a flight's outcome; if the flight's task is dropped first (aborted, panicked,
/// runtime shut down), clears it so the next caller can start another.
struct Landing {
    shared: Weak<Shared>,
    id: u64,
    sender: Option<watch::Sender<Outcome>>,
}

impl Landing {
    fn land(mut self, fetched: Result<(AccessToken, Instant), Error>) {
        // No cache left: nobody to tell.
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut state = shared.lock();
        state.flight = None;
        state.task = None;
        let now = Instant::now();
        let current = shared.current.load_full();
        let outcome = match fetched {
            Ok((token, sent_at)) => {
                let cached = Arc::new(state.admit(&token, sent_at, now, &shared.config));
                tracing::info!(
                    lifetime = ?token.expires_in(),
                    latency = ?now.saturating_duration_since(sent_at),
                    generation = cached.token.generation,
                    "access token granted"
                );
                shared.current.store(Some(Arc::clone(&cached)));
                state.failure = None;
                Ok(cached)
            }
            Err(error) => {
                let pause = shared
                    .config
                    .failure_cooldown
                    .max(error.retry_after().unwrap_or_default());
                let until = later(now, pause);
                tracing::warn!(%error, cooldown = ?pause, "access token fetch failed");
                state.failure = Some((error.clone(), until));
                match current.filter(|cached| now < cached.token.expires_at) {
                    // A refresh failed while the token is still valid: keep it, and try again
                    // once the cool-down is over.
                    Some(cached) => {
                        let kept = Arc::new(Cached {
                            token: cached.token.clone(),
                            refresh_at: until,
                            stale_at: cached.stale_at.max(until).min(cached.token.expires_at),
                        });
                        shared.current.store(Some(Arc::clone(&kept)));
                        Ok(kept)
                    }
                    None => Err(error),
                }
            }
        };
        drop(state);
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(outcome));
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if self.sender.is_none() {
            return;
        }
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut state = shared.lock();
        if state.flight.as_ref().is_some_and(|(id, _)| *id == self.id) {
            state.flight = None;
            state.task = None;
        }
    }
}

impl State {
    fn cooling_down(&self, now: Instant) -> bool {
        self.failure.as_ref().is_some_and(|(_, until)| now < *until)
    }

    /// Turns a fetched token into a cached one with its schedule.
    fn admit(
        &mut self,
        token: &AccessToken,
        sent_at: Instant,
        now: Instant,
        config: &CacheConfig,
    ) -> Cached {
        let lifetime = token.expires_in();
        // Counted from when the request was sent: the server's clock started no earlier.
        let expires_at = sent_at + lifetime;
        let mut stale_at = expires_at - EXPIRY_MARGIN.min(lifetime / 10);
        let header = token.header_value().clone();
        let reserved = self.last_header.as_ref() == Some(&header);
        let refresh_at = if reserved {
            // Symbl caches tokens server-side and re-serves the one we have until near its
            // expiry. Ask again after half the time left, so refreshing ahead costs a few
            // fetches a day rather than one per request.
            let left = expires_at.saturating_duration_since(now);
            tracing::debug!(left = ?left, "Symbl re-served the current access token");
            if now >= stale_at || left / 2 < MIN_REFRESH_INTERVAL {
                // It will not renew before this one expires: use it to the end (a 401 at the
                // edge refreshes and retries) and fetch when it has expired.
                stale_at = expires_at;
                expires_at
            } else {
                now + left / 2
            }
        } else {
            self.generation += 1;
            self.last_header = Some(header.clone());
            expires_at - config.refresh_window.min(lifetime / 2)
        };
        Cached {
            token: Token {
                header,
                generation: self.generation,
                expires_at,
            },
            refresh_at,
            stale_at,
        }
    }
}

async fn wait_for_flight(mut receiver: watch::Receiver<Outcome>) -> Result<Token, Error> {
    let interrupted = || {
        Error::unavailable(
            "the token fetch was interrupted (its task ended early)",
            None,
        )
    };
    let outcome = receiver
        .wait_for(Option::is_some)
        .await
        .map_err(|_| interrupted())?;
    match &*outcome {
        Some(Ok(cached)) => Ok(cached.token.clone()),
        Some(Err(error)) => Err(error.clone()),
        None => Err(interrupted()),
    }
}

/// One fetch: attempts with a timeout each, retried with backoff and jitter (and at least any
/// `Retry-After`) while the error is transient and the budget lasts. Returns the token and when
/// its request was sent.
async fn fetch_with_retries(
    source: &dyn TokenSource,
    config: &CacheConfig,
    counters: &Counters,
) -> Result<(AccessToken, Instant), Error> {
    let deadline = later(Instant::now(), config.retry_budget);
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let sent_at = Instant::now();
        let limit = config
            .attempt_timeout
            .min(deadline.saturating_duration_since(sent_at));
        counters.count(Event::TokenRequest);
        let error = match tokio::time::timeout(limit, source.fetch_token()).await {
            Ok(Ok(token)) => return Ok((token, sent_at)),
            Ok(Err(error)) => error,
            Err(_) => Error::unavailable(format!("no answer within {limit:?}"), None),
        };
        counters.count(Event::TokenFailure);
        if !error.is_retryable() {
            return Err(error);
        }
        let delay = jitter(backoff).max(error.retry_after().unwrap_or_default());
        if later(Instant::now(), delay) >= deadline {
            return Err(error);
        }
        tracing::debug!(attempt, %error, delay = ?delay, "token request failed; retrying");
        tokio::time::sleep(delay).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `at + by`, or a time some decades away when that is past what an `Instant` can hold: a
/// `Retry-After` or a configured duration can be anything up to `Duration::MAX`.
fn later(at: Instant, by: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    at.checked_add(by)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

/// A delay between half and all of `backoff`, so that many clients that failed together do not
/// retry together.
fn jitter(backoff: Duration) -> Duration {
    // `RandomState` is seeded randomly per thread and advances per instance: enough randomness
    // for spreading retries, without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    backoff / 2 + backoff.mul_f64((random % 1024) as f64 / 2048.0)
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.shared.source)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
