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
//! use symbl_auth::SymblAuthLayer;
//!
//! /// `layer`: `SymblAuthLayer::new(Credentials::from_env()?)`, say.
//! async fn run(layer: &SymblAuthLayer) -> Result<(), symbl_auth::BoxError> {
//!     let url = "wss://api.symbl.ai/v1/streaming/my-connection-id";
//!     let (mut socket, _response) = websocket::connect(layer, url).await?;
//!     let start = r#"{"type":"start_request","config":{"speechRecognition":{"encoding":"LINEAR16","sampleRateHertz":16000}}}"#;
//!     socket.send(Message::text(start)).await?;
//!     while let Some(message) = socket.next().await {
//!         println!("{}", message?);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The request is anything tungstenite takes: `&str`, `String`, `http::Uri`, or an
//! `http::Request<()>` with headers of your own. Such a request gets the handshake headers it
//! lacks, as tungstenite writes them for a URL (`Host`, `Connection: Upgrade`,
//! `Upgrade: websocket`, `Sec-WebSocket-Version: 13`, a fresh `Sec-WebSocket-Key`); the
//! headers it has are sent as they are. Its URL must be `ws://` or `wss://`: any other
//! (`https://` included) is [`UnsupportedScheme`], before a token is fetched or anything is
//! sent.
//!
//! The layer's host rules apply as for HTTP:
//!
//! - `wss://` to an allowed host (by default `api.symbl.ai` and `api-labs.symbl.ai`; with
//!   another `token_url`, that URL's host instead) gets the token; plain `ws://` only to a
//!   loopback host, unless
//!   [`allow_insecure_http`](crate::SymblAuthLayerBuilder::allow_insecure_http) (otherwise
//!   [`Error::InsecureTransport`](crate::Error::InsecureTransport), before anything is sent).
//! - A request to any other host is connected without the token.
//! - The layer never overwrites the header it would set. On a handshake that is `X-API-KEY`,
//!   and `Authorization` too: a request that already has either is sent as the caller made it,
//!   with no token fetched, and its 401 is returned as tungstenite's `Error::Http`. Any other
//!   header is left alone and does not stop the token. (On HTTP the header is
//!   `Authorization` alone: see [`allow_host`](crate::SymblAuthLayerBuilder::allow_host).)
//!
//! Each handshake (TCP connect, TLS and the upgrade) is bounded by the layer's
//! [`handshake_timeout`](crate::SymblAuthLayerBuilder::handshake_timeout), 10 s by default: a
//! peer that accepts the connection and never answers ends the connect with [`Elapsed`].
//!
//! A second 401 (with a fresh token) is
//! [`Error::HandshakeRejected`](crate::Error::HandshakeRejected) with `retried: true`. A 401
//! when there is no newer token than the rejected one is `retried: false`, without a second
//! handshake: its `reason` says whether the token endpoint re-served the rejected token (as
//! Symbl does until a token nears its expiry) or the token was itself refreshed less than a
//! second ago. Other failures are tungstenite's
//! [`Error`](tokio_tungstenite::tungstenite::Error), boxed, with no URL query or user info in
//! their text. Dropping the future at any point leaves the token cache as it was.
//!
//! TLS follows the crate's features, as the token client's does: rustls with the provider
//! they choose and the platform's root certificates (read at the first handshake), or
//! native-tls. [`connect_with`] takes your own tokio-tungstenite `Connector` instead.
//!
//! Note that tungstenite itself logs the raw handshake request, token header included, at the
//! `log` crate's `trace` level: do not enable `trace` for `tungstenite` where logs are kept.

mod connector;
mod error;
mod handshake;
mod request;
#[cfg(test)]
mod tests;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use self::connector::default_connector;
use self::error::{redacted, rejected_handshake, Rejection};
use self::handshake::{handshake, Failed};
use self::request::{decide, prepare, with_token};
use crate::scope::Decision;
use crate::unauthorized::retry_token;
use crate::{BoxError, SymblAuthLayer};

pub use self::error::{Elapsed, UnsupportedScheme};

/// The tokio-tungstenite this module is built on, so callers name the same types
/// (`tokio_tungstenite::tungstenite::Message`) without matching its version by hand.
pub use tokio_tungstenite;

/// What a connect gives: the socket and the server's handshake response.
type Connected = (WebSocketStream<MaybeTlsStream<TcpStream>>, Response);

/// Opens a WebSocket to `request` with the layer's token in an `X-API-KEY` header, and
/// connects once more with a fresh token if the handshake is answered `401`.
///
/// Returns the socket and the server's handshake response. See the [module
/// documentation](self) for the rules. From a [`keyed`](SymblAuthLayer::keyed) layer, the
/// handshake request names its credential with a [`CredentialKey`](crate::CredentialKey) in
/// its extensions (build an `http::Request<()>` and insert it); without one, the connect
/// fails with [`Error::MissingCredentialKey`](crate::Error::MissingCredentialKey). Errors, boxed: a [`crate::Error`] (no token, a refused
/// plain-`ws://` target, a handshake rejected, a token bound to a DPoP key: the handshake's
/// `X-API-KEY` has no place for its proof), an [`UnsupportedScheme`] (not a `ws://` or
/// `wss://` URL), an [`Elapsed`] (a handshake past the handshake timeout), or tungstenite's
/// `Error`. TLS is what the crate's features choose; [`connect_with`] takes your own.
pub async fn connect(
    layer: &SymblAuthLayer,
    request: impl IntoClientRequest,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), BoxError> {
    let request = prepare(request.into_client_request().map_err(redacted)?)?;
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
    let request = prepare(request.into_client_request().map_err(redacted)?)?;
    connect_request(layer, request, Some(connector)).await
}

/// The connect of a checked and completed request: the host rules, then at most two
/// handshakes, each within the handshake timeout.
async fn connect_request(
    layer: &SymblAuthLayer,
    request: Request,
    connector: Option<Connector>,
) -> Result<Connected, BoxError> {
    // Each handshake is bounded by a timer, which panics in a runtime without timers.
    crate::runtime::with_timers(
        "websocket::connect needs a Tokio runtime (with its time and I/O drivers): call it \
         inside one",
    )?;
    let limit = layer.shared.handshake_timeout;
    match decide(&layer.shared.scope, &request) {
        Decision::Attach => {}
        Decision::PassThrough => {
            return handshake(request, connector, limit)
                .await
                .map_err(Failed::into_error)
        }
        Decision::Refuse(error) => return Err(error.into()),
    }
    let cache = &layer.shared.cache_for(request.extensions())?;
    let token = cache.get().await?;
    if token.binding.is_some() {
        return Err(crate::Error::config(
            "websocket::connect sends the token raw in X-API-KEY, Symbl's way, which has no \
             place for a DPoP proof: a DPoP-bound source cannot open this stream",
        )
        .into());
    }
    match handshake(with_token(&request, &token), connector.clone(), limit).await {
        Err(Failed::Unauthorized(_)) => {}
        done => return done.map_err(Failed::into_error),
    }
    let fresh = match retry_token(cache, token.generation).await? {
        Ok(fresh) => fresh,
        Err(why) => return Err(rejected_handshake(&request, Rejection::NotRetried(why))),
    };
    match handshake(with_token(&request, &fresh), connector, limit).await {
        Err(Failed::Unauthorized(_)) => Err(rejected_handshake(&request, Rejection::Twice)),
        done => done.map_err(Failed::into_error),
    }
}
