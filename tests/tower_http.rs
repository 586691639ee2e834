//! The layer stacked with tower-http's `FollowRedirect` and `Timeout`.
#![cfg(feature = "test-server")]

mod support;

use std::convert::Infallible;
use std::future::Ready;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use symbl_auth::test_server::FakeSymbl;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_http::timeout::TimeoutLayer;

use support::*;

/// Redirects `/start` to wherever `Location` says; records each request's URI and token.
#[derive(Clone)]
struct Redirecting {
    location: &'static str,
    /// Each request's URI, and whether it carried a token.
    seen: Arc<Mutex<Vec<(String, bool)>>>,
}

impl Redirecting {
    fn new(location: &'static str) -> Self {
        Self {
            location,
            seen: Arc::default(),
        }
    }

    fn seen(&self) -> Vec<(String, bool)> {
        self.seen.lock().expect("lock").clone()
    }
}

impl<B: Body> Service<Request<B>> for Redirecting {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let token = request.headers().contains_key(header::AUTHORIZATION);
        self.seen
            .lock()
            .expect("lock")
            .push((request.uri().to_string(), token));
        let mut response = Response::new(Full::default());
        if request.uri().path() == "/start" {
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(self.location));
        }
        std::future::ready(Ok(response))
    }
}

const START: &str = "https://api.symbl.ai/start";

#[tokio::test]
async fn follow_redirect_outside_the_layer_rechecks_every_hop() {
    // The recommended order: each hop passes through the layer and its host rules.
    let fake = FakeSymbl::new();
    for (location, token_on_second_hop) in [
        ("https://elsewhere.example/landing", false),
        ("https://api.symbl.ai/landing", true),
    ] {
        let inner = Redirecting::new(location);
        let service = ServiceBuilder::new()
            .layer(FollowRedirectLayer::new())
            .layer(in_memory_layer(fake.clone()))
            .service(inner.clone());
        let response = service.oneshot(get(START)).await.expect("call");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            inner.seen(),
            [(START.into(), true), (location.into(), token_on_second_hop)]
        );
    }
}

#[tokio::test]
async fn follow_redirect_inside_the_layer_drops_the_token_cross_origin() {
    // The other order also holds: tower-http's standard policy strips `Authorization` on a
    // cross-origin hop and keeps it on a same-origin one. But hops are then invisible to the
    // layer (no host rules, no retry after a 401 on a later hop), hence the order above.
    let fake = FakeSymbl::new();
    for (location, token_on_second_hop) in [
        ("https://elsewhere.example/landing", false),
        ("https://api.symbl.ai/landing", true),
    ] {
        let inner = Redirecting::new(location);
        let service = ServiceBuilder::new()
            .layer(in_memory_layer(fake.clone()))
            .layer(FollowRedirectLayer::new())
            .service(inner.clone());
        let response = service.oneshot(get(START)).await.expect("call");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            inner.seen(),
            [(START.into(), true), (location.into(), token_on_second_hop)]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_waiting_for_a_token_does_not_poison_the_cache() {
    let source = GatedSource::new(FakeSymbl::new());
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
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, r#"{"conversations":[]}"#);
    assert_eq!(source.started(), 1);
}

#[tokio::test]
async fn a_401_after_a_redirect_inside_the_layer_is_not_ours() {
    let server = symbl_auth::test_server::TestServer::start()
        .await
        .expect("server");
    let elsewhere =
        RecordingServer::start([127, 0, 0, 2], |_| status(StatusCode::UNAUTHORIZED)).await;
    let target = elsewhere.url("/landing");
    let redirecting = RecordingServer::start([127, 0, 0, 1], move |_| redirect(&target)).await;
    let layer = server.layer();
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .layer(FollowRedirectLayer::new())
        .service(http1_client());
    let response = service
        .clone()
        .oneshot(get(&redirecting.url("/start")))
        .await
        .expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert!(
        redirecting.seen()[0].authorization.is_some(),
        "the token went to 127.0.0.1"
    );
    let second = elsewhere.seen();
    assert_eq!(second.len(), 1, "127.0.0.2 was asked once");
    assert!(second[0].authorization.is_none(), "and never saw the token");
    let stats = layer.stats();
    assert_eq!(
        (stats.refreshes, stats.retries, stats.token_requests),
        (0, 0, 1)
    );
    let url = server.url("/v1/conversations");
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    assert_eq!(server.symbl().token_requests(), 1, "the token was kept");
}
