//! Paths a secret could leak through: the token request's own headers, redirects to other
//! hosts, and the `Debug`/`Display` text of every public type.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]
// Some tests need the built-in client (a TLS feature): what only they use is unused without it.
#![cfg_attr(not(builtin_client), allow(dead_code, unused_imports))]

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use http::StatusCode;
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::test_server::{FakeSymbl, TestServer, TEST_APP_SECRET};
use symbl_auth::{
    AccessToken, BoxError, Credentials, Error, ReplayBody, SymblAuthLayer, SymblTokenSource,
    TokenSource,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tower::{Layer, ServiceExt};
use tower_http::follow_redirect::policy::{Limited, Standard};
use tower_http::follow_redirect::FollowRedirect;

use support::*;

/// Serves one token request on a raw socket and returns its bytes exactly as they arrived.
#[cfg(builtin_client)]
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
    #[cfg(builtin_client)]
    {
        let default = SymblAuthLayer::new(credentials);
        assert!(!format!("{default:?}").contains(TEST_APP_SECRET));
    }
}

/// A query key and a password in token URLs, and the secrets beside them.
const QUERY_KEY: &str = "SECRET123";
const PASSWORD: &str = "pw";
const CLIENT_SECRET: &str = "client-secret-456";

/// No text shows the query key, the URL's password or a secret.
fn assert_no_url_secret(texts: &[String]) {
    assert_no_secret_or_token(texts);
    for text in texts {
        for hidden in [QUERY_KEY, PASSWORD, CLIENT_SECRET] {
            assert!(!text.contains(hidden), "{hidden} in: {text}");
        }
    }
}

/// A request as the layer passes it on, and the answer of [`echo`]: its `Debug` text.
type Passed = http::Request<ReplayBody<Full<Bytes>>>;
type Echoed = std::future::Ready<Result<http::Response<String>, Infallible>>;

/// An inner service that answers each request with its `Debug` text: the request as the layer
/// passes it on, its `ReplayBody` included.
fn echo() -> tower::util::ServiceFn<fn(Passed) -> Echoed> {
    tower::service_fn(|request: Passed| {
        std::future::ready(Ok(http::Response::new(format!("{request:?}"))))
    })
}

/// A port on loopback where nothing listens.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Every public type made with a token URL holding a key in its query and a password in its
/// userinfo (or the nearest it accepts: `build` refuses userinfo), used, and failed: no `Debug`
/// or `Display` shows either, as the builder's `Debug` never did.
#[cfg(builtin_client)]
#[tokio::test]
async fn no_public_type_shows_a_token_urls_query_or_userinfo() {
    let remote = format!("https://user:{PASSWORD}@auth.internal/token?apikey={QUERY_KEY}");
    let remote_query = format!("https://auth.internal/token?apikey={QUERY_KEY}");
    let credentials = Credentials::new("app-id", TEST_APP_SECRET);
    let mut texts = Vec::new();

    // Built, not used: the builders, both sources, the layers and their services.
    let builder = SymblAuthLayer::builder(credentials.clone()).token_url(&remote);
    texts.push(format!("{builder:?}"));
    let layer = SymblAuthLayer::builder(credentials.clone())
        .token_url(&remote_query)
        .build()
        .expect("a query is allowed");
    let symbl_source = SymblTokenSource::new(&remote, credentials.clone());
    let oauth2 = ClientCredentials::new(&remote_query, "client", CLIENT_SECRET)
        .auth_method(AuthMethod::ClientSecretPost);
    let oauth2_builder = SymblAuthLayer::from_source(oauth2.clone()).allow_host("api.internal");
    texts.push(format!("{oauth2_builder:?}"));
    let from_sources = [
        SymblAuthLayer::from_source(SymblTokenSource::new(&remote_query, credentials.clone()))
            .allow_host("api.internal")
            .build()
            .expect("layer"),
        oauth2_builder.build().expect("layer"),
    ];
    for layer in [&layer, &from_sources[0], &from_sources[1]] {
        let service = layer.layer(echo());
        texts.push(format!("{layer:?} {service:?} {:?}", layer.stats()));
    }
    #[cfg(feature = "reqwest-middleware")]
    texts.push(format!(
        "{:?}",
        symbl_auth::SymblAuthMiddleware::from(layer.clone())
    ));
    let userinfo_oauth2 = ClientCredentials::new(&remote, "client", CLIENT_SECRET);
    texts.push(format!(
        "{symbl_source:?} {oauth2:?} {userinfo_oauth2:?} {credentials:?}"
    ));

    // Refused at build: the errors name the setting or the problem, not the URL.
    let refused = [
        SymblAuthLayer::builder(credentials.clone())
            .token_url(&remote)
            .build(),
        SymblAuthLayer::builder(credentials.clone())
            .token_url(format!("http://auth.internal/token?apikey={QUERY_KEY}"))
            .build(),
        SymblAuthLayer::from_source(userinfo_oauth2.clone())
            .allow_host("api.internal")
            .build(),
        SymblAuthLayer::from_source(symbl_source.clone())
            .allow_host("api.internal")
            .build(),
    ];
    for result in refused {
        let error = result.expect_err("refused");
        texts.push(format!("{error} {error:?}"));
    }

    // Used: a working layer whose token URL has the key in its query, through a service, its
    // future, the body the inner service sees, and the token handed out.
    let server = TestServer::start().await.expect("server");
    let layer = server
        .layer_builder()
        .token_url(format!("{}?apikey={QUERY_KEY}", server.token_url()))
        .build()
        .expect("layer");
    let service = layer.layer(echo());
    let url = server.url("/v1/conversations");
    let future = tower::Service::call(&mut service.clone(), get(&url));
    texts.push(format!("{future:?}"));
    let response = future.await.expect("call");
    let passed_on = response.into_body();
    assert!(
        passed_on.contains("Sensitive"),
        "the token went on: {passed_on}"
    );
    let token = layer.access_token().await.expect("token");
    texts.push(format!(
        "{layer:?} {service:?} {:?} {token:?} {passed_on}",
        layer.stats()
    ));

    // Failed: each source's error, its `Debug` and its sources, from a token URL where
    // nothing listens.
    let closed = format!(
        "http://user:{PASSWORD}@127.0.0.1:{}/token?apikey={QUERY_KEY}",
        closed_port().await
    );
    let closed_query = format!(
        "http://127.0.0.1:{}/token?apikey={QUERY_KEY}",
        closed_port().await
    );
    let errors: [Error; 3] = [
        SymblTokenSource::new(&closed, credentials.clone())
            .fetch_token()
            .await
            .expect_err("nothing listens"),
        ClientCredentials::new(&closed_query, "client", CLIENT_SECRET)
            .fetch_token()
            .await
            .expect_err("nothing listens"),
        ClientCredentials::new(&closed, "client", CLIENT_SECRET)
            .fetch_token()
            .await
            .expect_err("userinfo refused"),
    ];
    for error in errors {
        texts.push(error_chain(&BoxError::from(error)));
    }
    let failing = SymblAuthLayer::builder(credentials)
        .token_url(&closed_query)
        .token_retry_budget(Duration::from_millis(300))
        .build()
        .expect("layer");
    let error = failing
        .layer(RecordingService::ok())
        .oneshot(get("http://127.0.0.1/v1"))
        .await
        .expect_err("no token");
    texts.push(error_chain(&error));
    texts.push(format!("{failing:?} {:?}", failing.stats()));

    assert!(
        texts.iter().any(|text| text.contains("auth.internal")),
        "the texts show the hosts: {texts:#?}"
    );
    assert_no_url_secret(&texts);
}
