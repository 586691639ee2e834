//! The token cache: one fetch at a time, refresh ahead of expiry, shared failures.
//!
//! - The hot path ([`TokenView::fresh`], one per service) is a plain atomic load of the current
//!   token and a test of its freshness flag: no lock, no clock read (`view.rs`,
//!   `freshness.rs`).
//! - Everything else takes one short `Mutex`, never held across an `.await` or a spawn: the
//!   decision for a request without a fresh token (`schedule.rs`, pure functions of the time),
//!   starting the one fetch and recording what it brings (`flight.rs`), the fetch's retries
//!   (`fetch.rs`), and compare-and-invalidate after a 401.

mod fetch;
#[cfg(feature = "redis")]
mod fleet;
mod flight;
mod freshness;
mod keyed;
mod record;
mod schedule;
mod view;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwapOption;
use http::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;

use self::flight::{wait_for_token, Flight, Outcome};
use self::freshness::Freshness;
use self::schedule::{decide, may_force_refresh, Decision, Fetching, Schedule};
use crate::stats::Counters;
use crate::token::Binding;
use crate::{CredentialKey, Error, TokenSource};

#[cfg(feature = "redis")]
pub(crate) use self::fleet::Fleet;
use self::keyed::Publisher;
pub(crate) use self::keyed::{KeyLimits, KeyedCaches, MakeSource};
pub(crate) use self::schedule::CacheConfig;
pub(crate) use self::view::TokenView;

/// A cheap handle on one shared cache; clones share it.
#[derive(Clone)]
pub(crate) struct TokenCache {
    shared: Arc<Shared>,
}

/// A token ready to attach: its `Authorization` value, and the generation that names it for
/// compare-and-invalidate (a token the endpoint re-serves keeps its generation).
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) header: HeaderValue,
    pub(crate) generation: u64,
    /// For a token bound to a key (DPoP): what makes each request's proof.
    pub(crate) binding: Option<Binding>,
}

/// What [`TokenCache::invalidate`] did with a token rejected with a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalidated {
    /// It was the cached token, and is dropped: the next `get` fetches.
    Dropped,
    /// The cache holds another token, or none: it was replaced or dropped already.
    Replaced,
    /// It is the cached token, and is kept: a forced refresh was made less than a second ago.
    Kept,
}

/// A wait for the fetch in flight.
pub(crate) type TokenWait = Pin<Box<dyn Future<Output = Result<Token, Error>> + Send>>;

/// A token now, or a wait for the fetch that brings one.
pub(crate) enum Lookup {
    Ready(Result<Token, Error>),
    Wait(TokenWait),
}

/// The same, before the wait is boxed.
enum Step {
    Ready(Result<Token, Error>),
    Wait(watch::Receiver<Option<Outcome>>),
}

struct Shared {
    current: ArcSwapOption<Cached>,
    state: Mutex<State>,
    source: Arc<dyn TokenSource>,
    config: CacheConfig,
    counters: Arc<Counters>,
    /// On a keyed layer, the key's span: its fetches run in it, so their events carry the key.
    span: tracing::Span,
    /// On a keyed layer, the key.
    key: Option<CredentialKey>,
    /// On a keyed layer, where each change of `current` is copied for the hot path.
    publisher: Option<Publisher>,
    /// The store this cache shares its tokens through, if any.
    #[cfg(feature = "redis")]
    fleet: Option<Arc<Fleet>>,
}

/// A token with its schedule; replaced whole when either changes.
#[derive(Debug)]
struct Cached {
    token: Token,
    schedule: Schedule,
    freshness: Freshness,
    /// When `freshness` falls (the refresh time, or the stale time while a refresh runs).
    fresh_until: Instant,
}

#[derive(Default)]
struct State {
    fetch: Fetch,
    /// The generation of the last token granted; 0 before the first.
    generation: u64,
    /// The last token granted, to notice when the endpoint re-serves it.
    last_header: Option<HeaderValue>,
    last_forced_refresh: Option<Instant>,
    flights_started: u64,
}

#[derive(Debug, Default)]
enum Fetch {
    #[default]
    Idle,
    Running(Flight),
    /// The last fetch failed; its error is handed out until `until`.
    Failed {
        error: Error,
        until: Instant,
    },
}

impl Fetch {
    fn fetching(&self) -> Fetching {
        match self {
            Self::Idle => Fetching::Idle,
            Self::Running(_) => Fetching::Running,
            Self::Failed { until, .. } => Fetching::Failed { until: *until },
        }
    }
}

impl TokenCache {
    pub(crate) fn new(source: Arc<dyn TokenSource>, config: CacheConfig) -> Self {
        Self::with_counters(source, config, Counters::default(), None)
    }

    /// The cache of `key` on a keyed layer, counting into `counters`, its fetches and 401s in
    /// a span that names the key.
    pub(crate) fn with_counters(
        source: Arc<dyn TokenSource>,
        config: CacheConfig,
        counters: Counters,
        key: Option<CredentialKey>,
    ) -> Self {
        let span = match &key {
            Some(key) => tracing::info_span!("credential", key = %key),
            None => tracing::Span::none(),
        };
        Self {
            shared: Arc::new(Shared {
                current: ArcSwapOption::empty(),
                state: Mutex::default(),
                source,
                config,
                counters: Arc::new(counters),
                span,
                key,
                publisher: None,
                #[cfg(feature = "redis")]
                fleet: None,
            }),
        }
    }

    /// The same cache, sharing its tokens with other processes through `fleet`'s store. Only
    /// for a cache just made (nothing else holds it yet).
    #[cfg(feature = "redis")]
    pub(crate) fn with_fleet(mut self, fleet: Fleet) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.fleet = Some(Arc::new(fleet));
        }
        self
    }

    /// The same cache, copying its token into its keyed map's entry whenever it changes it.
    /// Only for a cache just made.
    fn publishing_to(mut self, publisher: Publisher) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.publisher = Some(publisher);
        }
        self
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

    /// The cached token, if it is fresh (before its refresh time).
    pub(crate) fn fresh(&self) -> Option<Token> {
        let current = self.shared.current.load();
        let cached = current.as_deref()?;
        cached.freshness.is_fresh().then(|| cached.token.clone())
    }

    /// The key of this cache, on a keyed layer.
    pub(crate) fn key(&self) -> Option<&CredentialKey> {
        self.shared.key.as_ref()
    }

    /// A view of the current token for one service: the hot path.
    pub(crate) fn view(&self) -> TokenView {
        TokenView::new(Arc::clone(&self.shared))
    }

    /// A token to attach now, or a wait for the fetch that brings one: for a request that
    /// found none [`fresh`](Self::fresh).
    pub(crate) fn lookup(&self) -> Lookup {
        match self.shared.step() {
            Step::Ready(token) => Lookup::Ready(token),
            Step::Wait(outcome) => {
                Lookup::Wait(Box::pin(wait_for_token(Arc::clone(&self.shared), outcome)))
            }
        }
    }

    /// A token, waiting for a fetch if there is none to use now.
    pub(crate) async fn get(&self) -> Result<Token, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        match self.shared.step() {
            Step::Ready(token) => token,
            Step::Wait(outcome) => wait_for_token(Arc::clone(&self.shared), outcome).await,
        }
    }

    /// A token and when it expires.
    pub(crate) async fn get_with_expiry(&self) -> Result<(Token, Instant), Error> {
        let token = self.get().await?;
        let current = self.shared.current.load();
        let expires_at = match current.as_deref() {
            Some(cached) if cached.token.generation == token.generation => {
                cached.schedule.expires_at
            }
            // Replaced meanwhile: it is at least stale.
            _ => Instant::now(),
        };
        Ok((token, expires_at))
    }

    /// After a 401: drops the token of `generation` if it is still the cached one, so a burst
    /// of 401s for one token causes one refresh. Returns what it did.
    pub(crate) fn invalidate(&self, generation: u64) -> Invalidated {
        let shared = &self.shared;
        let _key = shared.span.enter();
        let mut state = shared.lock();
        let current = shared.current.load_full();
        let Some(rejected) = current.filter(|cached| cached.token.generation == generation) else {
            return Invalidated::Replaced;
        };
        let now = Instant::now();
        if !may_force_refresh(now, state.last_forced_refresh) {
            tracing::debug!("401 for the current token right after a forced refresh; keeping it");
            return Invalidated::Kept;
        }
        state.last_forced_refresh = Some(now);
        shared.current.store(None);
        shared.publish();
        tracing::info!(generation, "access token rejected with 401; dropped");
        #[cfg(feature = "redis")]
        if let Some(fleet) = &shared.fleet {
            fleet.forget(&rejected.token.header);
        }
        #[cfg(not(feature = "redis"))]
        let _ = rejected;
        Invalidated::Dropped
    }
}

impl Shared {
    /// Tells the keyed map, if any, that `current` or its freshness changed.
    fn publish(&self) {
        if let Some(publisher) = &self.publisher {
            publisher.publish(self);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves `State` coherent before anything can panic, so a poisoned lock
        // is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The decision for a request without a fresh token, carried out.
    fn step(self: &Arc<Self>) -> Step {
        let now = Instant::now();
        let state = self.lock();
        let current = self.current.load_full();
        let schedule = current.as_deref().map(|cached| &cached.schedule);
        let decision = decide(now, schedule, state.fetch.fetching());
        // Asked only where a timer or a fetch is started: a runtime without the time driver
        // is found out by a panic caught (see `crate::runtime`), not worth paying per wait.
        let runtime = || {
            crate::runtime::with_timers(
                "symbl-auth fetches tokens in a spawned task: call it from inside a Tokio runtime",
            )
        };
        match (decision, current) {
            (Decision::Use, Some(cached)) => {
                // Fresh by the clock but not by its flag: its timer was lost with a runtime.
                let fresh_until = cached.schedule.fresh_until();
                if now < fresh_until && !cached.freshness.is_fresh() {
                    if let Ok(runtime) = runtime() {
                        let token = cached.token.clone();
                        self.install(token, cached.schedule, fresh_until, Some(&runtime));
                    }
                }
                Step::Ready(Ok(cached.token.clone()))
            }
            (Decision::UseAndRefresh, Some(cached)) => {
                // No runtime to refresh in (or none with timers): the token is still good.
                if let Ok(runtime) = runtime() {
                    tracing::debug!("access token near expiry; refreshing in the background");
                    // Requests keep the lock-free path while the refresh runs, until it is
                    // stale.
                    let token = cached.token.clone();
                    self.install(
                        token,
                        cached.schedule,
                        cached.schedule.stale_at,
                        Some(&runtime),
                    );
                    self.start_flight(state, &runtime);
                }
                Step::Ready(Ok(cached.token.clone()))
            }
            (Decision::Fail, _) => match &state.fetch {
                Fetch::Failed { error, .. } => Step::Ready(Err(error.clone())),
                _ => unreachable!("a failure is held only while recorded"),
            },
            (Decision::Wait, _) => match &state.fetch {
                Fetch::Running(flight) => Step::Wait(flight.outcome.clone()),
                _ => unreachable!("a wait is only for a running fetch"),
            },
            (Decision::Fetch, _) => match runtime() {
                Ok(runtime) => Step::Wait(self.start_flight(state, &runtime)),
                Err(error) => Step::Ready(Err(error)),
            },
            (Decision::Use | Decision::UseAndRefresh, None) => {
                unreachable!("using a token needs one cached")
            }
        }
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.shared.source)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
