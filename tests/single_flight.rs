//! One token fetch serves every concurrent request, over real HTTP on loopback.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use tokio::task::JoinSet;
use tower::Layer;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_share_one_fetch() {
    let server = TestServer::start().await.expect("server");
    let service = server.layer().layer(http2_client());
    let url = server.url("/v1/conversations");

    let mut calls = JoinSet::new();
    for _ in 0..1_000 {
        let service = service.clone();
        let request = get(&url);
        calls.spawn(async move { status_of(&service, request).await });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.expect("task").expect("call"), StatusCode::OK);
    }
    assert_eq!(server.symbl().token_requests(), 1);
    assert_eq!(server.symbl().api_requests(), 1_000);

    // Warm: no more token requests at all.
    for _ in 0..50 {
        assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    }
    assert_eq!(server.symbl().token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_of_one_layer_share_the_cache() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let first = layer.clone().layer(http1_client());
    let second = layer.layer(http2_client());
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&first, get(&url)).await, StatusCode::OK);
    assert_eq!(answered(&second, get(&url)).await, StatusCode::OK);
    assert_eq!(server.symbl().token_requests(), 1);
}

#[cfg(builtin_client)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failures_share_one_fetch_and_its_error() {
    let symbl = FakeSymbl::new().credentials(symbl_auth::Credentials::new("other", "creds"));
    let server = TestServer::serve(symbl).await.expect("server");
    // The layer sends the test credentials, which this server does not accept.
    let layer = symbl_auth::SymblAuthLayer::builder(symbl_auth::Credentials::new(
        symbl_auth::test_server::TEST_APP_ID,
        symbl_auth::test_server::TEST_APP_SECRET,
    ))
    .token_url(server.token_url())
    .build()
    .expect("layer");
    let service = layer.layer(http2_client());
    let url = server.url("/v1/conversations");

    let mut calls = JoinSet::new();
    for _ in 0..200 {
        let service = service.clone();
        let request = get(&url);
        calls.spawn(async move { status_of(&service, request).await });
    }
    while let Some(result) = calls.join_next().await {
        let error = result.expect("task").expect_err("bad credentials");
        assert!(matches!(
            auth_error(&error),
            symbl_auth::Error::InvalidCredentials { .. }
        ));
    }
    // The shared failure is held for the cool-down: more calls do not ask again.
    for _ in 0..20 {
        status_of(&service, get(&url))
            .await
            .expect_err("still failing");
    }
    assert_eq!(server.symbl().token_requests(), 1);
    assert_eq!(server.symbl().api_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_first_caller_does_not_cancel_the_fetch() {
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let layer = in_memory_layer(source.clone());
    let service = layer.layer(source.fake.api_service());
    let url = symbl_url("/v1/conversations");

    // The first caller starts the fetch, then gives up.
    let first = tokio::spawn({
        let service = service.clone();
        let request = get(&url);
        async move { status_of(&service, request).await }
    });
    until(|| source.started() == 1).await;
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());

    // A second caller joins the same fetch, which still completes.
    let second = tokio::spawn({
        let service = service.clone();
        let request = get(&url);
        async move { status_of(&service, request).await }
    });
    source.open(1);
    let status = second.await.expect("task").expect("call");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(source.started(), 1);
    assert_eq!(source.fake.token_requests(), 1);
}
