//! `websocket::connect` over real WebSocket connections on loopback: the token in an
//! `X-API-KEY` handshake header and never in the URL, one token request for many connections,
//! one refresh and one retry after a 401 handshake, an error after two that says why, the host
//! rules, and a cache unharmed by connects dropped at any point. What a connect takes and
//! sends is in `websocket_requests.rs`; its time bounds are in `websocket_bounds.rs`.
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
use http::{HeaderValue, StatusCode};
use symbl_auth::test_server::{FakeSymbl, TestServer, TokenFault};
use symbl_auth::websocket::tokio_tungstenite::tungstenite::{Error as WsError, Message};
use symbl_auth::websocket::tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use symbl_auth::{websocket, BoxError, Error, SymblAuthLayer, TokenSource};
use tokio::net::{TcpListener, TcpStream};

use support::{auth_error, header_values, until, RawPeer, Reply, ScriptedSource, ANSWER_503};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every test's awaits are bounded: a hang fails the test instead of stalling the suite.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("finished within 20 s")
}

/// start_request, `audio`, stop_request; then every text message until the server closes.
async fn converse(socket: &mut Socket, audio: &[u8]) -> Vec<serde_json::Value> {
    let start = r#"{"type":"start_request","config":{"speechRecognition":{"encoding":"LINEAR16","sampleRateHertz":16000}}}"#;
    socket.send(Message::text(start)).await.expect("start");
    socket
        .send(Message::binary(audio.to_vec()))
        .await
        .expect("audio");
    socket
        .send(Message::text(r#"{"type":"stop_request"}"#))
        .await
        .expect("stop");
    let mut replies = Vec::new();
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message.expect("message") {
            replies.push(serde_json::from_str(&text).expect("json"));
        }
    }
    replies
}

fn ws_error(error: &BoxError) -> &WsError {
    error
        .downcast_ref::<WsError>()
        .unwrap_or_else(|| panic!("expected a tungstenite error, got {error:?}"))
}

#[tokio::test]
async fn streams_a_conversation_with_the_token_in_the_handshake() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let (mut socket, response) = bounded(websocket::connect(
        &layer,
        server.streaming_url("conversation-1"),
    ))
    .await
    .expect("connected");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);

    let replies = bounded(converse(&mut socket, &[7; 32_000])).await;
    let kinds: Vec<_> = replies
        .iter()
        .map(|reply| reply["message"]["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds, ["started", "conversation_completed"], "{replies:?}");
    assert_eq!(
        replies[1]["message"]["data"]["audioBytesReceived"], 32_000,
        "{replies:?}"
    );

    let symbl = server.symbl();
    assert_eq!(symbl.handshakes_accepted(), 1);
    assert_eq!(symbl.handshakes_rejected(), 0);
    assert_eq!(symbl.audio_bytes_received(), 32_000);
    assert_eq!(symbl.token_requests(), 1);
    // The URL went out as given: no token added to it.
    assert_eq!(symbl.handshake_targets(), ["/v1/streaming/conversation-1"]);
}

#[tokio::test]
async fn the_handshake_carries_the_raw_token_in_x_api_key_and_nothing_in_the_url() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let recorder = RawPeer::start(&[Reply::Raw(ANSWER_503)]).await;
    let url = recorder.url("ws", "/v1/streaming/recorded");

    let error = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("the recorder answers 503");
    let WsError::Http(response) = ws_error(&error) else {
        panic!("{error:?}");
    };
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    let head = &recorder.heads()[0];
    let token = layer.access_token().await.expect("cached token");
    assert!(
        head.starts_with("GET /v1/streaming/recorded HTTP/1.1\r\n"),
        "{head}"
    );
    assert_eq!(header_values(head, "x-api-key"), [token.secret()], "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("authorization"),
        "{head}"
    );
    assert!(!head.contains("Bearer"), "{head}");
    assert_eq!(head.matches(token.secret()).count(), 1, "{head}");
}

#[tokio::test]
async fn three_connections_share_one_token_request() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let url = server.streaming_url("shared");
    let connects = [
        websocket::connect(&layer, url.as_str()),
        websocket::connect(&layer, url.as_str()),
        websocket::connect(&layer, url.as_str()),
    ];
    let sockets = bounded(futures_util::future::join_all(connects)).await;
    assert!(sockets.iter().all(Result::is_ok));
    assert_eq!(server.symbl().token_requests(), 1);
    assert_eq!(server.symbl().handshakes_accepted(), 3);
    assert_eq!(layer.stats().token_requests, 1);
}

#[tokio::test]
async fn a_revoked_token_costs_one_refresh_and_one_retry() {
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let layer = server.layer();
    let url = server.streaming_url("revoked");
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("first connection");

    symbl.revoke_tokens();
    let (mut socket, _) = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("connected after one retry");
    assert_eq!(bounded(converse(&mut socket, &[1; 100])).await.len(), 2);

    assert_eq!(symbl.handshakes_rejected(), 1);
    assert_eq!(symbl.handshakes_accepted(), 2);
    assert_eq!(symbl.token_requests(), 2);
    let stats = layer.stats();
    assert_eq!((stats.refreshes, stats.retries), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn a_handshake_rejected_twice_is_an_error_in_bounded_time() {
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let layer = server.layer();
    let url = server.streaming_url("rejected");
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("first connection");

    // A new token is to be had, and both handshakes are refused anyway.
    symbl.revoke_tokens();
    symbl.reject_handshakes(2);
    let started = tokio::time::Instant::now();
    let error = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("rejected twice");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            auth_error(&error),
            Error::HandshakeRejected {
                status: StatusCode::UNAUTHORIZED,
                retried: true,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("twice"), "{error}");
    assert_eq!(symbl.handshakes_rejected(), 2);
    assert_eq!(symbl.token_requests(), 2);
    let stats = layer.stats();
    assert_eq!((stats.refreshes, stats.retries), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn a_401_with_no_newer_token_is_returned_without_a_second_handshake() {
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let layer = server.layer();
    let url = server.streaming_url("declined");
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("first connection");

    // The token is still good, so the refresh brings the same one back: no point resending it.
    symbl.reject_handshakes(1);
    let error = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("rejected");
    assert!(
        matches!(
            auth_error(&error),
            Error::HandshakeRejected { retried: false, .. }
        ),
        "{error}"
    );
    // What happened, as it happened: the endpoint handed the same token back.
    let text = error.to_string();
    assert!(text.contains("handed back the one rejected"), "{text}");
    assert!(!text.contains("second ago"), "{text}");
    assert_eq!(symbl.handshakes_rejected(), 1);
    assert_eq!(symbl.handshakes_accepted(), 1);
    assert_eq!(
        symbl.token_requests(),
        2,
        "one refresh, which re-served the token"
    );
    let stats = layer.stats();
    assert_eq!((stats.retries, stats.retries_declined), (0, 1), "{stats:?}");
}

#[tokio::test]
async fn a_401_right_after_a_forced_refresh_says_the_token_is_that_fresh() {
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let layer = server.layer();
    let url = server.streaming_url("too-soon");
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("first connection");

    // A new token is to be had once: the first connect refreshes and is rejected twice; the
    // second, within the same second, meets a 401 for the token just fetched.
    symbl.revoke_tokens();
    symbl.reject_handshakes(3);
    let twice = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("rejected twice");
    assert!(
        matches!(
            auth_error(&twice),
            Error::HandshakeRejected { retried: true, .. }
        ),
        "{twice}"
    );
    let error = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("rejected");
    assert!(
        matches!(
            auth_error(&error),
            Error::HandshakeRejected { retried: false, .. }
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("fetched less than a second ago"), "{text}");
    assert!(!text.contains("handed back"), "{text}");
    assert_eq!(symbl.handshakes_rejected(), 3);
    assert_eq!(symbl.token_requests(), 2, "no second forced refresh");
    let stats = layer.stats();
    assert_eq!((stats.retries, stats.retries_declined), (1, 1), "{stats:?}");
}

#[tokio::test]
async fn other_hosts_get_no_token() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer(); // the token goes to 127.0.0.1 only
    let url = format!("ws://localhost:{}/v1/streaming/x", server.addr().port());
    let error = bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect_err("no token, so 401");
    assert!(matches!(ws_error(&error), WsError::Http(response) if response.status() == 401));
    assert_eq!(server.symbl().handshakes_rejected(), 1);
    assert_eq!(server.symbl().token_requests(), 0);
}

#[tokio::test]
async fn plain_ws_to_a_remote_allowed_host_is_refused_before_connecting() {
    let server = TestServer::start().await.expect("server");
    let layer = server
        .layer_builder()
        .allow_host("streaming.example")
        .build()
        .expect("layer");
    let error = bounded(websocket::connect(
        &layer,
        "ws://streaming.example/v1/streaming/x",
    ))
    .await
    .expect_err("refused");
    assert!(
        matches!(auth_error(&error), Error::InsecureTransport { host, .. } if host == "streaming.example"),
        "{error}"
    );
    assert!(
        error.to_string().contains("(wss for a WebSocket)"),
        "{error}"
    );
    assert_eq!(server.symbl().token_requests(), 0);
}

#[tokio::test]
async fn a_token_endpoint_failure_is_the_layers_error_and_no_handshake() {
    let server = TestServer::start().await.expect("server");
    server
        .symbl()
        .fail_token_requests(TokenFault::Status(StatusCode::UNAUTHORIZED), 1);
    let error = bounded(websocket::connect(
        &server.layer(),
        server.streaming_url("no-token"),
    ))
    .await
    .expect_err("bad credentials");
    assert!(
        matches!(auth_error(&error), Error::InvalidCredentials { .. }),
        "{error}"
    );
    assert_eq!(server.symbl().handshakes_accepted(), 0);
    assert_eq!(server.symbl().handshakes_rejected(), 0);
}

#[tokio::test]
async fn connects_dropped_at_any_point_leave_the_cache_unharmed() {
    let server = TestServer::start().await.expect("server");
    let symbl = server.symbl();
    let source = ScriptedSource::new(symbl.clone()).gated();
    let layer = SymblAuthLayer::from_source(source.clone())
        .allow_host("127.0.0.1")
        .build()
        .expect("layer");
    let url = server.streaming_url("cancelled");

    // 1. Dropped while the token is being fetched: the fetch goes on and lands.
    let connect = tokio::spawn({
        let (layer, url) = (layer.clone(), url.clone());
        async move { websocket::connect(&layer, url).await.map(|_| ()) }
    });
    until(|| source.started() == 1).await;
    connect.abort();
    assert!(connect.await.expect_err("aborted").is_cancelled());
    source.open(1);
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("connected with the fetched token");
    assert_eq!(source.started(), 1);

    // 2. Dropped mid-handshake, on a server that never answers: nothing to undo.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_url = format!("ws://{}/v1/streaming/x", silent.local_addr().expect("addr"));
    let connect = tokio::spawn({
        let layer = layer.clone();
        async move { websocket::connect(&layer, silent_url).await.map(|_| ()) }
    });
    let (_held, _) = bounded(silent.accept()).await.expect("accepted");
    connect.abort();
    assert!(connect.await.expect_err("aborted").is_cancelled());
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("the cached token still serves");
    assert_eq!(source.started(), 1);

    // 3. Dropped while the retry after a 401 waits for the new token.
    symbl.revoke_tokens();
    let connect = tokio::spawn({
        let (layer, url) = (layer.clone(), url.clone());
        async move { websocket::connect(&layer, url).await.map(|_| ()) }
    });
    until(|| source.started() == 2).await;
    connect.abort();
    assert!(connect.await.expect_err("aborted").is_cancelled());
    source.open(1);
    bounded(websocket::connect(&layer, url.as_str()))
        .await
        .expect("connected with the new token");
    assert_eq!(source.started(), 2);
    assert_eq!(symbl.handshakes_rejected(), 1);
    assert_eq!(symbl.handshakes_accepted(), 3);
    assert_eq!(layer.stats().token_failures, 0);
}

#[tokio::test]
async fn the_fake_checks_x_api_key_as_it_checks_bearer_tokens() {
    let symbl = FakeSymbl::new();
    let token = symbl.fetch_token().await.expect("token");
    let api_key = HeaderValue::from_str(token.secret()).expect("value");
    assert!(symbl.is_api_key_authorized(Some(&api_key)));
    assert!(symbl.is_authorized(Some(token.header_value())));
    assert!(
        !symbl.is_api_key_authorized(Some(token.header_value())),
        "not Bearer …"
    );
    assert!(!symbl.is_api_key_authorized(Some(&HeaderValue::from_static("other"))));
    assert!(!symbl.is_api_key_authorized(None));
    symbl.revoke_tokens();
    assert!(!symbl.is_api_key_authorized(Some(&api_key)));
}

/// A runtime without the time driver cannot bound a handshake: a clear `NoRuntime`, never a
/// panic, even with the token already cached (by another runtime) so no fetch is needed.
#[test]
fn a_connect_in_a_runtime_without_timers_is_a_clear_error() {
    let serving = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = serving.block_on(TestServer::start()).expect("server");
    let layer = server.layer();
    let url = server.streaming_url("no-timers");
    serving.block_on(async {
        let connected = bounded(websocket::connect(&layer, &url)).await;
        drop(connected.expect("connected"));
    });

    let no_timers = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let error = no_timers
        .block_on(websocket::connect(&layer, &url))
        .map(drop)
        .expect_err("no timers");
    let error = auth_error(&error);
    assert!(matches!(error, Error::NoRuntime { .. }), "{error}");
    assert!(error.to_string().contains("enable_time"), "{error}");
    assert_eq!(server.symbl().handshakes_accepted(), 1);
    assert_eq!(server.symbl().token_requests(), 1);
}
