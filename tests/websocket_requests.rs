//! What `websocket::connect` takes, and what it puts on the wire: a plain `http::Request<()>`
//! gets the handshake headers it lacks and keeps its own; a URL that is not `ws://` or
//! `wss://` is refused before any token is fetched; a handshake that carries its own
//! `X-API-KEY` or `Authorization` goes as the caller made it, with no fetch.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(
    feature = "websocket",
    feature = "test-server",
    not(tls_provider = "installed")
))]

mod support;

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::websocket::tokio_tungstenite::tungstenite::{Error as WsError, Message};
use symbl_auth::{websocket, BoxError, SymblAuthLayer};

use support::{header_values, RawPeer, Reply, ANSWER_503};

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("finished within 20 s")
}

fn plain_request(url: &str) -> http::Request<()> {
    http::Request::builder()
        .uri(url)
        .header("x-custom", "1")
        .body(())
        .expect("request")
}

fn http_status(error: &BoxError) -> StatusCode {
    match error.downcast_ref::<WsError>() {
        Some(WsError::Http(response)) => response.status(),
        _ => panic!("expected tungstenite's Error::Http, got {error:?}"),
    }
}

#[tokio::test]
async fn a_plain_request_gets_the_handshake_headers_it_lacks_and_connects() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let request = plain_request(&server.streaming_url("plain"));
    let (mut socket, response) = bounded(websocket::connect(&layer, request))
        .await
        .expect("connected");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let start = r#"{"type":"start_request","config":{"speechRecognition":{"encoding":"LINEAR16","sampleRateHertz":16000}}}"#;
    socket.send(Message::text(start)).await.expect("start");
    let reply = bounded(socket.next()).await.expect("a reply").expect("ok");
    assert!(
        reply.to_text().expect("text").contains("started"),
        "{reply}"
    );
    assert_eq!(server.symbl().token_requests(), 1);
    assert_eq!(server.symbl().handshakes_accepted(), 1);

    // On the wire: each handshake header once, the caller's own header kept.
    let peer = RawPeer::start(&[Reply::Raw(ANSWER_503)]).await;
    let error = bounded(websocket::connect(
        &layer,
        plain_request(&peer.url("ws", "/v1/streaming/plain")),
    ))
    .await
    .expect_err("the peer answers 503");
    assert_eq!(http_status(&error), StatusCode::SERVICE_UNAVAILABLE);
    let head = &peer.heads()[0];
    let host = peer.addr().to_string();
    for (name, value) in [
        ("host", host.as_str()),
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("x-custom", "1"),
    ] {
        assert_eq!(header_values(head, name), [value], "{name} in {head}");
    }
    let key = header_values(head, "sec-websocket-key");
    assert_eq!(key.len(), 1, "{head}");
    assert_eq!(key[0].len(), 24, "{head}");
    assert_eq!(header_values(head, "x-api-key").len(), 1, "{head}");
    assert_eq!(
        layer.stats().token_requests,
        1,
        "the cached token served both"
    );
}

#[tokio::test]
async fn a_url_that_is_not_ws_or_wss_is_refused_before_any_token_fetch() {
    let fake = FakeSymbl::new();
    let peer = RawPeer::start(&[]).await;
    // The peer's host gets the token: only the scheme stands in the way.
    let layer = SymblAuthLayer::from_source(fake.clone())
        .allow_host("127.0.0.1")
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer");
    let no_scheme = http::Request::builder()
        .uri("/v1/streaming/x")
        .body(())
        .expect("request");
    let refused = [
        (
            Some("http"),
            bounded(websocket::connect(
                &layer,
                peer.url("http", "/v1/streaming/x"),
            ))
            .await,
        ),
        (
            Some("https"),
            bounded(websocket::connect(
                &layer,
                "https://api.symbl.ai/v1/streaming/x",
            ))
            .await,
        ),
        (
            Some("ftp"),
            bounded(websocket::connect(&layer, peer.url("ftp", "/x"))).await,
        ),
        (None, bounded(websocket::connect(&layer, no_scheme)).await),
    ];
    for (scheme, outcome) in refused {
        let error = outcome.map(drop).expect_err("refused");
        let unsupported = error
            .downcast_ref::<websocket::UnsupportedScheme>()
            .unwrap_or_else(|| panic!("expected UnsupportedScheme, got {error:?}"));
        assert_eq!(unsupported.scheme(), scheme);
        assert!(
            error.to_string().contains("connect to a wss:// URL"),
            "{error}"
        );
    }
    assert_eq!(layer.stats().token_requests, 0);
    assert_eq!(fake.token_requests(), 0);
    assert_eq!(peer.connections(), 0, "nothing was sent");
}

#[tokio::test]
async fn a_handshake_with_its_own_credentials_goes_as_the_caller_made_it() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer(); // 127.0.0.1 gets the token
    for (name, value) in [
        ("X-API-KEY", "callers-own-key"),
        ("Authorization", "Bearer callers-own-token"),
    ] {
        // Over the wire: the caller's header, and no other credential.
        let peer = RawPeer::start(&[Reply::Raw(ANSWER_503)]).await;
        let request = http::Request::builder()
            .uri(peer.url("ws", "/v1/streaming/own"))
            .header(name, value)
            .body(())
            .expect("request");
        let error = bounded(websocket::connect(&layer, request))
            .await
            .expect_err("the peer answers 503");
        assert_eq!(http_status(&error), StatusCode::SERVICE_UNAVAILABLE);
        let head = &peer.heads()[0];
        assert_eq!(header_values(head, name), [value], "{head}");
        let other = if name == "X-API-KEY" {
            "authorization"
        } else {
            "x-api-key"
        };
        assert!(header_values(head, other).is_empty(), "{head}");

        // Against the streaming endpoint, which knows neither: its 401 comes back as it is,
        // not refreshed, not retried.
        let request = http::Request::builder()
            .uri(server.streaming_url("own"))
            .header(name, value)
            .body(())
            .expect("request");
        let error = bounded(websocket::connect(&layer, request))
            .await
            .expect_err("rejected");
        assert_eq!(http_status(&error), StatusCode::UNAUTHORIZED, "{name}");
    }
    assert_eq!(server.symbl().handshakes_rejected(), 2);
    assert_eq!(server.symbl().token_requests(), 0);
    let stats = layer.stats();
    assert_eq!((stats.token_requests, stats.retries), (0, 0), "{stats:?}");
}
