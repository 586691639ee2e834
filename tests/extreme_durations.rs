//! Durations at the edge of what `Instant` can hold, from the server (`Retry-After`), from a
//! token source or from the configuration, on paused Tokio time over the in-memory fake.
#![cfg(feature = "test-server")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TokenFault};
use symbl_auth::{Error, SymblAuthLayer, TokenFuture, TokenSource};
use tokio::time::advance;
use tower::Layer;

use support::*;

async fn call_kinds(layer: &SymblAuthLayer, fake: &FakeSymbl, calls: usize) -> Vec<String> {
    let service = layer.layer(fake.api_service());
    let mut outcomes = Vec::new();
    for _ in 0..calls {
        let url = symbl_url("/v1/conversations");
        outcomes.push(match status_of(&service, get(&url)).await {
            Ok(status) => status.to_string(),
            Err(error) => auth_error(&error).to_string(),
        });
    }
    outcomes
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_any_instant_is_a_clear_error_not_a_panic() {
    let fake = FakeSymbl::new();
    fake.fail_token_requests(
        TokenFault::TooManyRequests {
            retry_after: u64::MAX.to_string(),
        },
        1_000,
    );
    let layer = in_memory_layer(fake.clone());
    let outcomes = call_kinds(&layer, &fake, 20).await;
    for outcome in &outcomes {
        assert!(outcome.contains("429"), "{outcome}");
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "the failure is held, not refetched per call"
    );
}

#[tokio::test(start_paused = true)]
async fn the_longest_durations_in_the_builder_are_accepted() {
    let fake = FakeSymbl::new();
    fake.fail_token_requests(TokenFault::Status(StatusCode::SERVICE_UNAVAILABLE), 3);
    let layer = SymblAuthLayer::from_source(fake.clone())
        .allow_host("api.symbl.ai")
        .token_request_timeout(Duration::MAX)
        .token_retry_budget(Duration::MAX)
        .failure_cooldown(Duration::MAX)
        .refresh_window(Duration::MAX)
        .build()
        .expect("layer");
    // An endless budget retries through the fault.
    assert_eq!(call_kinds(&layer, &fake, 5).await, vec!["200 OK"; 5]);
    assert_eq!(fake.token_requests(), 4);

    // An endless cool-down holds a permanent failure: one request, however many calls.
    let fake = FakeSymbl::new();
    fake.fail_token_requests(TokenFault::Status(StatusCode::UNAUTHORIZED), 1_000);
    let layer = SymblAuthLayer::from_source(fake.clone())
        .allow_host("api.symbl.ai")
        .token_retry_budget(Duration::MAX)
        .failure_cooldown(Duration::MAX)
        .build()
        .expect("layer");
    for outcome in call_kinds(&layer, &fake, 20).await {
        assert!(outcome.contains("invalid credentials"), "{outcome}");
    }
    assert_eq!(fake.token_requests(), 1);
}

/// A token source written outside the crate: its first fetch says "busy, come back in a week",
/// then it grants the fake's tokens.
#[derive(Debug)]
struct BusyForAWeek {
    fake: FakeSymbl,
    fetches: Arc<AtomicUsize>,
}

impl TokenSource for BusyForAWeek {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            if self.fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                let week = Duration::from_secs(7 * 24 * 60 * 60);
                return Err(Error::unavailable("busy", Some(week)));
            }
            self.fake.fetch_token().await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_sources_retry_after_is_capped_like_a_servers() {
    let fake = FakeSymbl::new();
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = BusyForAWeek {
        fake: fake.clone(),
        fetches: Arc::clone(&fetches),
    };
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer");
    let ten_minutes = Duration::from_secs(10 * 60);

    // Ten minutes is past the retry budget: the failure comes back at once, and is held.
    let service = layer.layer(fake.api_service());
    let error = status_of(&service, get(&symbl_url("/v1/conversations")))
        .await
        .expect_err("busy");
    assert_eq!(auth_error(&error).retry_after(), Some(ten_minutes));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    advance(ten_minutes - Duration::from_secs(1)).await;
    let held = call_kinds(&layer, &fake, 3).await;
    assert!(
        held.iter().all(|outcome| outcome.contains("busy")),
        "{held:?}"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "held for ten minutes");

    // Not for the week the source asked for.
    advance(Duration::from_secs(2)).await;
    assert_eq!(call_kinds(&layer, &fake, 3).await, vec!["200 OK"; 3]);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
