//! No secret or token in any `Debug`, `Display`, error or `tracing` event (at TRACE, from this
//! crate and hyper alike). Its own test binary: the subscriber is process-wide.
#![cfg(feature = "test-server")]

mod support;

use http::StatusCode;
use symbl_auth::test_server::{TestServer, TEST_APP_SECRET};
use symbl_auth::{Credentials, SymblAuthLayer};
use tower::Layer;

use support::*;

#[tokio::test]
async fn no_secret_or_token_in_any_text() {
    let captured = Captured::install();

    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    // A fetch, a revocation with its refresh and retry, and a failing fetch.
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    server.symbl().revoke_tokens();
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    let bad = SymblAuthLayer::builder(Credentials::new("test-app-id", "wrong-secret-value"))
        .token_url(server.token_url())
        .build()
        .expect("layer")
        .layer(http1_client());
    let error = status_of(&bad, get(&url))
        .await
        .expect_err("bad credentials");

    let texts = [
        format!("{layer:?}"),
        format!("{service:?}"),
        format!("{:?}", server.layer_builder()),
        format!("{:?}", Credentials::new("id", TEST_APP_SECRET)),
        format!("{error} {error:?}"),
        captured.text(),
    ];
    let logs = &texts[5];
    for event in [
        "access token granted",
        "rejected with 401",
        "retrying once after a 401",
        "access token fetch failed",
    ] {
        assert!(logs.contains(event), "no {event:?} event in: {logs}");
    }
    for text in &texts {
        assert!(!text.contains(TEST_APP_SECRET), "secret in: {text}");
        assert!(!text.contains("wrong-secret-value"), "secret in: {text}");
        assert!(!text.contains("fake-token"), "token in: {text}");
    }
}
