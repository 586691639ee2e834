//! A failing token endpoint, fleet-wide (feature `redis`), on a real `redis-server`: what the
//! endpoint answered is shared as the fleet's cool-down (one token request per episode), and
//! what may be one process's own trouble (a timeout, a network error) is not.
#![cfg(all(feature = "redis", feature = "test-server"))]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{TestServer, TokenFault};

use support::fleet::*;
use support::redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_gets_one_token_request_per_cool_down_from_the_fleet() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let refused = TokenFault::Status(StatusCode::BAD_REQUEST);
    server.symbl().fail_token_requests(refused, 1_000);
    let mut plan = Plan::new(&redis, &server, &[], "token");
    plan.cooldown_ms = 2_000;
    let fleet: Vec<Member> = (0..6).map(|_| member(&plan)).collect();
    let calls = futures_util::future::join_all(fleet.iter().map(|m| act(m, &plan))).await;
    assert!(calls.iter().all(Result::is_err), "{calls:?}");
    assert_eq!(server.symbl().token_requests(), 1, "one for the fleet");
    // One cold since: it fails at once too, for the rest of the cool-down.
    let late = member(&plan);
    let error = act(&late, &plan).await.expect_err("cooling down");
    assert!(error.contains("another process of the fleet"), "{error}");
    assert_eq!(server.symbl().token_requests(), 1);

    server.symbl().heal();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    all_at_once(&fleet, &plan)
        .await
        .expect("every call, after it");
    assert_eq!(server.symbl().token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holders_own_timeouts_are_not_shared_as_the_fleets_cool_down() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    // The holder's only attempt gets no answer: its timeout may be its own network's. Another
    // process then asks the endpoint itself, and gets its token.
    server.symbl().fail_token_requests(TokenFault::Hang, 1);
    let mut plan = Plan::new(&redis, &server, &[], "token");
    (plan.attempt_ms, plan.budget_ms, plan.cooldown_ms) = (300, 300, 10_000);
    member(&plan)
        .layer
        .access_token()
        .await
        .expect_err("timed out");
    member(&plan)
        .layer
        .access_token()
        .await
        .expect("not held back");
    assert_eq!(server.symbl().token_requests(), 2);
}
