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
