//! The token goes only where it belongs: to the allowed hosts, over https (or plain http to
//! loopback, or where opted in), and never in place of a caller's own `Authorization`; a
//! caller's `x-api-key` does not stop it.
#![cfg(feature = "test-server")]
// Some tests need a built-in client that works without the app's help (a TLS feature, not
// rustls-no-provider alone): what only they use is unused without it.
#![cfg_attr(
    any(not(builtin_client), tls_provider = "installed"),
    allow(dead_code, unused_imports)
)]

mod support;

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{Credentials, Error, SymblAuthLayer, SymblTokenSource, TokenSource};
use tower::{Layer, ServiceExt};

use support::*;

/// The `Authorization` of each request `recorder` got, in order.
fn authorizations(recorder: &RecordingService) -> Vec<Option<HeaderValue>> {
    recorder
        .seen()
        .into_iter()
        .map(|seen| seen.authorization)
        .collect()
}

fn layer(fake: &FakeSymbl) -> symbl_auth::SymblAuthLayerBuilder {
    SymblAuthLayer::from_source(fake.clone()).allow_host("api.symbl.ai")
}

#[tokio::test]
async fn the_token_goes_only_to_allowed_hosts() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let layer = layer(&fake)
        .allow_host("media.symbl.ai")
        .build()
        .expect("layer");
    let service = layer.layer(recorder.clone());

    for url in [
        "https://api.symbl.ai/v1/conversations",
        "https://API.SYMBL.AI:8443/v1/conversations",
        "https://media.symbl.ai/upload",
        "/v1/conversations",
    ] {
        service.clone().oneshot(get(url)).await.expect("call");
    }
    for url in [
        "https://example.com/",
        "https://api.symbl.ai.example.com/",
        "https://symbl.ai/",
    ] {
        service.clone().oneshot(get(url)).await.expect("call");
    }
    let sent = authorizations(&recorder);
    assert_eq!(sent.len(), 7);
    for value in &sent[..4] {
        let value = value.as_ref().expect("token attached");
        assert!(value
            .to_str()
            .expect("ascii")
            .starts_with("Bearer fake-token-"));
        assert!(value.is_sensitive(), "the header is marked sensitive");
    }
    for (index, value) in sent.iter().enumerate().skip(4) {
        assert_eq!(*value, None, "request {index} leaked the token");
    }
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let service = layer(&fake).build().expect("layer").layer(recorder.clone());
    let error = service
        .clone()
        .oneshot(get("http://api.symbl.ai/v1/conversations"))
        .await
        .expect_err("refused");
    assert!(
        matches!(auth_error(&error), Error::InsecureTransport { host, setting, .. }
            if host == "api.symbl.ai" && *setting == "SymblAuthLayerBuilder::allow_insecure_http")
    );
    assert_eq!(recorder.seen().len(), 0, "nothing was sent");
    assert_eq!(fake.token_requests(), 0, "no token was even fetched");

    let insecure = layer(&fake)
        .allow_insecure_http(true)
        .build()
        .expect("layer");
    let service = insecure.layer(recorder.clone());
    service
        .oneshot(get("http://api.symbl.ai/v1/conversations"))
        .await
        .expect("opted in");
    assert!(authorizations(&recorder)[0].is_some());
}

/// The setting an `InsecureTransport` error names, and its message.
fn named_setting(error: &Error) -> (&'static str, String) {
    match error {
        Error::InsecureTransport { setting, .. } => (setting, error.to_string()),
        other => panic!("expected InsecureTransport, got {other}"),
    }
}

#[cfg(all(builtin_client, not(tls_provider = "installed")))]
#[test]
fn a_refused_http_token_url_names_the_setting_that_allows_it() {
    // An OAuth2 source's token URL: the layer's setting does not reach into the source.
    let source = || ClientCredentials::new("http://auth.example.com/token", "client", "secret");
    let from_source = |source| SymblAuthLayer::from_source(source).allow_host("api.example.com");
    let error = from_source(source())
        .allow_insecure_http(true)
        .build()
        .expect_err("the source's own setting is off");
    let (setting, text) = named_setting(&error);
    assert_eq!(setting, "ClientCredentials::allow_insecure_http", "{text}");
    assert!(
        text.contains("ClientCredentials::allow_insecure_http(true)"),
        "{text}"
    );
    assert!(!text.contains("SymblAuthLayerBuilder"), "{text}");
    from_source(source().allow_insecure_http(true))
        .build()
        .expect("the setting named allows it");

    // Symbl's token URL is the layer's own.
    let symbl = || {
        SymblAuthLayer::builder(Credentials::new("app-id", "app-secret"))
            .token_url("http://auth.example.com/oauth2/token:generate")
    };
    let error = symbl().build().expect_err("plain http to a remote host");
    let (setting, text) = named_setting(&error);
    assert_eq!(
        setting, "SymblAuthLayerBuilder::allow_insecure_http",
        "{text}"
    );
    assert!(
        text.contains("SymblAuthLayerBuilder::allow_insecure_http(true)"),
        "{text}"
    );
    symbl()
        .allow_insecure_http(true)
        .build()
        .expect("the setting named allows it");

    // Symbl's source given to `from_source`: checked like the OAuth2 one, at `build` and at a
    // fetch made directly, so the app secret never goes out in clear without its opt-in.
    let source = || {
        SymblTokenSource::new(
            "http://auth.example.com/oauth2/token:generate",
            Credentials::new("app-id", "app-secret"),
        )
    };
    let from_source = |source| SymblAuthLayer::from_source(source).allow_host("api.example.com");
    let error = from_source(source())
        .build()
        .expect_err("plain http to a remote host");
    let (setting, text) = named_setting(&error);
    assert_eq!(setting, "SymblTokenSource::allow_insecure_http", "{text}");
    let direct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(source().fetch_token())
        .expect_err("refused before anything is sent");
    assert!(
        matches!(direct, Error::InsecureTransport { .. }),
        "{direct}"
    );
    from_source(source().allow_insecure_http(true))
        .build()
        .expect("the setting named allows it");
}

#[tokio::test]
async fn a_callers_own_authorization_is_kept() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let service = layer(&fake).build().expect("layer").layer(recorder.clone());
    let request = Request::get("https://api.symbl.ai/v1/conversations")
        .header(header::AUTHORIZATION, "Bearer callers-token")
        .body(Full::<Bytes>::default())
        .expect("request");
    service.oneshot(request).await.expect("call");
    assert_eq!(
        authorizations(&recorder)[0].clone().expect("kept"),
        "Bearer callers-token"
    );
    assert_eq!(fake.token_requests(), 0);
}

/// The layer never overwrites the header it sets, `Authorization`; any other header, an
/// `x-api-key` included, is left alone and does not stop the token (API gateways such as AWS
/// API Gateway want an `x-api-key` and a bearer token both).
#[tokio::test]
async fn a_callers_own_x_api_key_is_kept_and_the_token_added_over_real_http() {
    let fake = FakeSymbl::new();
    let peer = RawPeer::start(&[Reply::Raw(ANSWER_200)]).await;
    let service = SymblAuthLayer::from_source(fake.clone())
        .allow_host("127.0.0.1")
        .build()
        .expect("layer")
        .layer(http1_client());
    let request = Request::get(peer.url("http", "/v1/conversations"))
        .header("x-api-key", "mine")
        .body(Full::<Bytes>::default())
        .expect("request");
    assert_eq!(answered(&service, request).await, StatusCode::OK);

    let head = &peer.heads()[0];
    assert_eq!(header_values(head, "x-api-key"), ["mine"], "{head}");
    let authorization = header_values(head, "authorization");
    assert_eq!(authorization.len(), 1, "{head}");
    assert!(authorization[0].starts_with("Bearer fake-token-"), "{head}");
    assert_eq!(fake.token_requests(), 1);
}

#[cfg(not(tls_provider = "installed"))]
#[tokio::test]
async fn a_host_not_allowed_does_not_get_the_token_over_real_http() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    // Same server, but named `localhost`: not the token URL's host, so no token.
    let url = format!("http://localhost:{}/v1/conversations", server.addr().port());
    assert_eq!(
        answered(&service, get(&url)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.symbl().token_requests(), 0);
}

/// Hosts that end with, begin with or contain an allowed host without being it: a subdomain
/// of it, a name that merely ends with it, and a name that starts with it.
const LOOKALIKES: [&str; 4] = [
    "evilapi.symbl.ai",
    "sub.api.symbl.ai",
    "api.symbl.ai.evil.com",
    "xapi.symbl.ai",
];

/// Each lookalike three ways: as a bare authority (compared whole, the fast path), and with a
/// port or a user name (host taken out of the authority and compared, the slow path).
fn lookalike_urls() -> Vec<String> {
    LOOKALIKES
        .iter()
        .flat_map(|host| {
            [
                format!("https://{host}/v1/conversations"),
                format!("https://{host}:443/v1/conversations"),
                format!("https://user@{host}/v1/conversations"),
                format!("https://{}/v1/conversations", host.to_ascii_uppercase()),
            ]
        })
        .collect()
}

#[tokio::test]
async fn a_host_that_only_ends_or_starts_with_an_allowed_one_gets_no_token() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let service = layer(&fake).build().expect("layer").layer(recorder.clone());
    let urls = lookalike_urls();
    for url in &urls {
        let response = service
            .clone()
            .oneshot(get(url))
            .await
            .expect("passed through");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let sent = authorizations(&recorder);
    assert_eq!(sent.len(), urls.len());
    for (url, value) in urls.iter().zip(&sent) {
        assert_eq!(*value, None, "{url} got the token");
    }
    assert_eq!(fake.token_requests(), 0, "no token was fetched for them");

    // The same over plain http: not allowed, so passed through, not refused as insecure.
    for url in &urls {
        let url = url.replacen("https://", "http://", 1);
        let response = service.clone().oneshot(get(&url)).await;
        assert_eq!(
            response.expect("passed through").status(),
            StatusCode::OK,
            "{url}"
        );
    }
    assert!(authorizations(&recorder).iter().all(Option::is_none));
    assert_eq!(fake.token_requests(), 0);

    // And the allowed host itself, each way, does get it.
    for url in [
        "https://api.symbl.ai/v1/conversations",
        "https://api.symbl.ai:443/v1/conversations",
        "https://user@api.symbl.ai/v1/conversations",
    ] {
        service.clone().oneshot(get(url)).await.expect("sent");
    }
    let sent = authorizations(&recorder);
    assert!(
        sent[sent.len() - 3..].iter().all(Option::is_some),
        "{sent:?}"
    );
    assert_eq!(fake.token_requests(), 1);
}
