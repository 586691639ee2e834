//! Single flight: the one fetch that every caller without a usable token waits for.
//!
//! A fetch runs in a spawned task, so a caller that gives up never cancels it for the others;
//! they follow it on a `watch` channel. Its record in the cache (`Fetch::Running`) is cleared
//! by a guard made *before* the spawn and moved into the task: if the task never runs or is
//! dropped unfinished (its runtime shut down), dropping the guard clears the record and closes
//! the channel, and each waiter starts the fetch again once, in its own runtime. If the token
//! source panics, the guard records that as a failed fetch (`Error::SourcePanicked`, not
//! retried). The task ends on its own when nobody is left to tell: every waiter and the cache
//! itself gone.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::task::Poll;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::fetch::fetch_with_retries;
use super::{Fetch, Shared, Step, Token};
use crate::stats::Event;
use crate::{AccessToken, Error};

/// What a fetch ends with, as its waiters see it.
pub(super) type Outcome = Result<Token, Error>;

/// A fetch in progress, as the cache records it.
#[derive(Debug)]
pub(super) struct Flight {
    pub(super) id: u64,
    pub(super) outcome: watch::Receiver<Option<Outcome>>,
}

impl Shared {
    /// Records a new flight and spawns its task on `runtime`. Takes the state's lock guard and
    /// releases it before spawning: a runtime that is shutting down drops the task at once, and
    /// the task's guard then takes the lock to clear the record.
    pub(super) fn start_flight(
        self: &Arc<Self>,
        mut state: std::sync::MutexGuard<'_, super::State>,
        runtime: &Handle,
    ) -> watch::Receiver<Option<Outcome>> {
        let (sender, receiver) = watch::channel(None);
        state.flights_started += 1;
        let id = state.flights_started;
        state.fetch = Fetch::Running(Flight {
            id,
            outcome: receiver.clone(),
        });
        // A fetch that replaces a token: ahead of expiry, at expiry, or after a 401.
        if state.generation > 0 {
            self.counters.count(Event::Refresh);
        }
        // The token held (or last held): being replaced, so never taken back from a store.
        #[cfg(feature = "redis")]
        let held = state.last_header.clone();
        drop(state);
        let landing = Landing {
            shared: Arc::downgrade(self),
            id,
            sender,
        };
        let source = Arc::clone(&self.source);
        let (config, counters) = (self.config.clone(), Arc::clone(&self.counters));
        #[cfg(feature = "redis")]
        let fleet = self.fleet.clone();
        let task = async move {
            #[cfg(feature = "redis")]
            let fetch = async {
                match &fleet {
                    Some(fleet) => fleet.fetch(held, &*source, &config, &counters).await,
                    None => fetch_with_retries(&*source, &config, &counters).await,
                }
            };
            #[cfg(not(feature = "redis"))]
            let fetch = fetch_with_retries(&*source, &config, &counters);
            if let Some(fetched) = landing.unless_abandoned(fetch).await {
                landing.land(fetched);
            }
        };
        runtime.spawn(task.instrument(self.span.clone()));
        receiver
    }

    /// Forgets the flight `id` if it is still the one recorded: its task ended without an
    /// outcome. The cached token, kept fresh while a refresh ran, is looked at again by the
    /// next request, which starts the refresh anew.
    fn abandon(&self, id: u64) {
        let mut state = self.lock();
        if matches!(&state.fetch, Fetch::Running(flight) if flight.id == id) {
            state.fetch = Fetch::Idle;
            if let Some(cached) = &*self.current.load() {
                cached.freshness.mark_stale();
            }
            self.publish();
        }
    }
}

/// Owned by a flight's task: records its outcome, or clears its record if the task ends
/// without one.
struct Landing {
    shared: Weak<Shared>,
    id: u64,
    sender: watch::Sender<Option<Outcome>>,
}

impl Landing {
    /// Runs `fetch` unless every receiver goes first (the cache, which holds one while the
    /// flight runs, and every waiter): then nobody is left to tell, and `None`.
    async fn unless_abandoned<F: Future>(&self, fetch: F) -> Option<F::Output> {
        let mut fetch = pin!(fetch);
        let mut abandoned = pin!(self.sender.closed());
        poll_fn(|cx| {
            if let Poll::Ready(fetched) = fetch.as_mut().poll(cx) {
                return Poll::Ready(Some(fetched));
            }
            abandoned.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    fn land(self, fetched: Result<(AccessToken, Instant), Error>) {
        if let Some(shared) = self.shared.upgrade() {
            let outcome = shared.record(self.id, fetched);
            self.sender.send_replace(Some(outcome));
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        let landed = self.sender.borrow().is_some();
        let Some(shared) = self.shared.upgrade().filter(|_| !landed) else {
            return;
        };
        if std::thread::panicking() {
            // The token source panicked: a failure like any other, shared with the waiters
            // and held for the cool-down, so a source that always panics is not called per
            // request.
            // Not retryable: the flight ends with the panic, and a source that panicked once
            // would most likely panic again.
            let panicked = Error::SourcePanicked {};
            let outcome = shared.record(self.id, Err(panicked));
            self.sender.send_replace(Some(outcome));
        } else {
            shared.abandon(self.id);
        }
    }
}

/// Follows a flight to its outcome. If its task ended without one (dropped with its runtime),
/// asks the cache once more, which starts a fetch in the caller's own runtime.
pub(super) async fn wait_for_token(
    shared: Arc<Shared>,
    mut outcome: watch::Receiver<Option<Outcome>>,
) -> Result<Token, Error> {
    for retry in [true, false] {
        if let Ok(landed) = outcome.wait_for(Option::is_some).await {
            if let Some(landed) = &*landed {
                return landed.clone();
            }
        }
        if !retry {
            break;
        }
        tracing::debug!("the token fetch's task ended early; starting it again");
        match shared.step() {
            Step::Ready(token) => return token,
            Step::Wait(next) => outcome = next,
        }
    }
    Err(Error::no_runtime(
        "the token fetch was dropped before it finished: the Tokio runtime running it shut down",
    ))
}
