//! Durations at the edge of what `Instant` can hold, from the server (`Retry-After`) or from the
//! configuration, on paused Tokio time over the in-memory fake.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TokenFault};
use symbl_auth::SymblAuthLayer;
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
