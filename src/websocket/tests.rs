//! The handshake request (`request.rs`): checked and completed as tungstenite completes a URL,
//! judged by the host rules, given the token.

use http::header::{self, HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use super::request::{decide, prepare, with_token};
use crate::cache::Token;
use crate::scope::{Decision, Scope};
use crate::Error;

fn scope(allow_insecure_http: bool) -> Scope {
    Scope::new(
        vec!["api.symbl.ai".into(), "api-labs.symbl.ai".into()],
        allow_insecure_http,
    )
}

fn decision(scope: &Scope, request: impl IntoClientRequest) -> Decision {
    decide(scope, &request.into_client_request().expect("request"))
}

fn plain(uri: &str) -> Request {
    http::Request::builder().uri(uri).body(()).expect("request")
}

#[test]
fn a_plain_request_gets_the_headers_tungstenite_writes_for_a_url() {
    for url in [
        "wss://api.symbl.ai/v1/streaming/abc?x=1",
        "ws://user:pw@127.0.0.1:8080/v1/streaming/abc",
        "wss://[::1]:9443/x",
    ] {
        let from_url = url.into_client_request().expect("request");
        let prepared = prepare(plain(url)).expect("prepared");
        let without_key = |request: &Request| {
            let mut headers = request.headers().clone();
            let key = headers.remove(header::SEC_WEBSOCKET_KEY).expect("a key");
            assert_eq!(key.len(), 24, "16 random bytes in base64");
            headers
        };
        assert_eq!(without_key(&prepared), without_key(&from_url), "{url}");
        assert_eq!(prepared.uri(), from_url.uri());
        assert_eq!(prepared.method(), from_url.method());
        assert_eq!(prepared.version(), from_url.version());
    }
}

#[test]
fn the_callers_own_headers_are_kept_and_nothing_is_doubled() {
    let request = http::Request::builder()
        .uri("wss://api.symbl.ai/v1/streaming/abc")
        .header("x-custom", "1")
        .header("Host", "api.symbl.ai:443")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "chat")
        .body(())
        .expect("request");
    let prepared = prepare(request).expect("prepared");
    let headers = prepared.headers();
    assert_eq!(headers["x-custom"], "1");
    assert_eq!(headers["host"], "api.symbl.ai:443");
    assert_eq!(headers["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(headers["sec-websocket-protocol"], "chat");
    assert_eq!(headers["upgrade"], "websocket");
    assert_eq!(headers.len(), 7, "{headers:?}");
    // A URL's request is complete already: preparing it changes nothing.
    let from_url = "wss://api.symbl.ai/v1/streaming/abc"
        .into_client_request()
        .expect("request");
    assert_eq!(
        prepare(from_url.clone()).expect("prepared").headers(),
        from_url.headers()
    );
}

#[test]
fn only_websocket_urls_are_taken() {
    for url in [
        "https://api.symbl.ai/v1/streaming/abc",
        "http://127.0.0.1:8080/v1/streaming/abc",
        "ftp://api.symbl.ai/x",
        "/v1/streaming/abc",
    ] {
        let error = prepare(plain(url)).expect_err(url);
        assert!(error.to_string().contains("wss://"), "{url}: {error}");
    }
    let upper = prepare(plain("WSS://api.symbl.ai/v1/streaming/abc")).expect("any case");
    assert_eq!(upper.uri(), "wss://api.symbl.ai/v1/streaming/abc");
}

#[test]
fn attaches_over_wss_to_allowed_hosts_only() {
    let scope = scope(false);
    for url in [
        "wss://api.symbl.ai/v1/streaming/abc",
        "wss://API-LABS.symbl.ai:443/v1/streaming/abc",
    ] {
        assert!(matches!(decision(&scope, url), Decision::Attach), "{url}");
    }
    for url in [
        "wss://example.com/v1/streaming/abc",
        "wss://api.symbl.ai.evil.example/v1/streaming/abc",
        "ws://127.0.0.1:9/v1/streaming/abc",
    ] {
        assert!(
            matches!(decision(&scope, url), Decision::PassThrough),
            "{url}"
        );
    }
}

#[test]
fn refuses_plain_ws_to_remote_allowed_hosts_unless_allowed() {
    assert!(matches!(
        decision(&scope(false), "ws://api.symbl.ai/v1/streaming/abc"),
        Decision::Refuse(Error::InsecureTransport { .. })
    ));
    assert!(matches!(
        decision(&scope(true), "ws://api.symbl.ai/v1/streaming/abc"),
        Decision::Attach
    ));
    let loopback = Scope::new(vec!["localhost".into()], false);
    assert!(matches!(
        decision(&loopback, "ws://localhost:8080/v1/streaming/abc"),
        Decision::Attach
    ));
}

#[test]
fn a_custom_token_url_replaces_symbls_hosts() {
    let url = "wss://api.symbl.ai/v1/streaming/abc";
    let scope_of = |builder: crate::SymblAuthLayerBuilder| {
        builder.finish(false).expect("layer").shared.scope.clone()
    };
    let builder = || crate::SymblAuthLayer::builder(crate::Credentials::new("id", "secret"));
    let token_url = "https://auth.example.com/oauth2/token:generate";
    assert!(matches!(
        decision(&scope_of(builder()), url),
        Decision::Attach
    ));
    let custom = scope_of(builder().token_url(token_url));
    assert!(matches!(decision(&custom, url), Decision::PassThrough));
    assert!(matches!(
        decision(&custom, "wss://auth.example.com/v1/streaming/abc"),
        Decision::Attach
    ));
    let named = scope_of(builder().token_url(token_url).allow_host("api.symbl.ai"));
    assert!(matches!(decision(&named, url), Decision::Attach));
}

#[test]
fn leaves_the_callers_own_credentials_alone() {
    for name in ["x-api-key", "authorization", "X-Api-Key"] {
        let mut request = "wss://api.symbl.ai/v1/streaming/abc"
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            HeaderName::try_from(name).expect("name"),
            "mine".parse().expect("value"),
        );
        assert!(
            matches!(decide(&scope(false), &request), Decision::PassThrough),
            "{name}"
        );
    }
    // Any other header does not stop the token.
    let mut request = "wss://api.symbl.ai/v1/streaming/abc"
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("x-api-key-hint", "mine".parse().expect("value"));
    assert!(matches!(decide(&scope(false), &request), Decision::Attach));
}

#[test]
fn the_token_goes_raw_and_sensitive_with_a_fresh_key_each_time() {
    let request = prepare(plain("wss://api.symbl.ai/v1/streaming/abc")).expect("prepared");
    let token = Token {
        header: HeaderValue::from_static("Bearer eyJ.token.sig"),
        generation: 1,
        binding: None,
    };
    let (first, second) = (with_token(&request, &token), with_token(&request, &token));
    // The raw token, marked sensitive.
    let key = &first.headers()["x-api-key"];
    assert_eq!(key, "eyJ.token.sig");
    assert!(key.is_sensitive());
    assert_eq!(format!("{key:?}"), "Sensitive");
    assert_ne!(
        first.headers()[header::SEC_WEBSOCKET_KEY],
        second.headers()[header::SEC_WEBSOCKET_KEY]
    );
    assert_eq!(first.headers().len(), request.headers().len() + 1);
}
