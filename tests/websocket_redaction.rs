//! A token the caller put in a streaming URL (`?access_token=…`, or as user info) appears in no
//! error, `Debug` or `tracing` event that `websocket::connect` writes, whatever the outcome; nor
//! does the layer's own token. Its own test binary: the subscriber is process-wide.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(
    feature = "websocket",
    feature = "test-server",
    not(tls_provider = "installed")
))]

mod support;

use symbl_auth::test_server::TestServer;
use symbl_auth::websocket;
use tokio::net::TcpListener;

use support::{error_chain, Captured};

const IN_THE_URL: &str = "token-the-user-put-in-the-url";

#[tokio::test]
async fn a_token_in_the_url_shows_up_nowhere() {
    let captured = Captured::install();
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let layer = server.layer();
    let query = format!("?access_token={IN_THE_URL}");
    let url = |id: &str| server.streaming_url(id) + &query;
    let mut texts = Vec::new();

    // Accepted (the server got the URL as given: what it does with it is its business).
    let (socket, response) = websocket::connect(&layer, url("accepted"))
        .await
        .expect("connected");
    texts.push(format!("{response:?} {socket:?}"));
    drop(socket);

    // Rejected twice, then rejected with no newer token to retry with.
    symbl.revoke_tokens();
    symbl.reject_handshakes(3);
    for _ in 0..2 {
        let error = websocket::connect(&layer, url("rejected"))
            .await
            .expect_err("rejected");
        texts.push(error_chain(&error));
    }

    // Nothing listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_at = closed.local_addr().expect("addr");
    drop(closed);
    let error = websocket::connect(&layer, format!("ws://{closed_at}/v1/streaming/x{query}"))
        .await
        .expect_err("refused");
    texts.push(error_chain(&error));

    // A host that gets no token; user info in the URL; a URL that does not parse.
    let port = server.addr().port();
    for bad in [
        format!("ws://localhost:{port}/v1/streaming/x{query}"),
        format!("ws://user:{IN_THE_URL}@127.0.0.1:{port}/v1/streaming/x"),
        format!("ws://127.0.0.1:{port}/v1/streaming/x y{query}"),
    ] {
        texts.push(match websocket::connect(&layer, bad).await {
            Ok((socket, response)) => format!("{response:?} {socket:?}"),
            Err(error) => error_chain(&error),
        });
    }

    texts.push(format!("{layer:?}"));
    let logs = captured.text();
    assert!(
        logs.contains("WebSocket handshake rejected with 401"),
        "no rejection event in: {logs}"
    );
    assert!(logs.contains("?[redacted]"), "{logs}");
    texts.push(logs);
    assert_eq!(symbl.handshakes_rejected(), 4);
    for text in &texts {
        assert!(!text.contains(IN_THE_URL), "the URL's token in: {text}");
        assert!(!text.contains("fake-token"), "the layer's token in: {text}");
    }
}
