//! No secret or token in any `tracing` event (at TRACE, from this crate and hyper alike) along
//! the request path: a fetch, a 401, its refresh and the retry. Its own test binary: the
//! subscriber is process-wide.
//!
//! Failing fetches are scanned under every token endpoint fault in `fault_matrix.rs`, and the
//! `Debug` and `Display` of every public type in `secret_paths.rs`.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use http::StatusCode;
use symbl_auth::test_server::TestServer;
use tower::Layer;

use support::*;

#[tokio::test]
async fn no_secret_or_token_in_the_events_of_a_refresh_and_retry() {
    let captured = Captured::install();

    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    // A fetch, then a revocation with its refresh and retry.
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    server.symbl().revoke_tokens();
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    let logs = captured.text();
    for event in [
        "access token granted",
        "rejected with 401",
        "retrying once after a 401",
    ] {
        assert!(logs.contains(event), "no {event:?} event in: {logs}");
    }
    assert_no_secret_or_token(&[format!("{layer:?}"), format!("{service:?}"), logs]);
}
