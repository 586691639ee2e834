//! The layer stacked with tower-http's `FollowRedirect` and `Timeout`.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::FakeSymbl;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_http::timeout::TimeoutLayer;

use support::*;

const START: &str = "https://api.symbl.ai/start";

#[tokio::test]
async fn follow_redirect_inside_the_layer_drops_the_token_cross_origin() {
    // The recommended order is `FollowRedirect` outside the layer, where each hop passes
    // through the layer and its host rules (`secret_paths.rs`). The other order also holds:
    // tower-http's standard policy strips `Authorization` on a cross-origin hop and keeps it on
    // a same-origin one. But hops are then invisible to the layer: no host rules, and a 401 on
    // a later hop is not the layer's to retry (see the last test).
    let fake = FakeSymbl::new();
    for (location, token_on_second_hop) in [
        ("https://elsewhere.example/landing", false),
        ("https://api.symbl.ai/landing", true),
    ] {
        let inner = RecordingService::redirecting("/start", location);
        let service = ServiceBuilder::new()
            .layer(in_memory_layer(fake.clone()))
            .layer(FollowRedirectLayer::new())
            .service(inner.clone());
        let response = service.oneshot(get(START)).await.expect("call");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            inner.hops(),
            [(START.into(), true), (location.into(), token_on_second_hop)]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_waiting_for_a_token_does_not_poison_the_cache() {
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(2),
        ))
        .layer(in_memory_layer(source.clone()))
        .service(source.fake.api_service());
    let url = symbl_url("/v1/conversations");

    // The token endpoint is slow: the caller's own timeout answers first.
    let response = service.clone().oneshot(get(&url)).await.expect("call");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);

    // The fetch went on without that caller; once it lands, calls succeed without another.
    source.open(1);
    let response = service.clone().oneshot(get(&url)).await.expect("call");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, r#"{"conversations":[]}"#);
    assert_eq!(source.started(), 1);
}

#[tokio::test]
async fn a_401_after_a_redirect_inside_the_layer_is_not_ours() {
    let server = symbl_auth::test_server::TestServer::start()
        .await
        .expect("server");
    let hosts = CrossHostRedirect::start().await;
    let layer = server.layer();
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .layer(FollowRedirectLayer::new())
        .service(http1_client());
    let response = answered(&service, get(&hosts.url())).await;
    assert_eq!(response, StatusCode::UNAUTHORIZED);

    hosts.assert_the_token_stayed_on_the_first_host();
    let stats = layer.stats();
    assert_eq!(
        (stats.refreshes, stats.retries, stats.token_requests),
        (0, 0, 1)
    );
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    assert_eq!(server.symbl().token_requests(), 1, "the token was kept");
}
