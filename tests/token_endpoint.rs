//! The default token source against a real token endpoint on loopback: every way it can fail
//! ends in a clear error, without a secret in it.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use symbl_auth::test_server::{TestServer, TokenFault, TEST_APP_SECRET};
use symbl_auth::{Credentials, Error, SymblAuthLayer};
use tokio::time::Instant;
use tower::Layer;

use support::*;

/// Calls once through a layer with short timings, returning the error.
async fn failing_call(server: &TestServer, layer: SymblAuthLayer) -> Error {
    let service = layer.layer(http1_client());
    let error = status_of(&service, get(&server.url("/v1/conversations")))
        .await
        .expect_err("no token");
    let error = auth_error(&error).clone();
    let text = format!("{error} {error:?}");
    assert!(!text.contains(TEST_APP_SECRET), "secret in {text}");
    assert!(!text.contains("fake-token"), "token in {text}");
    error
}

fn quick(server: &TestServer) -> symbl_auth::SymblAuthLayerBuilder {
    server
        .layer_builder()
        .token_request_timeout(Duration::from_millis(300))
        .token_retry_budget(Duration::from_millis(800))
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_permanent_error() {
    let server = TestServer::start().await.expect("server");
    let layer = SymblAuthLayer::builder(Credentials::new("test-app-id", "wrong-secret"))
        .token_url(server.token_url())
        .build()
        .expect("layer");
    let service = layer.layer(http1_client());
    let url = server.url("/v1/conversations");
    for _ in 0..20 {
        let error = status_of(&service, get(&url))
            .await
            .expect_err("bad credentials");
        let error = auth_error(&error);
        assert!(
            matches!(error, Error::InvalidCredentials { status, .. } if *status == StatusCode::UNAUTHORIZED)
        );
        assert!(error.to_string().contains("SYMBL_APP_ID"), "{error}");
        assert!(!error.to_string().contains("wrong-secret"));
    }
    assert_eq!(
        server.symbl().token_requests(),
        1,
        "not retried, and held for the cool-down"
    );
    assert_eq!(server.symbl().api_requests(), 0);
}

#[tokio::test]
async fn bad_request_is_invalid_credentials() {
    let server = TestServer::start().await.expect("server");
    server
        .symbl()
        .fail_token_requests(TokenFault::Status(StatusCode::BAD_REQUEST), 1);
    let error = failing_call(&server, server.layer()).await;
    assert!(matches!(error, Error::InvalidCredentials { .. }), "{error}");
    assert_eq!(server.symbl().token_requests(), 1);
}

#[tokio::test]
async fn a_wrong_token_path_is_rejected_not_retried() {
    let server = TestServer::start().await.expect("server");
    let layer = quick(&server)
        .token_url(server.url("/oauth2/nope"))
        .build()
        .expect("layer");
    let error = failing_call(&server, layer).await;
    assert!(
        matches!(error, Error::TokenEndpointRejected { status, .. } if status == StatusCode::NOT_FOUND),
        "{error}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_they_heal() {
    let server = TestServer::start().await.expect("server");
    server
        .symbl()
        .fail_token_requests(TokenFault::Status(StatusCode::SERVICE_UNAVAILABLE), 2);
    let service = authed_http1(&server);
    let status = status_of(&service, get(&server.url("/v1/conversations"))).await;
    assert_eq!(status.expect("call"), StatusCode::OK);
    assert_eq!(server.symbl().token_requests(), 3);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = TestServer::start().await.expect("server");
    server.symbl().fail_token_requests(
        TokenFault::TooManyRequests {
            retry_after: "1".into(),
        },
        1,
    );
    let service = authed_http1(&server);
    let start = Instant::now();
    let status = status_of(&service, get(&server.url("/v1/conversations"))).await;
    assert_eq!(status.expect("call"), StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(server.symbl().token_requests(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_fast_and_is_kept() {
    let server = TestServer::start().await.expect("server");
    server.symbl().fail_token_requests(
        TokenFault::TooManyRequests {
            retry_after: "120".into(),
        },
        1,
    );
    let start = Instant::now();
    let error = failing_call(&server, quick(&server).build().expect("layer")).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "did not sit out the Retry-After"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(error.to_string().contains("429"), "{error}");
}

#[tokio::test]
async fn a_hanging_endpoint_times_out() {
    let server = TestServer::start().await.expect("server");
    server.symbl().fail_token_requests(TokenFault::Hang, 100);
    let start = Instant::now();
    let error = failing_call(&server, quick(&server).build().expect("layer")).await;
    assert!(
        matches!(error, Error::TokenEndpointUnavailable { .. }),
        "{error}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/oauth2/token:generate",
        closed.local_addr().expect("addr")
    );
    drop(closed);
    let server = TestServer::start().await.expect("server");
    let layer = quick(&server)
        .token_url(url)
        .allow_host("127.0.0.1")
        .build()
        .expect("layer");
    let error = failing_call(&server, layer).await;
    assert!(
        matches!(error, Error::TokenEndpointUnavailable { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("connect"), "{error}");
    assert!(
        std::error::Error::source(&error).is_some(),
        "keeps the network error as source"
    );
}

#[tokio::test]
async fn malformed_token_responses_are_clear_errors() {
    let cases: [(&str, Bytes); 6] = [
        ("not JSON", Bytes::from_static(b"<html>fake-token</html>")),
        (
            "accessToken is missing",
            Bytes::from_static(br#"{"expiresIn":86400}"#),
        ),
        (
            "expiresIn is missing",
            Bytes::from_static(br#"{"accessToken":"fake-token"}"#),
        ),
        (
            "cannot go in an HTTP header",
            Bytes::from_static(br#"{"accessToken":"fake-token\nX-Injected: 1","expiresIn":86400}"#),
        ),
        (
            "expiresIn is negative",
            Bytes::from_static(br#"{"accessToken":"fake-token","expiresIn":-1}"#),
        ),
        ("larger than", Bytes::from(vec![b'x'; 3 * 1024 * 1024])),
    ];
    for (expected, body) in cases {
        let server = TestServer::start().await.expect("server");
        server
            .symbl()
            .fail_token_requests(TokenFault::Body(body), 1);
        let error = failing_call(&server, quick(&server).build().expect("layer")).await;
        assert!(matches!(error, Error::BadTokenResponse { .. }), "{error}");
        assert!(error.to_string().contains(expected), "{expected}: {error}");
        assert_eq!(
            server.symbl().token_requests(),
            1,
            "a malformed answer is not retried"
        );
    }
}
