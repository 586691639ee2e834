//! Authenticated WebSocket connections to Symbl's Streaming API (feature `websocket`).
//!
//! [`connect`] opens a WebSocket with the layer's cached token in an `X-API-KEY` handshake
//! header, as Symbl's own SDKs send it since they stopped putting `?access_token=` in the URL
//! (URLs end up in logs). A handshake answered `401` costs one refresh and one more handshake,
//! with the same 401 policy as the HTTP middleware: one layer, one token cache, one set of
//! [`Stats`](crate::Stats) for REST calls and streaming alike.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use symbl_auth::websocket::{self, tokio_tungstenite::tungstenite::Message};
//! use symbl_auth::{Credentials, SymblAuthLayer};
//!
//! # async fn run() -> Result<(), symbl_auth::BoxError> {
//! let layer = SymblAuthLayer::new(Credentials::from_env()?);
//! let url = "wss://api.symbl.ai/v1/streaming/my-connection-id";
//! let (mut socket, _response) = websocket::connect(&layer, url).await?;
//! socket
//!     .send(Message::text(r#"{"type":"start_request","config":{"speechRecognition":{"encoding":"LINEAR16","sampleRateHertz":16000}}}"#))
//!     .await?;
//! while let Some(message) = socket.next().await {
//!     println!("{}", message?);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The request is anything tungstenite takes (`&str`, `String`, `http::Uri`, an
//! `http::Request<()>` with headers of your own). The layer's host rules apply as for HTTP:
//!
//! - `wss://` to an allowed host (by default `api.symbl.ai` and `api-labs.symbl.ai`) gets the
//!   token; plain `ws://` only to a loopback host, unless
//!   [`allow_insecure_http`](crate::SymblAuthLayerBuilder::allow_insecure_http) (otherwise
//!   [`Error::InsecureTransport`], before anything is sent).
//! - A request to any other host is connected without the token.
//! - A request that already has an `X-API-KEY` or `Authorization` header is sent as the caller
//!   made it, and its 401 is returned as tungstenite's `Error::Http`.
//!
//! A second 401 (with a fresh token) is [`Error::HandshakeRejected`]; so is a 401 when no newer
//! token than the rejected one can be had yet. Other failures are tungstenite's
//! [`Error`](tokio_tungstenite::tungstenite::Error), boxed, with no URL query or user info in
//! their text. Dropping the future at any point leaves the token cache as it was.
//!
//! TLS follows the crate's features, as the token client's does: rustls with the provider
//! they choose and the platform's root certificates (read at the first handshake), or
//! native-tls. [`connect_with`] takes your own tokio-tungstenite `Connector` instead.
//!
//! Note that tungstenite itself logs the raw handshake request, token header included, at the
//! `log` crate's `trace` level: do not enable `trace` for `tungstenite` where logs are kept.

#[cfg(tls_rustls)]
use std::sync::{Arc, OnceLock};

use http::{header, HeaderName, HeaderValue, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::handshake::client::{generate_key, Request, Response};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::cache::Token;
use crate::redact::redact_url;
use crate::scope::{Decision, Scope};
use crate::unauthorized::token_for_retry;
use crate::{BoxError, Error, SymblAuthLayer};

/// The tokio-tungstenite this module is built on, so callers name the same types
/// (`tokio_tungstenite::tungstenite::Message`) without matching its version by hand.
pub use tokio_tungstenite;

/// The header Symbl's SDKs carry the token in on a streaming handshake.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

const BEARER: &[u8] = b"Bearer ";

/// Opens a WebSocket to `request` with the layer's token in an `X-API-KEY` header, and
/// connects once more with a fresh token if the handshake is answered `401`.
///
/// Returns the socket and the server's handshake response. See the [module
/// documentation](self) for the rules; errors are a [`crate::Error`] (no token, a refused
/// plain-`ws://` target, a handshake rejected twice) or tungstenite's `Error`, boxed. TLS is
/// what the crate's features choose; [`connect_with`] takes your own.
pub async fn connect(
    layer: &SymblAuthLayer,
    request: impl IntoClientRequest,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), BoxError> {
    let request = request.into_client_request().map_err(redacted)?;
    let connector = default_connector(&request)?;
    connect_request(layer, request, connector).await
}

/// [`connect`], over `connector`: your own TLS setup (a rustls `ClientConfig` with your
/// provider and roots, a native-tls connector) or `Connector::Plain`.
///
/// ```no_run
/// # #[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "rustls-no-provider"))]
/// # async fn run(layer: symbl_auth::SymblAuthLayer, tls: std::sync::Arc<rustls::ClientConfig>) -> Result<(), symbl_auth::BoxError> {
/// use symbl_auth::websocket::{self, tokio_tungstenite::Connector};
///
/// let url = "wss://api.symbl.ai/v1/streaming/my-connection-id";
/// let (socket, _response) = websocket::connect_with(&layer, url, Connector::Rustls(tls)).await?;
/// # Ok(()) }
/// ```
pub async fn connect_with(
    layer: &SymblAuthLayer,
    request: impl IntoClientRequest,
    connector: Connector,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), BoxError> {
    let request = request.into_client_request().map_err(redacted)?;
    connect_request(layer, request, Some(connector)).await
}

async fn connect_request(
    layer: &SymblAuthLayer,
    request: Request,
    connector: Option<Connector>,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), BoxError> {
    match decide(&layer.shared.scope, &request) {
        Decision::Attach => {}
        Decision::PassThrough => return handshake(request, connector).await,
        Decision::Refuse(error) => return Err(error.into()),
    }
    let cache = &layer.shared.cache;
    let token = cache.get().await?;
    let rejected = match handshake_with(&request, &token, connector.clone()).await {
        Err(Rejected) => token.generation,
        Ok(done) => return done,
    };
    let retried = token_for_retry(cache, rejected).await?;
    let Some(fresh) = retried else {
        return Err(rejected_handshake(&request, false));
    };
    match handshake_with(&request, &fresh, connector).await {
        Ok(done) => done,
        Err(Rejected) => Err(rejected_handshake(&request, true)),
    }
}

/// The layer's host rules for a handshake to `request`'s URL. The one place this module
/// reads the layer's [`Scope`].
fn decide(scope: &Scope, request: &Request) -> Decision {
    let headers = request.headers();
    let own_credentials =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key(X_API_KEY);
    match request.uri().host() {
        Some(host) => scope.decide_target(request.uri().scheme_str(), Some(host), own_credentials),
        // tungstenite refuses a URL without a host; it is certainly not ours to authorize.
        None => Decision::PassThrough,
    }
}

/// A handshake answered `401`.
struct Rejected;

type Connected = Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), BoxError>;

/// One handshake carrying `token`: its outcome, or [`Rejected`] for a `401`.
async fn handshake_with(
    request: &Request,
    token: &Token,
    connector: Option<Connector>,
) -> Result<Connected, Rejected> {
    let mut request = request.clone();
    let headers = request.headers_mut();
    headers.insert(X_API_KEY, api_key(&token.header));
    // A fresh key for each handshake (RFC 6455 §4.1): the retry must not repeat the first's.
    if let Ok(key) = HeaderValue::from_str(&generate_key()) {
        headers.insert("sec-websocket-key", key);
    }
    match over(request, connector).await {
        Err(WsError::Http(response)) if response.status() == StatusCode::UNAUTHORIZED => {
            Err(Rejected)
        }
        outcome => Ok(outcome.map_err(redacted)),
    }
}

/// One handshake without the layer's token.
async fn handshake(request: Request, connector: Option<Connector>) -> Connected {
    over(request, connector).await.map_err(redacted)
}

/// One handshake over `connector` (tokio-tungstenite's own choice for `None`), with Nagle off.
async fn over(
    request: Request,
    connector: Option<Connector>,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), WsError> {
    #[cfg(any(tls_rustls, feature = "native-tls"))]
    return tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector).await;
    // Without TLS, `Connector::Plain` is the only connector there is.
    #[cfg(not(any(tls_rustls, feature = "native-tls")))]
    {
        let _ = connector;
        tokio_tungstenite::connect_async_with_config(request, None, true).await
    }
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

fn rejected_handshake(request: &Request, retried: bool) -> BoxError {
    tracing::debug!(
        url = %redact_url(&request.uri().to_string()),
        retried,
        "WebSocket handshake rejected with 401"
    );
    Error::HandshakeRejected {
        status: StatusCode::UNAUTHORIZED,
        retried,
    }
    .into()
}

/// tungstenite's error, boxed, without the URL's query or user info where it quotes the URL.
fn redacted(error: WsError) -> BoxError {
    match error {
        WsError::Url(UrlError::UnableToConnect(url)) => Box::new(WsError::Url(
            UrlError::UnableToConnect(redact_url(&url).into_owned()),
        )),
        other => Box::new(other),
    }
}

/// The TLS connector the crate's features choose: rustls with their provider and the
/// platform's roots, built once (from the crate's own config, so no process-level provider is
/// relied on, except under `rustls-no-provider`); `None` under `native-tls` alone, where
/// tokio-tungstenite makes its own; an error for `wss://` with no TLS feature.
fn default_connector(request: &Request) -> Result<Option<Connector>, Error> {
    #[cfg(tls_rustls)]
    {
        let _ = request;
        static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(Some(Connector::Rustls(Arc::clone(config))));
        }
        let config = Arc::new(crate::tls::client_config()?);
        Ok(Some(Connector::Rustls(Arc::clone(
            CONFIG.get_or_init(|| config),
        ))))
    }
    #[cfg(not(tls_rustls))]
    {
        let tls = request.uri().scheme_str() == Some("wss");
        if tls && cfg!(not(feature = "native-tls")) {
            return Err(Error::config(
                "wss:// needs TLS: enable one of symbl-auth's features rustls, rustls-ring, \
                 rustls-no-provider or native-tls, or bring your own connector with \
                 websocket::connect_with",
            ));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(allow_insecure_http: bool) -> Scope {
        Scope::new(
            vec!["api.symbl.ai".into(), "api-labs.symbl.ai".into()],
            allow_insecure_http,
        )
    }

    fn decision(scope: &Scope, request: impl IntoClientRequest) -> Decision {
        decide(scope, &request.into_client_request().expect("request"))
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
    fn errors_that_quote_the_url_lose_its_query_and_user_info() {
        let error = redacted(WsError::Url(UrlError::UnableToConnect(
            "wss://user:pw@api.symbl.ai/v1/streaming/x?access_token=SECRET".into(),
        )));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("SECRET") && !text.contains("pw"), "{text}");
            assert!(text.contains("api.symbl.ai/v1/streaming/x"), "{text}");
        }
    }

    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
    #[test]
    fn tls_uses_the_crates_own_rustls_setup() {
        let request = "wss://api.symbl.ai/v1/streaming/abc"
            .into_client_request()
            .expect("request");
        let connector = default_connector(&request).expect("a connector");
        assert!(matches!(connector, Some(Connector::Rustls(_))));
    }
}
