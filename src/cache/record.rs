//! Recording what a fetch brought: a token installed with its freshness timer, or a failure
//! held for the cool-down (keeping a still-valid token).

use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::time::Instant;

use super::flight::Outcome;
use super::freshness::Freshness;
use super::schedule::{later, Schedule};
use super::{Cached, Fetch, Shared, Token};
use crate::{AccessToken, Error};

impl Shared {
    /// Records what the flight `id` brought: a token to cache, or a failure to hold for the
    /// cool-down (keeping a still-valid token). Called in the flight's task.
    pub(super) fn record(
        &self,
        id: u64,
        fetched: Result<(AccessToken, Instant), Error>,
    ) -> Outcome {
        let mut state = self.lock();
        debug_assert!(matches!(&state.fetch, Fetch::Running(flight) if flight.id == id));
        let now = Instant::now();
        // Always there in the flight's task, but for a panic unwinding through a shutdown.
        let runtime = Handle::try_current().ok();
        let runtime = runtime.as_ref();
        match fetched {
            Ok((granted, sent_at)) => {
                let header = granted.header_value().clone();
                let reserved = state.last_header.as_ref() == Some(&header);
                if reserved {
                    tracing::debug!("the endpoint re-served the current access token");
                } else {
                    state.generation += 1;
                    state.last_header = Some(header.clone());
                }
                let schedule = Schedule::granted(
                    granted.expires_in(),
                    sent_at,
                    now,
                    reserved,
                    self.config.refresh_window,
                );
                let token = Token {
                    header,
                    generation: state.generation,
                    binding: granted.binding().cloned(),
                };
                tracing::info!(
                    lifetime = ?granted.expires_in(),
                    latency = ?now.saturating_duration_since(sent_at),
                    generation = token.generation,
                    "access token granted"
                );
                self.install(token.clone(), schedule, schedule.fresh_until(), runtime);
                state.fetch = Fetch::Idle;
                Ok(token)
            }
            Err(error) => {
                let pause = self
                    .config
                    .failure_cooldown
                    .max(error.retry_after().unwrap_or_default());
                let until = later(now, pause);
                tracing::warn!(%error, cooldown = ?pause, "access token fetch failed");
                state.fetch = Fetch::Failed {
                    error: error.clone(),
                    until,
                };
                let current = self.current.load_full();
                match current.filter(|cached| now < cached.schedule.expires_at) {
                    // A refresh failed while the token is still valid: keep it, and try again
                    // once the cool-down is over.
                    Some(cached) => {
                        let kept = cached.schedule.kept(until);
                        self.install(cached.token.clone(), kept, kept.fresh_until(), runtime);
                        Ok(cached.token.clone())
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Makes `token` the current one, fresh (used with no look at the clock) until
    /// `fresh_until`, with a timer on `runtime`; without one, requests read the clock. Its
    /// freshness timer touches no lock, so this may run under one.
    pub(super) fn install(
        &self,
        token: Token,
        schedule: Schedule,
        fresh_until: Instant,
        runtime: Option<&Handle>,
    ) {
        let (freshness, timer) = Freshness::new();
        let cached = Arc::new(Cached {
            token,
            schedule,
            freshness,
            fresh_until,
        });
        if let Some(runtime) = runtime {
            timer.start(&cached, |cached| &cached.freshness, fresh_until, runtime);
        }
        self.current.store(Some(cached));
        self.publish();
    }
}
