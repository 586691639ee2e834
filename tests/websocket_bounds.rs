//! Every streaming connect is bounded: each handshake (TCP connect, TLS, upgrade) ends at the
//! layer's `handshake_timeout`, measured on paused time against real silent peers on
//! loopback, and the token cache is left as it was.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(
    feature = "websocket",
    feature = "test-server",
    not(tls_provider = "installed")
))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use symbl_auth::test_server::FakeSymbl;
use symbl_auth::{websocket, Error, SymblAuthLayer, SymblAuthLayerBuilder};
use tokio::time::Instant;

use support::{header_values, until, RawPeer, Reply, ANSWER_401};

const DEFAULT: Duration = SymblAuthLayerBuilder::DEFAULT_HANDSHAKE_TIMEOUT;

/// A layer over `fake` in memory (no timers of its own on the way) that sends the token to
/// `host`.
fn layer(fake: &FakeSymbl, host: &str) -> symbl_auth::SymblAuthLayerBuilder {
    SymblAuthLayer::from_source(fake.clone()).allow_host(host)
}

/// `connect` to `url`, failing the test if it has not ended after an hour of paused time:
/// without a bound of its own it would otherwise wait forever.
async fn bounded_connect(layer: &SymblAuthLayer, url: String) -> symbl_auth::BoxError {
    let connect = websocket::connect(layer, url);
    match tokio::time::timeout(Duration::from_secs(3600), connect).await {
        Ok(outcome) => outcome.map(drop).expect_err("the peer never upgrades"),
        Err(_) => panic!("the connect was still pending after an hour"),
    }
}

/// Keeps paused time still until `peer` has read `heads` request heads: a task that yields
/// keeps the runtime busy, and the clock only jumps when it is idle. So the timeout is sure to
/// fire while the peer sits on a complete upgrade request, not before it got there.
fn hold_the_clock_until_heard(peer: &Arc<RawPeer>, heads: usize) {
    let peer = Arc::clone(peer);
    tokio::spawn(async move { until(|| peer.heads().len() == heads).await });
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_ends_the_connect_at_the_handshake_timeout() {
    let fake = FakeSymbl::new();
    let short = Duration::from_millis(1_500);
    let cases = [
        // (layer, its limit, token requests a connect costs)
        (layer(&fake, "127.0.0.1").build(), DEFAULT, 1),
        (
            layer(&fake, "127.0.0.1").handshake_timeout(short).build(),
            short,
            1,
        ),
        // A host that gets no token: its handshake is bounded all the same.
        (layer(&fake, "api.symbl.ai").build(), DEFAULT, 0),
    ];
    for (layer, limit, fetches) in cases {
        let layer = layer.expect("layer");
        let requests_before = fake.token_requests();
        let peer = Arc::new(RawPeer::start(&[Reply::Silent]).await);
        hold_the_clock_until_heard(&peer, 1);

        let started = Instant::now();
        let error = bounded_connect(&layer, peer.url("ws", "/v1/streaming/silent")).await;
        assert_eq!(started.elapsed(), limit, "{error}");
        let elapsed = error
            .downcast_ref::<websocket::Elapsed>()
            .unwrap_or_else(|| panic!("expected websocket::Elapsed, got {error:?}"));
        assert_eq!(elapsed.timeout(), limit);
        assert!(
            error.to_string().contains("handshake_timeout"),
            "names the setting: {error}"
        );
        assert!(error.to_string().contains(&format!("{limit:?}")), "{error}");
        assert_eq!(peer.heads().len(), 1, "one complete upgrade request");
        assert!(peer.heads()[0].starts_with("GET /v1/streaming/silent HTTP/1.1\r\n"));
        assert_eq!(fake.token_requests() - requests_before, fetches);
    }
}

#[tokio::test(start_paused = true)]
async fn the_handshake_after_a_401_is_bounded_too_and_the_cache_keeps_the_new_token() {
    let fake = FakeSymbl::new();
    let layer = layer(&fake, "127.0.0.1").build().expect("layer");
    let first = layer.access_token().await.expect("token");
    fake.revoke_tokens(); // so the refresh after the 401 brings a new token

    let peer = Arc::new(RawPeer::start(&[Reply::Raw(ANSWER_401), Reply::Silent]).await);
    hold_the_clock_until_heard(&peer, 2);
    let started = Instant::now();
    let error = bounded_connect(&layer, peer.url("ws", "/v1/streaming/x")).await;
    assert_eq!(started.elapsed(), DEFAULT, "{error}");
    assert!(error.is::<websocket::Elapsed>(), "{error:?}");

    // One handshake with each token, and the new one stays cached: no fetch to undo, no
    // failure recorded.
    let sent: Vec<String> = peer
        .heads()
        .iter()
        .map(|head| header_values(head, "x-api-key").concat())
        .collect();
    let second = layer.access_token().await.expect("cached");
    assert_eq!(sent, [first.secret(), second.secret()]);
    assert_ne!(first.secret(), second.secret());
    let stats = layer.stats();
    assert_eq!(
        (stats.token_requests, stats.token_failures, stats.retries),
        (2, 0, 1),
        "{stats:?}"
    );
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn a_zero_handshake_timeout_is_refused_at_build() {
    let error = layer(&FakeSymbl::new(), "127.0.0.1")
        .handshake_timeout(Duration::ZERO)
        .build()
        .expect_err("zero would fail every connect");
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error}");
    assert!(error.to_string().contains("handshake_timeout"), "{error}");
}
