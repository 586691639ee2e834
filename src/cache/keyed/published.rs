//! [`Published`]: a key's token as the map's entry keeps it, for the keyed hot path.
//!
//! With 10,000 keys the map's memory is far larger than the CPU's caches, and each step from
//! the table's bucket to the key's cache, its current token and the token's freshness is a
//! cold line that must arrive before the next can be asked for. A copy of what a request needs
//! (the header, its generation, until when it is fresh) in the bucket itself leaves the
//! header's bytes and the cache's reference count as the only lines to fetch, both at once.

use http::HeaderValue;
use tokio::time::Instant;

use super::super::{Cached, Token};

/// The copy: the cache writes it (under the shard's write lock) each time it changes its
/// token; requests read it under the read lock.
pub(super) struct Published {
    /// Until when the token may be used, in [`stamp`] units; 0 when there is none to use.
    fresh_until: u64,
    generation: u64,
    header: HeaderValue,
}

impl Published {
    pub(super) fn none() -> Self {
        Self {
            fresh_until: 0,
            generation: 0,
            header: HeaderValue::from_static(""),
        }
    }

    /// What `cached` publishes: its token while its freshness flag is up, until the time that
    /// flag falls. Only a Bearer token: a DPoP one needs its prover, and such keys take their
    /// cache's own path.
    pub(super) fn of(cached: Option<&Cached>, epoch: Instant) -> Self {
        match cached {
            Some(cached) if cached.freshness.is_fresh() && cached.token.binding.is_none() => Self {
                fresh_until: stamp(cached.fresh_until, epoch),
                generation: cached.token.generation,
                header: cached.token.header.clone(),
            },
            _ => Self::none(),
        }
    }

    /// The token, if it is fresh at `now` (a [`stamp`]).
    #[inline]
    pub(super) fn fresh(&self, now: u64) -> Option<Token> {
        (now < self.fresh_until).then(|| Token {
            header: self.header.clone(),
            generation: self.generation,
            binding: None,
        })
    }
}

/// `at` in nanoseconds since `epoch` (0 before it; `u64::MAX` after some 584 years).
pub(super) fn stamp(at: Instant, epoch: Instant) -> u64 {
    let since = at.saturating_duration_since(epoch);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}
