//! The layer stacked with tower-http's `FollowRedirect` and `Timeout`.
#![cfg(feature = "test-server")]
// One test needs the test server's layer, which under rustls-no-provider alone needs the app's
// provider: what only it uses is unused there.
#![cfg_attr(tls_provider = "installed", allow(dead_code, unused_imports))]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::FakeSymbl;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_http::timeout::TimeoutLayer;

use support::*;

const START: &str = "https://api.symbl.ai/start";

#[tokio::test]
async fn follow_redirect_inside_the_layer_drops_the_token_cross_origin() {
    // The recommended order is `FollowRedirect` outside the layer, where each hop passes
    // through the layer and its host rules (`secret_paths.rs`). The other order also holds:
    // tower-http's standard policy strips `Authorization` on a cross-origin hop and keeps it on
    // a same-origin one. But hops are then invisible to the layer: no host rules, and a 401 on
    // a later hop is not the layer's to retry (see the last test).
    let fake = FakeSymbl::new();
    for (location, token_on_second_hop) in [
        ("https://elsewhere.example/landing", false),
        ("https://api.symbl.ai/landing", true),
    ] {
        let inner = RecordingService::redirecting("/start", location);
        let service = ServiceBuilder::new()
            .layer(in_memory_layer(fake.clone()))
            .layer(FollowRedirectLayer::new())
            .service(inner.clone());
        let response = service.oneshot(get(START)).await.expect("call");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            inner.hops(),
            [(START.into(), true), (location.into(), token_on_second_hop)]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_waiting_for_a_token_does_not_poison_the_cache() {
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let service = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(2),
        ))
        .layer(in_memory_layer(source.clone()))
        .service(source.fake.api_service());
    let url = symbl_url("/v1/conversations");

    // The token endpoint is slow: the caller's own timeout answers first.
    let response = service.clone().oneshot(get(&url)).await.expect("call");
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);

    // The fetch went on without that caller; once it lands, calls succeed without another.
    source.open(1);
    let response = service.clone().oneshot(get(&url)).await.expect("call");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, r#"{"conversations":[]}"#);
    assert_eq!(source.started(), 1);
}

/// Where `FollowRedirect` sits relative to the layer.
#[derive(Clone, Copy, Debug)]
enum Position {
    /// `FollowRedirect` → layer → client: the rule. Each hop passes through the layer.
    Outside,
    /// Layer → `FollowRedirect` → client: hops are invisible to the layer.
    Inside,
}

/// `127.0.0.1` (the test server's host, which gets the token) redirects to `127.0.0.2`, which
/// answers 401 to everything, through tower-http 0.6's or 0.7's `FollowRedirect` on either
/// side of the layer. The token never reaches `127.0.0.2` in any arrangement. Outside the
/// layer (the documented rule) that 401 is not the layer's: no refresh, no retry. Inside, the
/// layer cannot tell where the 401 came from (the crate no longer reads tower-http's
/// `RequestUri`, which only one tower-http version's `FollowRedirect` sets): it drops the
/// token and forces a refresh, as for any 401 to its token. Symbl (and the test server)
/// re-serve the token they have, so no retry follows: the 401 goes back after one send.
#[cfg(not(tls_provider = "installed"))]
#[tokio::test]
async fn a_401_from_the_host_a_redirect_led_to_is_ours_only_when_follow_redirect_is_inside() {
    for version in ["0.6", "0.7"] {
        for position in [Position::Outside, Position::Inside] {
            let case = format!("tower-http {version}, FollowRedirect {position:?}");
            let server = symbl_auth::test_server::TestServer::start()
                .await
                .expect("server");
            let hosts = CrossHostRedirect::start().await;
            let layer = server
                .layer_builder()
                .allow_host("127.0.0.1")
                .build()
                .expect("layer");
            let client = http1_client();
            let status = match (version, position) {
                ("0.6", Position::Outside) => {
                    let service = ServiceBuilder::new()
                        .layer(tower_http_06::follow_redirect::FollowRedirectLayer::new())
                        .layer(layer.clone())
                        .service(client);
                    answered(&service, get(&hosts.url())).await
                }
                ("0.6", Position::Inside) => {
                    let service = ServiceBuilder::new()
                        .layer(layer.clone())
                        .layer(tower_http_06::follow_redirect::FollowRedirectLayer::new())
                        .service(client);
                    answered(&service, get(&hosts.url())).await
                }
                (_, Position::Outside) => {
                    let service = ServiceBuilder::new()
                        .layer(FollowRedirectLayer::new())
                        .layer(layer.clone())
                        .service(client);
                    answered(&service, get(&hosts.url())).await
                }
                (_, Position::Inside) => {
                    let service = ServiceBuilder::new()
                        .layer(layer.clone())
                        .layer(FollowRedirectLayer::new())
                        .service(client);
                    answered(&service, get(&hosts.url())).await
                }
            };
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
            let (first, second) = (hosts.redirecting.seen(), hosts.elsewhere.seen());
            assert!(
                first.iter().all(|seen| seen.authorization.is_some()),
                "{case}: the token went to 127.0.0.1"
            );
            assert!(
                second.iter().all(|seen| seen.authorization.is_none()),
                "{case}: 127.0.0.2 never saw the token"
            );
            let stats = layer.stats();
            let expected = match position {
                Position::Outside => (0, 0, 0, 1),
                Position::Inside => (1, 0, 1, 2),
            };
            let seen = (
                stats.refreshes,
                stats.retries,
                stats.retries_declined,
                stats.token_requests,
            );
            assert_eq!(seen, expected, "{case}");
            assert_eq!((first.len(), second.len()), (1, 1), "{case}");
        }
    }
}
