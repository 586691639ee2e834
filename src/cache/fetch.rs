//! One fetch: attempts at the token source, each with a timeout, retried with backoff while the
//! error is transient and the budget lasts.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use super::schedule::{later, CacheConfig};
use crate::attempt::bounded_by_layer;
use crate::stats::{Counters, Event};
use crate::{AccessToken, Error, TokenSource};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Asks `source` until it grants a token, fails for good, or the retry budget runs out.
/// Returns the token and when its request was sent.
pub(super) async fn fetch_with_retries(
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
        let error = match tokio::time::timeout(limit, bounded_by_layer(source.fetch_token())).await
        {
            Ok(Ok(token)) => {
                if let Some(quota) = token.quota() {
                    note_quota(counters, quota.remaining, quota.limit);
                }
                return Ok((token, sent_at));
            }
            Ok(Err(error)) => {
                if let Error::TokenEndpointUnavailable {
                    status: Some(StatusCode::TOO_MANY_REQUESTS),
                    ..
                } = &error
                {
                    note_quota(counters, 0, None);
                }
                error
            }
            Err(_) => timed_out(config),
        };
        counters.count(Event::TokenFailure);
        let Some(delay) = retry_delay(&error, backoff, Instant::now(), deadline) else {
            return Err(error);
        };
        tracing::debug!(attempt, %error, delay = ?delay, "token request failed; retrying");
        tokio::time::sleep(delay).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Records what the token server said is left of its budget, with a warning once it is down to
/// a tenth of its limit (or to 10 with no limit stated, or spent: a `429`), before the server
/// starts refusing: a fleet sharing one client should share its tokens (`shared_store`).
fn note_quota(counters: &Counters, remaining: u64, limit: Option<u64>) {
    counters.quota(remaining, limit);
    let limit = limit.or(counters.quota_left().1);
    let low = match limit {
        Some(limit) => remaining.saturating_mul(10) <= limit,
        None => remaining <= 10,
    };
    if low {
        tracing::warn!(
            remaining,
            limit,
            "the token server's budget for this client is nearly spent"
        );
    }
}

/// The error of an attempt that got no answer in time, naming the settings that ran out (not
/// the shortened last attempt).
fn timed_out(config: &CacheConfig) -> Error {
    Error::unavailable(
        format!(
            "no answer within the token request timeout ({:?}) before the retry budget ({:?}) \
             ran out",
            config.attempt_timeout, config.retry_budget
        ),
        None,
    )
}

/// How long to wait before the next attempt after `error`, or `None` to give up: the error is
/// permanent, or the wait would end past the `deadline`. At least any `Retry-After`.
fn retry_delay(
    error: &Error,
    backoff: Duration,
    now: Instant,
    deadline: Instant,
) -> Option<Duration> {
    if !error.is_retryable() {
        return None;
    }
    let delay = jitter(backoff).max(error.retry_after().unwrap_or_default());
    (later(now, delay) < deadline).then_some(delay)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CacheConfig {
        CacheConfig {
            refresh_window: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(10),
            retry_budget: Duration::from_secs(30),
            failure_cooldown: Duration::from_secs(5),
        }
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_backoff() {
        for _ in 0..1000 {
            let delay = jitter(Duration::from_millis(400));
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&delay));
        }
    }

    #[test]
    fn transient_errors_wait_at_least_their_retry_after_within_the_budget() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(30);
        let busy = Error::unavailable("busy", Some(Duration::from_secs(3)));
        let delay = retry_delay(&busy, FIRST_BACKOFF, now, deadline).expect("retried");
        assert_eq!(delay, Duration::from_secs(3));
        let too_late = Error::unavailable("busy", Some(Duration::from_secs(31)));
        assert_eq!(retry_delay(&too_late, FIRST_BACKOFF, now, deadline), None);
        let denied = Error::invalid_credentials(http::StatusCode::UNAUTHORIZED);
        assert_eq!(retry_delay(&denied, FIRST_BACKOFF, now, deadline), None);
    }

    #[test]
    fn a_timeout_names_the_settings_that_ran_out() {
        let text = timed_out(&config()).to_string();
        assert!(text.contains("token request timeout (10s)"), "{text}");
        assert!(text.contains("retry budget (30s)"), "{text}");
    }
}
