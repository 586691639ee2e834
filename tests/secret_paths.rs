//! Paths a secret could leak through: the token request's own headers, redirects to other
//! hosts, and the `Debug`/`Display` text of every public type.
#![cfg(feature = "test-server")]

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use symbl_auth::test_server::{FakeSymbl, TestServer, TEST_APP_SECRET};
use symbl_auth::{
    AccessToken, Credentials, ReplayBody, SymblAuthLayer, SymblTokenSource, TokenSource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tower::{Layer, ServiceExt};
use tower_http::follow_redirect::policy::{Limited, Standard};
use tower_http::follow_redirect::FollowRedirect;

use support::*;

/// Serves one token request on a raw socket and returns its bytes exactly as they arrived.
#[tokio::test]
async fn the_token_request_never_carries_an_authorization_header() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/oauth2/token:generate",
        listener.local_addr().expect("addr")
    );
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0; 4096];
        // Headers, then the JSON body: read until the body's closing brace.
        while !request.ends_with(b"}") {
            let read = stream.read(&mut buffer).await.expect("read");
            assert!(read > 0, "the client closed early");
            request.extend_from_slice(&buffer[..read]);
        }
        let body = br#"{"accessToken":"raw-token-value","expiresIn":3600}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        stream.write_all(body).await.expect("write");
        String::from_utf8(request).expect("utf-8")
    });
    let source = SymblTokenSource::new(url, Credentials::new("app-id", "app-secret-value"));
    let token = timeout(Duration::from_secs(30), source.fetch_token())
        .await
        .expect("no hang")
        .expect("token");
    assert_eq!(token.secret(), "raw-token-value");
    let request = server.await.expect("server");
    let head = request.to_ascii_lowercase();
    assert!(
        head.starts_with("post /oauth2/token:generate "),
        "{request}"
    );
    assert!(!head.contains("\r\nauthorization:"), "{request}");
    assert!(!head.contains("\r\nx-api-key:"), "{request}");
    // The secret travels in the JSON body, and only there.
    let (head, body) = request.split_once("\r\n\r\n").expect("head and body");
    assert!(!head.contains("app-secret-value"), "{request}");
    assert!(
        body.contains(r#""appSecret":"app-secret-value""#),
        "{request}"
    );
}

/// Where a request went, and the `Authorization` it carried.
type Sent = (Uri, Option<header::HeaderValue>);

/// An inner service that records what it was sent and redirects `/v1/moved` to `target`.
#[derive(Clone)]
struct Redirecting {
    target: &'static str,
    seen: Arc<Mutex<Vec<Sent>>>,
}

impl tower::Service<Request<ReplayBody<Full<Bytes>>>> for Redirecting {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        let authorization = request.headers().get(header::AUTHORIZATION).cloned();
        self.seen
            .lock()
            .expect("lock")
            .push((request.uri().clone(), authorization));
        let mut response = Response::new(Full::default());
        if request.uri().path() == "/v1/moved" {
            *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
            response.headers_mut().insert(
                header::LOCATION,
                header::HeaderValue::from_static(self.target),
            );
        }
        std::future::ready(Ok(response))
    }
}

/// `FollowRedirect` outside the layer: each hop goes through the layer, which attaches the
/// token by the hop's host. With `Limited` (no credential filter of its own) the layer alone
/// keeps the token from the other host.
#[tokio::test]
async fn a_cross_host_redirect_never_carries_the_token() {
    for target in [
        "https://evil.example/steal",
        "http://api.symbl.ai.evil.example/v1/x",
    ] {
        let fake = FakeSymbl::new();
        let inner = Redirecting {
            target,
            seen: Arc::default(),
        };
        let authed = in_memory_layer(fake.clone()).layer(inner.clone());
        let limited = FollowRedirect::with_policy(authed.clone(), Limited::default());
        let standard = FollowRedirect::with_policy(authed, Standard::default());
        for hop in [
            limited.oneshot(get("https://api.symbl.ai/v1/moved")).await,
            standard.oneshot(get("https://api.symbl.ai/v1/moved")).await,
        ] {
            assert_eq!(hop.expect("followed").status(), StatusCode::OK);
        }
        let seen = inner.seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        for (uri, authorization) in seen {
            if uri.host() == Some("api.symbl.ai") {
                assert!(authorization.is_some(), "Symbl gets the token: {uri}");
            } else {
                assert_eq!(authorization, None, "the token leaked to {uri}");
            }
        }
    }
}

/// A same-host redirect keeps the token: the layer attaches it again on the second hop.
#[tokio::test]
async fn a_same_host_redirect_keeps_the_token() {
    let fake = FakeSymbl::new();
    let inner = Redirecting {
        target: "https://api.symbl.ai/v1/conversations",
        seen: Arc::default(),
    };
    let authed = in_memory_layer(fake.clone()).layer(inner.clone());
    let response = FollowRedirect::new(authed)
        .oneshot(get("https://api.symbl.ai/v1/moved"))
        .await
        .expect("followed");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = inner.seen.lock().expect("lock").clone();
    assert!(seen
        .iter()
        .all(|(_, authorization)| authorization.is_some()));
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn no_public_type_shows_a_secret_in_its_text() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    assert_eq!(
        status_of(&service, get(&url)).await.expect("call"),
        StatusCode::OK
    );
    let token = server.symbl().fetch_token().await.expect("token");
    assert!(token.secret().starts_with("fake-token"));
    let credentials = Credentials::new("id", TEST_APP_SECRET);
    let source = SymblTokenSource::new(server.token_url(), credentials.clone());
    let future = tower::Service::call(&mut service.clone(), get(&url));

    let texts = [
        format!("{layer:?}"),
        format!("{service:?}"),
        format!("{:?}", server.layer_builder()),
        format!("{credentials:?}"),
        format!("{source:?}"),
        format!("{token:?}"),
        format!(
            "{:?}",
            AccessToken::new("fake-token-abc", Duration::from_secs(60))
        ),
        format!("{server:?}"),
        format!("{:?}", server.symbl()),
        format!("{future:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(TEST_APP_SECRET), "secret in: {text}");
        assert!(!text.contains("fake-token"), "token in: {text}");
        assert!(!text.contains(token.secret()), "token in: {text}");
    }
    drop(future);
    let default = SymblAuthLayer::new(credentials);
    assert!(!format!("{default:?}").contains(TEST_APP_SECRET));
}
