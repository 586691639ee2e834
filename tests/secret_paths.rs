//! Paths a secret could leak through: the token request's own headers, redirects to other
//! hosts, and the `Debug`/`Display` text of every public type.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer, TEST_APP_SECRET};
use symbl_auth::{AccessToken, Credentials, SymblAuthLayer, SymblTokenSource, TokenSource};
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

const MOVED: &str = "https://api.symbl.ai/v1/moved";

/// `FollowRedirect` outside the layer, the recommended order: each hop goes through the layer,
/// which attaches the token by the hop's host. With `Limited` (no credential filter of its own)
/// the layer alone keeps the token from another host; with tower-http's `Standard` policy too.
/// A same-host redirect keeps the token, which the layer attaches again from its cache.
#[tokio::test]
async fn a_redirect_carries_the_token_to_symbls_host_only() {
    let fake = FakeSymbl::new();
    let layer = in_memory_layer(fake.clone());
    for (target, token_on_second_hop) in [
        ("https://evil.example/steal", false),
        ("http://api.symbl.ai.evil.example/v1/x", false),
        ("https://api.symbl.ai/v1/conversations", true),
    ] {
        let inner = RecordingService::redirecting("/v1/moved", target);
        let authed = layer.layer(inner.clone());
        let limited = FollowRedirect::with_policy(authed.clone(), Limited::default());
        let standard = FollowRedirect::with_policy(authed, Standard::default());
        for hop in [
            limited.oneshot(get(MOVED)).await,
            standard.oneshot(get(MOVED)).await,
        ] {
            assert_eq!(hop.expect("followed").status(), StatusCode::OK);
        }
        let followed = [
            (MOVED.to_owned(), true),
            (target.to_owned(), token_on_second_hop),
        ];
        assert_eq!(
            inner.hops(),
            [followed.clone(), followed].concat(),
            "to {target}"
        );
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "every hop to Symbl used the cached token"
    );
}

#[tokio::test]
async fn no_public_type_shows_a_secret_in_its_text() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
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
    assert_no_secret_or_token(&texts);
    for text in &texts {
        assert!(!text.contains(token.secret()), "token in: {text}");
    }
    drop(future);
    let default = SymblAuthLayer::new(credentials);
    assert!(!format!("{default:?}").contains(TEST_APP_SECRET));
}
