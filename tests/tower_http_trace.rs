//! tower-http's `TraceLayer` around the layer, logging headers at TRACE: the token never
//! appears in the output. Its own test binary: the subscriber is process-wide.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use http::{header, StatusCode};
use symbl_auth::test_server::TestServer;
use tower::ServiceBuilder;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, TraceLayer};

use support::*;

#[tokio::test]
async fn traced_requests_never_show_the_token() {
    let captured = Captured::install();

    let server = TestServer::start().await.expect("server");
    let trace = || {
        TraceLayer::new_for_http()
            .make_span_with(DefaultMakeSpan::new().include_headers(true))
            .on_request(DefaultOnRequest::new().level(tracing::Level::TRACE))
    };
    // Traced outside and inside the layer, the inner trace seeing the attached token, with and
    // without SetSensitiveRequestHeaders: the layer marks its header sensitive itself.
    let service = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
        ]))
        .layer(trace())
        .layer(server.layer())
        .layer(trace())
        .service(http1_client());
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    server.symbl().revoke_tokens();
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    let logs = captured.text();
    assert!(logs.contains("authorization"), "headers are traced: {logs}");
    assert!(logs.contains("Sensitive"), "{logs}");
    assert_no_secret_or_token(&[logs]);
}
