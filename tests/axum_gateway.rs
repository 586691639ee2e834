//! An axum app that calls Symbl through one shared layered client: one token fetch serves
//! many inbound requests.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/axum_gateway.rs"]
mod example;
mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use symbl_auth::test_server::TestServer;
use tokio::task::JoinSet;
use tower::ServiceExt;

use example::{app, Gateway};
use support::body_text;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_fetch_serves_many_inbound_requests() {
    let symbl = TestServer::start().await.expect("server");
    let app = app(Gateway::new(&symbl.layer(), symbl.url("")).expect("gateway"));

    let mut calls = JoinSet::new();
    for _ in 0..100 {
        let request = Request::get("/conversations")
            .body(Body::empty())
            .expect("request");
        calls.spawn(app.clone().oneshot(request));
    }
    while let Some(response) = calls.join_next().await {
        let response = response.expect("task").expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_text(response).await, r#"{"conversations":[]}"#);
    }
    assert_eq!(symbl.symbl().token_requests(), 1);
    assert_eq!(symbl.symbl().api_requests(), 100);
}

#[cfg(builtin_client)]
#[tokio::test]
async fn auth_failures_become_a_clear_bad_gateway() {
    let symbl = TestServer::start().await.expect("server");
    let layer = symbl_auth::SymblAuthLayer::builder(symbl_auth::Credentials::new("who", "nope"))
        .token_url(symbl.token_url())
        .build()
        .expect("layer");
    let app = app(Gateway::new(&layer, symbl.url("")).expect("gateway"));
    let request = Request::get("/conversations")
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let text = body_text(response).await;
    assert!(text.contains("invalid credentials"), "{text}");
    assert!(!text.contains("nope"));
}
