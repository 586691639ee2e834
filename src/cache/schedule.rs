//! When a token is used, refreshed and replaced: pure decisions on a given `now`, tested
//! without a runtime.

use std::time::Duration;

use tokio::time::Instant;

/// The least time between two fetches that the cache starts on its own account (refreshing a
/// re-served token, replacing one rejected with a 401), so no server answer can make it loop.
pub(super) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How long before expiry a token stops being handed out without waiting (at most a tenth of
/// its lifetime): room for the request to reach the server before the token runs out.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// The timing knobs of a cache; defaults and their reasons are on the builder.
#[derive(Clone, Debug)]
pub(crate) struct CacheConfig {
    pub(crate) refresh_window: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) retry_budget: Duration,
    pub(crate) failure_cooldown: Duration,
}

/// The life of one cached token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Schedule {
    /// From here, one background refresh starts while the token keeps being used.
    pub(super) refresh_at: Instant,
    /// From here, requests wait for a new token instead of using this one.
    pub(super) stale_at: Instant,
    /// The end of the token's lifetime, counted from when it was requested.
    pub(super) expires_at: Instant,
}

impl Schedule {
    /// Until then the token is used as it is, with no clock read: the earlier of the refresh
    /// and stale times.
    pub(super) fn fresh_until(&self) -> Instant {
        self.refresh_at.min(self.stale_at)
    }

    /// The schedule of a token just granted, `lifetime` from `sent_at` (when its request was
    /// sent: the server's clock started no earlier). `reserved` when the endpoint handed back
    /// the token the cache already had.
    pub(super) fn granted(
        lifetime: Duration,
        sent_at: Instant,
        now: Instant,
        reserved: bool,
        refresh_window: Duration,
    ) -> Self {
        let expires_at = later(sent_at, lifetime);
        let stale_at = expires_at - EXPIRY_MARGIN.min(lifetime / 10);
        if !reserved {
            let refresh_at = expires_at - refresh_window.min(lifetime / 2);
            return Self {
                refresh_at,
                stale_at,
                expires_at,
            };
        }
        // Symbl caches tokens server-side and re-serves the one we have until near its expiry.
        // Ask again after half the time left, so refreshing ahead costs a few fetches a day
        // rather than one per request.
        let left = expires_at.saturating_duration_since(now);
        if now >= stale_at || left / 2 < MIN_REFRESH_INTERVAL {
            // It will not renew before this one expires: use it to the end (a 401 at the edge
            // refreshes and retries) and fetch when it has expired.
            return Self {
                refresh_at: expires_at,
                stale_at: expires_at,
                expires_at,
            };
        }
        Self {
            refresh_at: now + left / 2,
            stale_at,
            expires_at,
        }
    }

    /// The schedule of a token kept after a refresh failed at `now`, with a cool-down until
    /// `until`: used to the end of its lifetime if need be, refreshed again after the
    /// cool-down.
    pub(super) fn kept(&self, until: Instant) -> Self {
        Self {
            refresh_at: until,
            stale_at: self.stale_at.max(until).min(self.expires_at),
            expires_at: self.expires_at,
        }
    }
}

/// What the fetch machinery is doing, as far as a decision needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fetching {
    Idle,
    Running,
    /// The last fetch failed; its error is handed out until then.
    Failed {
        until: Instant,
    },
}

/// What a request that found no fresh token does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Send with the cached token.
    Use,
    /// Send with the cached token, and start one background refresh.
    UseAndRefresh,
    /// Wait for the fetch that is running.
    Wait,
    /// Start a fetch and wait for it.
    Fetch,
    /// Fail with the last fetch's error (its cool-down is not over).
    Fail,
}

/// The decision for a request at `now`, given the cached token's schedule (if one is cached).
pub(super) fn decide(now: Instant, cached: Option<&Schedule>, fetching: Fetching) -> Decision {
    let cooling_down = matches!(fetching, Fetching::Failed { until } if now < until);
    if let Some(schedule) = cached {
        if now < schedule.stale_at {
            let refresh = now >= schedule.refresh_at && fetching != Fetching::Running;
            return if refresh && !cooling_down {
                Decision::UseAndRefresh
            } else {
                Decision::Use
            };
        }
        // Nearly expired, but the last refresh failed: keep using it while it is valid.
        if cooling_down && now < schedule.expires_at {
            return Decision::Use;
        }
    }
    match fetching {
        Fetching::Running => Decision::Wait,
        _ if cooling_down => Decision::Fail,
        _ => Decision::Fetch,
    }
}

/// Whether a 401 at `now` may drop the cached token, given the last time one did: at most
/// one forced refresh per [`MIN_REFRESH_INTERVAL`], so a server that rejects every token
/// cannot turn requests into token requests.
pub(super) fn may_force_refresh(now: Instant, last: Option<Instant>) -> bool {
    last.is_none_or(|last| now >= later(last, MIN_REFRESH_INTERVAL))
}

/// `at + by`, or a time some decades away when that is past what an `Instant` can hold: a
/// `Retry-After` or a configured duration can be anything up to `Duration::MAX`.
pub(super) fn later(at: Instant, by: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    at.checked_add(by)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);
    const WINDOW: Duration = Duration::from_secs(300);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_new_token_refreshes_a_window_before_expiry_and_stales_a_margin_before() {
        let t0 = Instant::now();
        let schedule = Schedule::granted(DAY, t0, t0 + secs(1), false, WINDOW);
        assert_eq!(schedule.expires_at, t0 + DAY, "counted from the request");
        assert_eq!(schedule.refresh_at, t0 + DAY - WINDOW);
        assert_eq!(schedule.stale_at, t0 + DAY - secs(30));
        assert_eq!(schedule.fresh_until(), schedule.refresh_at);
    }

    #[test]
    fn short_lifetimes_scale_the_window_and_margin() {
        let t0 = Instant::now();
        let schedule = Schedule::granted(secs(60), t0, t0, false, WINDOW);
        assert_eq!(
            schedule.refresh_at,
            t0 + secs(30),
            "at most half the lifetime"
        );
        assert_eq!(schedule.stale_at, t0 + secs(54), "a tenth of the lifetime");
        // A window shorter than the margin: fresh only until stale.
        let schedule = Schedule::granted(DAY, t0, t0, false, secs(1));
        assert_eq!(schedule.fresh_until(), schedule.stale_at);
    }

    #[test]
    fn a_re_served_token_is_asked_for_again_after_half_its_time_left() {
        let t0 = Instant::now();
        let now = t0 + HOUR;
        let schedule = Schedule::granted(DAY - HOUR, now, now, true, WINDOW);
        assert_eq!(schedule.refresh_at, now + (DAY - HOUR) / 2);
        // Once stale, it is used to its expiry, with no more asking.
        let late = Schedule::granted(secs(20), now, now + secs(19), true, WINDOW);
        assert_eq!(late.refresh_at, late.expires_at);
        assert_eq!(late.stale_at, late.expires_at);
        let last_second = Schedule::granted(Duration::from_millis(1500), now, now, true, WINDOW);
        assert_eq!(last_second.refresh_at, last_second.expires_at);
    }

    #[test]
    fn a_kept_token_is_refreshed_after_the_cool_down_and_used_to_its_end() {
        let t0 = Instant::now();
        let schedule = Schedule::granted(HOUR, t0, t0, false, WINDOW);
        let until = schedule.stale_at + secs(10);
        let kept = schedule.kept(until);
        assert_eq!(kept.refresh_at, until);
        assert_eq!(kept.stale_at, until, "used past its usual stale time");
        let kept = schedule.kept(schedule.expires_at + HOUR);
        assert_eq!(kept.stale_at, schedule.expires_at, "never past its expiry");
    }

    #[test]
    fn decisions_follow_the_schedule() {
        let t0 = Instant::now();
        let s = Schedule::granted(HOUR, t0, t0, false, WINDOW);
        let idle = Fetching::Idle;
        assert_eq!(decide(t0, Some(&s), idle), Decision::Use);
        assert_eq!(
            decide(s.refresh_at, Some(&s), idle),
            Decision::UseAndRefresh
        );
        assert_eq!(
            decide(s.refresh_at, Some(&s), Fetching::Running),
            Decision::Use,
            "one refresh at a time"
        );
        assert_eq!(decide(s.stale_at, Some(&s), idle), Decision::Fetch);
        assert_eq!(
            decide(s.stale_at, Some(&s), Fetching::Running),
            Decision::Wait
        );
        assert_eq!(decide(t0, None, idle), Decision::Fetch);
        assert_eq!(decide(t0, None, Fetching::Running), Decision::Wait);
    }

    #[test]
    fn a_failure_is_held_for_its_cool_down() {
        let t0 = Instant::now();
        let failed = Fetching::Failed {
            until: t0 + secs(5),
        };
        assert_eq!(decide(t0, None, failed), Decision::Fail);
        assert_eq!(decide(t0 + secs(5), None, failed), Decision::Fetch);
        // A valid token is used through the cool-down, even past its stale time.
        let s = Schedule::granted(HOUR, t0, t0, false, WINDOW);
        let failed = Fetching::Failed {
            until: s.stale_at + secs(5),
        };
        assert_eq!(decide(s.refresh_at, Some(&s), failed), Decision::Use);
        assert_eq!(decide(s.stale_at, Some(&s), failed), Decision::Use);
        let failed = Fetching::Failed {
            until: s.expires_at + secs(5),
        };
        assert_eq!(decide(s.expires_at, Some(&s), failed), Decision::Fail);
    }

    #[test]
    fn forced_refreshes_are_one_a_second() {
        let t0 = Instant::now();
        assert!(may_force_refresh(t0, None));
        assert!(!may_force_refresh(
            t0 + Duration::from_millis(999),
            Some(t0)
        ));
        assert!(may_force_refresh(t0 + secs(1), Some(t0)));
    }

    #[test]
    fn durations_past_an_instant_saturate() {
        let t0 = Instant::now();
        // Decades away: an endless cool-down outlasts any process.
        assert!(later(t0, Duration::MAX) >= t0 + DAY * 365 * 30);
        assert_eq!(later(t0, secs(1)), t0 + secs(1));
    }
}
