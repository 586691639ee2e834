//! `SymblAuthMiddleware` in a real `reqwest_middleware::ClientWithMiddleware`, sharing the
//! layer's token cache.
#![cfg(all(feature = "test-server", feature = "reqwest-middleware"))]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Extensions, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use symbl_auth::test_server::TestServer;
use symbl_auth::{SymblAuthLayer, SymblAuthMiddleware};
use tower::Layer;

use support::*;

fn client(layer: &SymblAuthLayer) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(SymblAuthMiddleware::from(layer.clone()))
        .build()
}

#[tokio::test]
async fn shares_the_layers_token_cache() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let url = server.url("/v1/conversations");

    let tower_client = layer.clone().layer(http1_client());
    assert_eq!(answered(&tower_client, get(&url)).await, StatusCode::OK);
    let reqwest_client = client(&layer);
    for _ in 0..5 {
        let response = reqwest_client.get(&url).send().await.expect("call");
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(
        server.symbl().token_requests(),
        1,
        "one fetch serves both front ends"
    );
    assert_eq!(layer.stats().token_requests, 1);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once_and_the_request_retried() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let client = client(&layer);
    let url = server.url("/v1/process/text");
    let body = r#"{"messages":[{"payload":{"content":"hello"}}]}"#;
    let response = client.post(&url).body(body).send().await.expect("call");
    assert_eq!(response.status(), StatusCode::OK);

    server.symbl().revoke_tokens();
    let response = client.post(&url).body(body).send().await.expect("call");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.symbl().token_requests(), 2);
    assert_eq!(server.symbl().api_requests(), 3);
    let received = server.symbl().received_bodies();
    assert_eq!(received[2], body, "the retry carried the same body");
    assert_eq!(layer.stats().retries, 1);
}

#[tokio::test]
async fn a_streaming_body_gets_its_401_back() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let client = client(&layer);
    let url = server.url("/v1/process/text");
    assert_eq!(
        client
            .get(server.url("/v1/conversations"))
            .send()
            .await
            .expect("call")
            .status(),
        StatusCode::OK
    );

    server.symbl().revoke_tokens();
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from_static(b"part one, "))),
        Ok(Frame::data(Bytes::from_static(b"part two"))),
    ];
    let body = reqwest::Body::wrap(StreamBody::new(tokio_stream::iter(frames)));
    let response = client.post(&url).body(body).send().await.expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.symbl().api_requests(), 2, "sent once");
    assert_eq!(layer.stats().replays_skipped, 1);
    // The 401 still dropped the rejected token.
    assert_eq!(
        client
            .get(server.url("/v1/conversations"))
            .send()
            .await
            .expect("call")
            .status(),
        StatusCode::OK
    );
    assert_eq!(server.symbl().token_requests(), 2);
}

#[tokio::test]
async fn other_hosts_and_the_callers_own_authorization_are_left_alone() {
    let server = TestServer::start().await.expect("server");
    let client = client(&server.layer());
    let other_host = format!("http://localhost:{}/v1/conversations", server.addr().port());
    let response = client.get(&other_host).send().await.expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client
        .get(server.url("/v1/conversations"))
        .bearer_auth("callers-own")
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.symbl().token_requests(), 0);
}

#[tokio::test]
async fn refuses_plain_http_to_a_remote_host() {
    let fake = symbl_auth::test_server::FakeSymbl::new();
    let layer = in_memory_layer(fake.clone());
    let error = client(&layer)
        .get("http://api.symbl.ai/v1/conversations")
        .send()
        .await
        .expect_err("refused");
    assert!(error.is_middleware());
    assert!(error.to_string().contains("plain http"), "{error}");
    assert_eq!(fake.token_requests(), 0);
}

/// Counts the calls it sees and the `authorization` headers among them.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<AtomicUsize>,
    with_token: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Middleware for Counting {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if request.headers().contains_key("authorization") {
            self.with_token.fetch_add(1, Ordering::SeqCst);
        }
        next.run(request, extensions).await
    }
}

#[tokio::test]
async fn composes_with_other_middleware_on_either_side() {
    let server = TestServer::start().await.expect("server");
    let (outer, inner) = (Counting::default(), Counting::default());
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(outer.clone())
        .with(SymblAuthMiddleware::from(server.layer()))
        .with(inner.clone())
        .build();
    let url = server.url("/v1/conversations");
    assert_eq!(
        client.get(&url).send().await.expect("call").status(),
        StatusCode::OK
    );
    server.symbl().revoke_tokens();
    assert_eq!(
        client.get(&url).send().await.expect("call").status(),
        StatusCode::OK
    );

    assert_eq!(
        outer.calls.load(Ordering::SeqCst),
        2,
        "the outer one sees each call once"
    );
    assert_eq!(
        outer.with_token.load(Ordering::SeqCst),
        0,
        "before the token is added"
    );
    assert_eq!(
        inner.calls.load(Ordering::SeqCst),
        3,
        "the inner one sees the retry too"
    );
    assert_eq!(inner.with_token.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_401_from_the_host_a_redirect_led_to_is_not_ours() {
    let server = TestServer::start().await.expect("server");
    let hosts = CrossHostRedirect::start().await;
    let layer = server.layer();
    let client = client(&layer);
    let response = client.get(hosts.url()).send().await.expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    hosts.assert_the_token_stayed_on_the_first_host();
    let stats = layer.stats();
    assert_eq!(
        (stats.refreshes, stats.retries, stats.token_requests),
        (0, 0, 1)
    );
    // The token is still cached and good.
    let response = client
        .get(server.url("/v1/conversations"))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.symbl().token_requests(), 1);
}
