//! Dropping the layer and every service made from it frees the token cache, its token source
//! and any fetch still running: no background work outlives its users.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::FakeSymbl;
use symbl_auth::SymblAuth;
use tokio::time::{sleep, timeout};
use tower::Layer;

use support::*;

/// A token endpoint that never answers: a gate that is never opened.
fn unanswered() -> ScriptedSource {
    ScriptedSource::new(FakeSymbl::new()).gated()
}

/// Waits (bounded, by counting not by a fixed sleep) until only the test's copy of `source`
/// is left.
async fn freed(source: &ScriptedSource) -> bool {
    for _ in 0..500 {
        if source.copies() == 1 {
            return true;
        }
        sleep(Duration::from_millis(2)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_layer_and_its_services_ends_a_running_fetch() {
    let source = unanswered();
    let layer = in_memory_layer(source.clone());
    let service = layer.layer(source.fake.api_service());
    // A caller gives up while the fetch (10 s per attempt, 30 s budget) is running.
    let gave_up = timeout(
        Duration::from_millis(50),
        status_of(&service, get(&symbl_url("/v1/conversations"))),
    )
    .await;
    assert!(gave_up.is_err(), "the endpoint never answers");
    assert_eq!(source.copies(), 2, "the layer holds its source");

    drop(service);
    drop(layer);
    assert!(
        freed(&source).await,
        "the fetch task still holds the cache after its layer and services were dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_keeps_the_fetch_alive() {
    let source = unanswered();
    let layer = in_memory_layer(source.clone());
    let service = layer.layer(source.fake.api_service());
    let call = |service: &SymblAuth<_>| {
        let service = service.clone();
        tokio::spawn(async move { status_of(&service, get(&symbl_url("/v1/conversations"))).await })
    };
    let (waiting, giving_up) = (call(&service), call(&service));
    // The fetch is running, held at the gate, when the layer and its services go.
    until(|| source.started() == 1).await;
    drop(service);
    drop(layer);
    // One caller gives up; the other still waits, and its fetch must not be torn down under
    // it: once the endpoint answers, it gets that fetch's token, and no other fetch starts.
    giving_up.abort();
    source.open(1);
    let status = timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered")
        .expect("no panic")
        .expect("the call");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        source.started(),
        1,
        "the fetch started before the drop went on"
    );
    assert_eq!(source.fake.token_requests(), 1);
    assert!(
        freed(&source).await,
        "the last caller gone, everything is freed"
    );
}
