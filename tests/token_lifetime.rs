//! Expiry, refresh ahead, re-served tokens and fetch retries, on paused Tokio time.
//!
//! These run the layer over `FakeSymbl` in memory (as token source and as API service): real
//! sockets would let paused time jump past timeouts while waiting on I/O.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TokenFault};
use symbl_auth::{SymblAuth, SymblAuthLayer};
use tokio::time::{advance, Instant};
use tower::Layer;

use support::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

type Service = SymblAuth<symbl_auth::test_server::ApiService>;

fn service(layer: &SymblAuthLayer, fake: &FakeSymbl) -> Service {
    layer.layer(fake.api_service())
}

async fn call(service: &Service) -> Result<StatusCode, symbl_auth::BoxError> {
    status_of(service, get(&symbl_url("/v1/conversations"))).await
}

/// Lets spawned tasks (a background refresh) run to completion without moving the clock far.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_short_expires_in_is_honoured() {
    let fake = FakeSymbl::new()
        .token_lifetime(Duration::from_secs(60))
        .reissue_before(Duration::from_secs(60));
    let service = service(&in_memory_layer(fake.clone()), &fake);

    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    advance(Duration::from_secs(20)).await;
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    assert_eq!(fake.token_requests(), 1, "still fresh at 20 s");

    advance(Duration::from_secs(45)).await;
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    assert_eq!(fake.token_requests(), 2, "expired at 60 s: fetched again");
    assert_eq!(
        fake.api_requests(),
        3,
        "no request went out with the expired token"
    );
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_serves_the_valid_token_while_one_refresh_runs() {
    let fake = FakeSymbl::new().token_lifetime(HOUR).reissue_before(HOUR);
    let source = ScriptedSource::new(fake.clone()).gated();
    let service = service(&in_memory_layer(source.clone()), &fake);
    source.open(1);
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);

    // Into the default five-minute refresh window.
    advance(HOUR - Duration::from_secs(200)).await;
    for _ in 0..100 {
        assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
        tokio::task::yield_now().await;
    }
    assert_eq!(source.started(), 2, "exactly one background refresh");
    assert_eq!(
        fake.tokens_issued(),
        1,
        "the refresh is still held at the gate"
    );

    source.open(1);
    settle().await;
    assert_eq!(fake.tokens_issued(), 2);
    for _ in 0..100 {
        assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    }
    assert_eq!(source.started(), 2, "the new token is fresh");
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_valid_token() {
    let fake = FakeSymbl::new().token_lifetime(HOUR).reissue_before(HOUR);
    let service = service(&in_memory_layer(fake.clone()), &fake);
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);

    fake.fail_token_requests(TokenFault::Status(StatusCode::SERVICE_UNAVAILABLE), 10_000);
    advance(HOUR - Duration::from_secs(200)).await;
    // A minute of traffic while every refresh fails: callers never notice.
    for _ in 0..60 {
        assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let failing_requests = fake.token_requests() - 1;
    // A fetch retries for at most 30 s (at most 17 attempts), then cools down for 5 s.
    assert!(
        (2..=30).contains(&failing_requests),
        "{failing_requests} token requests in a failing minute"
    );
    assert_eq!(fake.tokens_issued(), 1);

    fake.heal();
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    settle().await;
    assert_eq!(fake.tokens_issued(), 2, "recovers once the endpoint heals");
}

/// A simulated day of a request every 5 s against Symbl's server-side cache.
async fn fetches_in_a_day(reissue_before: Duration) -> usize {
    let fake = FakeSymbl::new()
        .token_lifetime(DAY)
        .reissue_before(reissue_before);
    let service = service(&in_memory_layer(fake.clone()), &fake);
    let start = Instant::now();
    while start.elapsed() < DAY + Duration::from_secs(60) {
        assert_eq!(
            call(&service).await.expect("call"),
            StatusCode::OK,
            "no request sees a 401"
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert_eq!(
        fake.tokens_issued(),
        2,
        "the day's token, then the next day's"
    );
    fake.token_requests()
}

#[tokio::test(start_paused = true)]
async fn a_day_against_symbls_re_serving_cache_takes_a_handful_of_fetches() {
    // Symbl re-serves its cached token until a minute before expiry.
    let fetches = fetches_in_a_day(Duration::from_secs(60)).await;
    assert!(fetches <= 6, "{fetches} token requests in a day");
}

#[tokio::test(start_paused = true)]
async fn a_server_that_re_serves_until_expiry_does_not_cause_a_fetch_per_request() {
    let fetches = fetches_in_a_day(Duration::ZERO).await;
    assert!(fetches <= 15, "{fetches} token requests in a day");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let fake = FakeSymbl::new();
    let service = service(&in_memory_layer(fake.clone()), &fake);
    fake.fail_token_requests(
        TokenFault::TooManyRequests {
            retry_after: "3".into(),
        },
        1,
    );
    let start = Instant::now();
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "waited {:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_growing_backoff() {
    let fake = FakeSymbl::new();
    let service = service(&in_memory_layer(fake.clone()), &fake);
    fake.fail_token_requests(TokenFault::Status(StatusCode::INTERNAL_SERVER_ERROR), 3);
    let start = Instant::now();
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    // Backoff 100, 200, 400 ms, each jittered to between half and all of it.
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(350), "waited {waited:?}");
    assert!(waited <= Duration::from_millis(700), "waited {waited:?}");
    assert_eq!(fake.token_requests(), 4);
}

/// Per-attempt timeouts inside the budget, to the second on paused time. (What a hanging
/// endpoint's error says, and that the failure is then held, is in `fault_matrix.rs`.)
#[tokio::test(start_paused = true)]
async fn a_hanging_endpoint_times_out_within_the_budget() {
    let fake = FakeSymbl::new();
    let layer = SymblAuthLayer::from_source(fake.clone())
        .allow_host("api.symbl.ai")
        .token_request_timeout(Duration::from_secs(2))
        .token_retry_budget(Duration::from_secs(5))
        .build()
        .expect("layer");
    let service = service(&layer, &fake);
    fake.fail_token_requests(TokenFault::Hang, 1_000);

    let start = Instant::now();
    call(&service).await.expect_err("no token");
    assert!(
        start.elapsed() <= Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    // 2 s, a backoff, 2 s, a backoff, and what is left of the 5 s.
    let attempts = fake.token_requests();
    assert!((2..=3).contains(&attempts), "{attempts} attempts");
}

#[tokio::test(start_paused = true)]
async fn a_failing_endpoint_sees_a_bounded_request_rate() {
    let fake = FakeSymbl::new();
    let service = service(&in_memory_layer(fake.clone()), &fake);
    fake.fail_token_requests(TokenFault::Status(StatusCode::BAD_GATEWAY), 100_000);
    // Two minutes of a request every 100 ms, all failing.
    let start = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..1_200 {
        let service = service.clone();
        calls.spawn(async move { call(&service).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Some(result) = calls.join_next().await {
        result.expect("task").expect_err("the endpoint is failing");
    }
    // A fetch retries for at most the 30 s budget, its backoff (jittered down to half) going
    // 50 ms, 100 ms, … up to 2.5 s: at most 17 attempts. Then 5 s of cool-down.
    let flights = start.elapsed().as_secs().div_ceil(35) as usize;
    let requests = fake.token_requests();
    assert!(
        requests <= flights * 17,
        "{requests} token requests for 1,200 calls"
    );

    fake.heal();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(call(&service).await.expect("recovers"), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn a_second_forced_refresh_waits_a_moment() {
    // A server that rejects every token must not turn each request into a token request.
    let fake = FakeSymbl::new();
    let service = service(&in_memory_layer(fake.clone()), &fake);
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    for _ in 0..50 {
        fake.revoke_tokens();
        let _ = call(&service).await.expect("call");
    }
    assert_eq!(
        fake.token_requests(),
        2,
        "one forced refresh within a second"
    );
    advance(Duration::from_secs(2)).await;
    fake.revoke_tokens();
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
    assert_eq!(fake.token_requests(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_task_that_dies_releases_the_cache() {
    let fake = FakeSymbl::new();
    let layer = in_memory_layer(ScriptedSource::new(fake.clone()).panicking(1));
    let service = service(&layer, &fake);
    let error = call(&service).await.expect_err("the fetch died");
    let error = auth_error(&error);
    assert!(error.to_string().contains("panicked"), "{error}");
    // Not retried, and it says so: a source that panicked once would panic again.
    assert!(
        matches!(error, symbl_auth::Error::SourcePanicked { .. }),
        "{error}"
    );
    assert!(!error.is_retryable(), "{error}");
    // A failure like any other: held for the cool-down, then the next caller fetches.
    call(&service).await.expect_err("cooling down");
    assert_eq!(
        fake.token_requests(),
        0,
        "the source panicked before asking"
    );
    advance(Duration::from_secs(5)).await;
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn access_token_hands_out_the_cached_token_with_its_remaining_lifetime() {
    let fake = FakeSymbl::new();
    let layer = in_memory_layer(fake.clone());
    let token = layer.access_token().await.expect("token");
    assert_eq!(token.expires_in(), DAY);
    assert!(token.secret().starts_with("fake-token-"));

    advance(HOUR).await;
    let again = layer.access_token().await.expect("token");
    assert_eq!(again.secret(), token.secret());
    assert_eq!(again.expires_in(), DAY - HOUR);
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn expiry_counts_from_when_the_token_was_requested() {
    let fake = FakeSymbl::new()
        .token_lifetime(Duration::from_secs(60))
        .reissue_before(Duration::from_secs(60));
    let source = ScriptedSource::new(fake.clone()).gated();
    let service = service(&in_memory_layer(source.clone()), &fake);

    // The token endpoint takes 5 s to answer the first request.
    let first = tokio::spawn({
        let service = service.clone();
        async move { call(&service).await }
    });
    settle().await;
    advance(Duration::from_secs(5)).await;
    source.open(1);
    assert_eq!(first.await.expect("task").expect("call"), StatusCode::OK);

    // 56 s after the request (51 s after the answer) the 60 s token is within its last tenth,
    // so a call waits for a new one. Counted from the answer, it would still be usable.
    advance(Duration::from_secs(51)).await;
    let second = tokio::spawn({
        let service = service.clone();
        async move { call(&service).await }
    });
    settle().await;
    assert!(
        !second.is_finished(),
        "the call did not wait for a new token"
    );
    source.open(1);
    assert_eq!(second.await.expect("task").expect("call"), StatusCode::OK);
    assert_eq!(source.started(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_zero_refresh_window_fetches_only_when_the_token_is_nearly_expired() {
    let fake = FakeSymbl::new().token_lifetime(HOUR).reissue_before(HOUR);
    let source = ScriptedSource::new(fake.clone()).gated();
    let layer = SymblAuthLayer::from_source(source.clone())
        .allow_host("api.symbl.ai")
        .refresh_window(Duration::ZERO)
        .build()
        .expect("zero is a valid refresh window");
    let service = service(&layer, &fake);
    source.open(1);
    assert_eq!(call(&service).await.expect("call"), StatusCode::OK);

    // Inside the default five-minute window, and up to the 30 s expiry margin: no refresh.
    advance(HOUR - Duration::from_secs(200)).await;
    for _ in 0..169 {
        assert_eq!(call(&service).await.expect("call"), StatusCode::OK);
        settle().await;
        advance(Duration::from_secs(1)).await;
    }
    assert_eq!(source.started(), 1, "no refresh ahead with a zero window");

    // 30 s before expiry the token is no longer used: the next call waits for a new one.
    advance(Duration::from_secs(1)).await;
    let waiting = tokio::spawn({
        let service = service.clone();
        async move { call(&service).await }
    });
    settle().await;
    assert!(
        !waiting.is_finished(),
        "the call did not wait for a new token"
    );
    source.open(1);
    assert_eq!(waiting.await.expect("task").expect("call"), StatusCode::OK);
    assert_eq!(source.started(), 2);
}
