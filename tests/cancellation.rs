//! Callers dropped at every point — before their first poll, while the token is fetched, after
//! it, and while the retry after a 401 waits for a new token — over 400 seeded random runs on
//! paused Tokio time. However callers give up, the cache is never wedged, no caller that stays
//! is left hanging, and no more fetches run than the 401s call for.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::FakeSymbl;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};
use tower::{Layer, ServiceExt};

use support::*;

const RUNS: u64 = 400;

/// How a caller gives up.
#[derive(Debug, Clone, Copy)]
enum Patience {
    /// Its future is dropped before it is ever polled.
    Unpolled,
    /// Its future is dropped after this long.
    For(Duration),
    /// It waits for its answer.
    Forever,
}

#[tokio::test(start_paused = true)]
async fn callers_cancelled_anywhere_never_wedge_the_cache() {
    for run in 0..RUNS {
        let mut rng = SeededRng::new(run);
        let fake = FakeSymbl::new();
        let source =
            ScriptedSource::new(fake.clone()).delayed(Duration::from_millis(rng.below(50)));
        let service = in_memory_layer(source.clone()).layer(fake.api_service());
        // Some runs reject API calls, so callers also give up while a retry waits for a token.
        let rejections = rng.below(3) as usize;
        fake.reject_api_requests(rejections);

        let mut callers = JoinSet::new();
        let mut patience = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let wait = match rng.below(4) {
                0 => Patience::Unpolled,
                1 | 2 => Patience::For(Duration::from_millis(rng.below(80))),
                _ => Patience::Forever,
            };
            let start = Duration::from_millis(rng.below(60));
            patience.push(wait);
            let call = service
                .clone()
                .oneshot(get(&symbl_url("/v1/conversations")));
            callers.spawn(async move {
                sleep(start).await;
                match wait {
                    Patience::Unpolled => {
                        drop(call);
                        None
                    }
                    Patience::For(limit) => timeout(limit, call).await.ok(),
                    Patience::Forever => Some(call.await),
                }
            });
        }
        let ended = timeout(Duration::from_secs(60), async {
            let mut outcomes = Vec::new();
            while let Some(outcome) = callers.join_next().await {
                outcomes.push(outcome.expect("no panic"));
            }
            outcomes
        })
        .await;
        let outcomes = ended.unwrap_or_else(|_| panic!("run {run}: a caller hangs {patience:?}"));
        for outcome in outcomes.into_iter().flatten() {
            let status = outcome.unwrap_or_else(|error| panic!("run {run}: {error}"));
            assert!(
                status.status() == StatusCode::OK || status.status() == StatusCode::UNAUTHORIZED,
                "run {run}: {}",
                status.status()
            );
        }

        // Not wedged: a new caller gets its answer, from the cache or one more fetch. (Up to
        // two rejections may be left for it, unused by callers that gave up first.)
        let mut status = StatusCode::UNAUTHORIZED;
        for _ in 0..3 {
            let call = status_of(&service, get(&symbl_url("/v1/conversations")));
            let answer = timeout(Duration::from_secs(60), call).await;
            status = answer
                .unwrap_or_else(|_| panic!("run {run}: the cache is wedged {patience:?}"))
                .expect("call");
            if status == StatusCode::OK {
                break;
            }
        }
        assert_eq!(status, StatusCode::OK, "run {run}");
        let fetches = source.started();
        // One fetch for the cold cache, and one per 401 at most (forced refreshes are
        // further limited to one a second; a run lasts well under that).
        assert!(
            fetches <= 1 + rejections.min(1),
            "run {run}: {fetches} fetches for {rejections} rejections {patience:?}"
        );
    }
}
