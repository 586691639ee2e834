//! Token requests over the app's own tower HTTP service (`token_client`): a real hyper-util
//! client against real loopback endpoints. The crate's rules hold as with the built-in client:
//! each attempt's timeout and the retry budget, the size cap, no redirect, the same sorting of
//! failures, and no secret in any error. Runs with and without a built-in client.

mod peers;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use peers::{Reply, TokenEndpoint};
use symbl_auth::oauth2::ClientCredentials;
#[cfg(feature = "test-server")]
use symbl_auth::test_server::TestServer;
#[cfg(feature = "test-server")]
use symbl_auth::ReplayBody;
use symbl_auth::{BoxError, Credentials, Error, SymblAuthLayer, TokenSource};
#[cfg(feature = "test-server")]
use tower::ServiceBuilder;
use tower::{service_fn, ServiceExt};

const SECRET: &str = "app-secret-never-shown";

fn plain_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn symbl_layer(url: String) -> SymblAuthLayer {
    SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(url)
        .token_client(plain_client())
        .token_request_timeout(Duration::from_millis(500))
        .token_retry_budget(Duration::from_secs(2))
        .build()
        .expect("layer")
}

/// Every error's text, its `Debug` and each link of its source chain.
fn all_text(error: &Error) -> String {
    let mut text = format!("{error} {error:?}");
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        text.push_str(&format!(" | {cause} {cause:?}"));
        next = cause.source();
    }
    text
}

#[cfg(feature = "test-server")]
#[tokio::test]
async fn one_hyper_client_carries_the_token_requests_and_the_api_calls() {
    // The client the layer wraps is `Client<_, ReplayBody<Full<Bytes>>>`; the same client (one
    // pool) sends the token requests, since `ReplayBody<Full<Bytes>>` is made from `Full<Bytes>`.
    let server = TestServer::start().await.expect("server");
    let opened = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&opened);
    let connector = HttpConnector::new().map_request(move |uri: http::Uri| {
        count.fetch_add(1, Ordering::SeqCst);
        uri
    });
    let client =
        Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Full<Bytes>>>(connector);
    let layer = SymblAuthLayer::builder(server.symbl().accepted_credentials())
        .token_url(server.token_url())
        .token_client(client.clone())
        .build()
        .expect("layer");
    let service = ServiceBuilder::new().layer(layer.clone()).service(client);
    for _ in 0..3 {
        let response = service
            .clone()
            .oneshot(
                http::Request::get(server.url("/v1/conversations"))
                    .body(Full::new(Bytes::new()))
                    .expect("request"),
            )
            .await
            .expect("call");
        assert_eq!(response.status(), http::StatusCode::OK);
    }
    assert_eq!(server.symbl().token_requests(), 1);
    assert_eq!(layer.stats().token_requests, 1);
    // Token request and API calls, one after another to one server: one connection.
    assert_eq!(opened.load(Ordering::SeqCst), 1, "one pool");
}

#[tokio::test]
async fn both_built_in_sources_take_a_token_client() {
    let oauth2 = TokenEndpoint::start(Reply::token("oauth2-token", 3600)).await;
    let symbl = TokenEndpoint::start(Reply::json(
        "200 OK",
        r#"{"accessToken":"symbl-token","expiresIn":3600}"#,
    ))
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let client = plain_client();
    let counting = tower::service_fn(move |request: http::Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::SeqCst);
        client.clone().oneshot(request)
    });

    let source = ClientCredentials::new(oauth2.url("/token"), "client", SECRET)
        .token_client(counting.clone());
    assert_eq!(
        source.fetch_token().await.expect("token").secret(),
        "oauth2-token"
    );
    let source = symbl_auth::SymblTokenSource::new(
        symbl.url("/oauth2/token:generate"),
        Credentials::new("app", SECRET),
    )
    .token_client(counting);
    assert_eq!(
        source.fetch_token().await.expect("token").secret(),
        "symbl-token"
    );
    assert!(format!("{source:?}").contains("token_client"), "{source:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!((oauth2.requests(), symbl.requests()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_bounded_and_the_budget_ends_the_fetch() {
    let silent = peers::SilentPeer::start().await;
    let url = silent.url("/token");
    let layer = symbl_layer(url);
    let started = tokio::time::Instant::now();
    let err = layer.access_token().await.expect_err("no answer");
    assert!(
        matches!(err, Error::TokenEndpointUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("500ms"), "{err}");
    // Attempts of 500 ms with backoff between them, until the 2 s budget ran out.
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(layer.stats().token_requests >= 2, "{:?}", layer.stats());
}

#[tokio::test]
async fn the_answer_is_read_up_to_the_cap() {
    let huge = "x".repeat(symbl_auth::MAX_RESPONSE_BYTES + 1);
    {
        let reply = Reply::json(
            "200 OK",
            format!(r#"{{"accessToken":"{huge}","expiresIn":60}}"#),
        );
        let endpoint = TokenEndpoint::start(reply).await;
        let layer = symbl_layer(endpoint.url("/oauth2/token:generate"));
        let err = layer.access_token().await.expect_err("too large");
        assert!(matches!(err, Error::BadTokenResponse { .. }), "{err}");
        assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");
        assert_eq!(layer.stats().token_requests, 1, "not retried");
    }
}

/// A body over the cap with no `content-length` (chunked): no size to refuse up front, so it
/// is refused while being read, once 64 KiB are in. Through the app's client and, where there
/// is one, the built-in client.
#[tokio::test]
async fn a_chunked_answer_over_the_cap_is_refused_while_read() {
    let huge = "x".repeat(symbl_auth::MAX_RESPONSE_BYTES);
    let reply = Reply::json(
        "200 OK",
        format!(r#"{{"accessToken":"{huge}","expiresIn":60}}"#),
    )
    .chunked();
    let endpoint = TokenEndpoint::start(reply).await;
    let url = endpoint.url("/oauth2/token:generate");
    let mut layers = vec![symbl_layer(url.clone())];
    if cfg!(all(builtin_client, not(tls_provider = "installed"))) {
        let built_in = SymblAuthLayer::builder(Credentials::new("app", SECRET))
            .token_url(url)
            .build()
            .expect("layer");
        layers.push(built_in);
    }
    for layer in layers {
        let err = layer.access_token().await.expect_err("too large");
        assert!(matches!(err, Error::BadTokenResponse { .. }), "{err}");
        assert!(err.to_string().contains("larger than 65536 bytes"), "{err}");
        assert_eq!(layer.stats().token_requests, 1, "not retried");
    }
}

#[tokio::test]
async fn a_redirect_is_an_error_naming_the_token_url_and_is_never_followed() {
    let elsewhere = TokenEndpoint::start(Reply::token("stolen", 3600)).await;
    let moved = Reply::json("307 Temporary Redirect", "")
        .header(format!("location: {}", elsewhere.url("/token")));
    let endpoint = TokenEndpoint::start(moved).await;
    let url = endpoint.url("/oauth2/token:generate?key=QUERY-SECRET");
    // Even a client that follows redirects itself would be refused its 3xx: here a plain one.
    let layer = symbl_layer(url);
    let err = layer.access_token().await.expect_err("redirected");
    assert!(
        matches!(err, Error::TokenEndpointRejected { status, .. } if status == 307),
        "{err}"
    );
    let text = all_text(&err);
    assert!(
        text.contains(&format!(
            "127.0.0.1:{}/oauth2/token:generate",
            endpoint.port
        )),
        "{text}"
    );
    assert!(
        !text.contains("QUERY-SECRET") && !text.contains(SECRET),
        "{text}"
    );
    assert_eq!((endpoint.requests(), elsewhere.requests()), (1, 0));
}

#[tokio::test]
async fn failures_are_sorted_as_for_the_built_in_client() {
    // A refused connection: transient, retried within the budget.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let refused = format!("http://{}/token", closed.local_addr().expect("addr"));
    drop(closed);
    let layer = symbl_layer(refused);
    let err = layer.access_token().await.expect_err("refused");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert!(
        layer.stats().token_requests >= 2,
        "retried: {:?}",
        layer.stats()
    );

    // A certificate the app's client refuses: permanent, one attempt, the problem named.
    let (acceptor, _root) = peers::self_signed();
    let endpoint = TokenEndpoint::start_tls(Reply::token("t", 60), acceptor).await;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        )
        .expect("verifier")
        .https_only()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(https);
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(format!(
            "https://127.0.0.1:{}/oauth2/token:generate",
            endpoint.port
        ))
        .token_client(client)
        .build()
        .expect("layer");
    let err = layer.access_token().await.expect_err("untrusted");
    assert!(matches!(err, Error::TokenEndpointUntrusted { .. }), "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(layer.stats().token_requests, 1, "not retried");
    assert_eq!(endpoint.requests(), 0);
}

#[tokio::test]
async fn the_apps_client_errors_lose_their_urls_secrets() {
    // A client of the app's whose error quotes the URL it was given, query and all.
    let leaky = service_fn(|request: http::Request<Full<Bytes>>| async move {
        Err::<http::Response<Full<Bytes>>, BoxError>(
            format!("cannot reach {}", request.uri()).into(),
        )
    });
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url("https://auth.example/oauth2/token:generate?key=QUERY-SECRET")
        .token_client(leaky)
        .token_retry_budget(Duration::from_millis(300))
        .build()
        .expect("layer");
    let err = layer.access_token().await.expect_err("failed");
    let text = all_text(&err);
    assert!(
        text.contains("auth.example/oauth2/token:generate"),
        "{text}"
    );
    for secret in ["QUERY-SECRET", SECRET] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn a_direct_fetch_outside_a_runtime_is_an_error_not_a_panic() {
    let source = ClientCredentials::new("http://127.0.0.1:9/token", "client", SECRET)
        .token_client(plain_client());
    let mut fetch = source.fetch_token();
    let mut cx = Context::from_waker(Waker::noop());
    match fetch.as_mut().poll(&mut cx) {
        Poll::Ready(Err(err)) => assert!(matches!(err, Error::NoRuntime { .. }), "{err}"),
        other => panic!("expected NoRuntime at once, got {other:?}"),
    }
}

#[cfg(any(
    feature = "rustls",
    feature = "rustls-ring",
    feature = "rustls-no-provider",
    feature = "native-tls"
))]
#[test]
fn http_client_and_token_client_together_are_refused() {
    let err = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .http_client(|client| client)
        .token_client(plain_client())
        .build()
        .expect_err("both");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    assert!(err.to_string().contains("keep one"), "{err}");
    let source = ClientCredentials::new("https://auth.example/token", "client", SECRET)
        .http_client(|client| client)
        .token_client(plain_client());
    let err = SymblAuthLayer::from_source(source)
        .allow_host("api.example")
        .build()
        .expect_err("both");
    assert!(err.to_string().contains("keep one"), "{err}");
}

#[cfg(not(any(
    feature = "rustls",
    feature = "rustls-ring",
    feature = "rustls-no-provider",
    feature = "native-tls"
)))]
#[test]
fn without_a_built_in_client_build_asks_for_a_token_client() {
    let err = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .build()
        .expect_err("no client");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    assert!(err.to_string().contains("token_client"), "{err}");
    let source = ClientCredentials::new("https://auth.example/token", "client", SECRET);
    let err = SymblAuthLayer::from_source(source)
        .allow_host("api.example")
        .build()
        .expect_err("no client");
    assert!(err.to_string().contains("token_client"), "{err}");
}
