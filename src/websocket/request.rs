//! The handshake request: checked and completed before anything is fetched or sent, judged by
//! the layer's host rules, and given the token.

use http::header::{self, HeaderName, HeaderValue};
use http::uri::{Scheme, Uri};
use tokio_tungstenite::tungstenite::handshake::client::{generate_key, Request};

use super::UnsupportedScheme;
use crate::cache::Token;
use crate::scope::{Decision, Scope};

/// The header Symbl's SDKs carry the token in on a streaming handshake.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

const BEARER: &[u8] = b"Bearer ";

/// `request`, ready for a handshake: its URL a `ws://` or `wss://` one (in any case; written in
/// lowercase, as tungstenite wants it), with the handshake headers it lacks added as
/// tungstenite's `IntoClientRequest` for a URL writes them. The headers it has are kept as
/// they are.
pub(super) fn prepare(mut request: Request) -> Result<Request, UnsupportedScheme> {
    let scheme = request.uri().scheme_str().unwrap_or_default();
    if scheme != "ws" && scheme != "wss" {
        if !scheme.eq_ignore_ascii_case("ws") && !scheme.eq_ignore_ascii_case("wss") {
            return Err(UnsupportedScheme::new(request.uri().scheme_str()));
        }
        let mut parts = request.uri().clone().into_parts();
        parts.scheme = Scheme::try_from(scheme.to_ascii_lowercase().as_str()).ok();
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    let host = request.uri().authority().and_then(|authority| {
        // As tungstenite does: the authority without its user info, port included.
        let authority = authority.as_str();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        HeaderValue::from_str(host).ok()
    });
    let headers = request.headers_mut();
    if let Some(host) = host {
        headers.entry(header::HOST).or_insert(host);
    }
    headers
        .entry(header::CONNECTION)
        .or_insert(HeaderValue::from_static("Upgrade"));
    headers
        .entry(header::UPGRADE)
        .or_insert(HeaderValue::from_static("websocket"));
    headers
        .entry(header::SEC_WEBSOCKET_VERSION)
        .or_insert(HeaderValue::from_static("13"));
    if !headers.contains_key(header::SEC_WEBSOCKET_KEY) {
        if let Ok(key) = HeaderValue::from_str(&generate_key()) {
            headers.insert(header::SEC_WEBSOCKET_KEY, key);
        }
    }
    Ok(request)
}

/// The layer's host rules for a handshake to `request`'s URL. The one place this module
/// reads the layer's [`Scope`].
pub(super) fn decide(scope: &Scope, request: &Request) -> Decision {
    let headers = request.headers();
    // The headers the layer would set: a request that has either is the caller's to make.
    let own_credentials =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key(X_API_KEY);
    match request.uri().host() {
        Some(host) => scope.decide_target(request.uri().scheme_str(), Some(host), own_credentials),
        // tungstenite refuses a URL without a host; it is certainly not ours to authorize.
        None => Decision::PassThrough,
    }
}

/// `request` with `token` in `X-API-KEY`, and a fresh key: the retry must not repeat the
/// first handshake's (RFC 6455 §4.1).
pub(super) fn with_token(request: &Request, token: &Token) -> Request {
    let mut request = request.clone();
    let headers = request.headers_mut();
    headers.insert(X_API_KEY, api_key(&token.header));
    if let Ok(key) = HeaderValue::from_str(&generate_key()) {
        headers.insert(header::SEC_WEBSOCKET_KEY, key);
    }
    request
}

/// The raw token from the cached `Bearer <token>` header: one copy, straight into a header
/// value marked sensitive.
fn api_key(bearer: &HeaderValue) -> HeaderValue {
    let bytes = bearer.as_bytes();
    let token = bytes.strip_prefix(BEARER).unwrap_or(bytes);
    // A slice of a valid header value is a valid header value.
    let mut value = HeaderValue::from_bytes(token).unwrap_or_else(|_| bearer.clone());
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    use super::*;
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
    fn the_api_key_is_the_raw_token_marked_sensitive() {
        let bearer = HeaderValue::from_static("Bearer eyJ.token.sig");
        let key = api_key(&bearer);
        assert_eq!(key, "eyJ.token.sig");
        assert!(key.is_sensitive());
        assert_eq!(format!("{key:?}"), "Sensitive");
    }

    #[test]
    fn each_handshake_with_the_token_has_a_fresh_key() {
        let request = prepare(plain("wss://api.symbl.ai/v1/streaming/abc")).expect("prepared");
        let token = Token {
            header: HeaderValue::from_static("Bearer eyJ.token.sig"),
            generation: 1,
        };
        let (first, second) = (with_token(&request, &token), with_token(&request, &token));
        assert_eq!(first.headers()["x-api-key"], "eyJ.token.sig");
        assert_ne!(
            first.headers()[header::SEC_WEBSOCKET_KEY],
            second.headers()[header::SEC_WEBSOCKET_KEY]
        );
        assert_eq!(first.headers().len(), request.headers().len() + 1);
    }
}
