//! `rustls-no-provider`: a plain `ws://` connect involves no TLS, so it works before the app
//! installs a rustls `CryptoProvider` (and the crate installs none).
//!
//! Only in a build where the provider is the app's (`rustls-no-provider` without `rustls` or
//! `rustls-ring`), in a test binary of its own: the provider is process-wide, and the test is
//! about the time before one is installed.
#![cfg(all(
    feature = "websocket",
    feature = "test-server",
    tls_provider = "installed"
))]

use symbl_auth::test_server::TestServer;
use symbl_auth::websocket;
use tokio_rustls::rustls::crypto::CryptoProvider;

#[tokio::test]
async fn a_plain_ws_connect_needs_no_crypto_provider() {
    assert!(
        CryptoProvider::get_default().is_none(),
        "a provider was installed before the test began"
    );
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();

    let (socket, response) = websocket::connect(&layer, server.streaming_url("no-tls"))
        .await
        .expect("a ws:// connect without a provider");
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(server.symbl().handshakes_accepted(), 1);
    drop(socket);
    assert!(
        CryptoProvider::get_default().is_none(),
        "the crate installed a provider"
    );
}
