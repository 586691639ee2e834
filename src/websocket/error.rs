//! The errors a connect ends with besides tungstenite's own: this module's small public
//! types, the layer's [`Error::HandshakeRejected`], and tungstenite's errors with their URLs
//! redacted.

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::redact::redact_url;
use crate::unauthorized::NoNewerToken;
use crate::{BoxError, Error, Reason};

/// A streaming handshake (TCP connect, TLS and the HTTP upgrade) that did not finish within
/// the layer's [`handshake_timeout`](crate::SymblAuthLayerBuilder::handshake_timeout), as
/// tower's `timeout::error::Elapsed` for a tower service.
///
/// The connect ends with it, boxed; the token cache is left as it was.
#[derive(Clone, Debug)]
pub struct Elapsed {
    timeout: Duration,
}

impl Elapsed {
    pub(super) fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The limit that was reached.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the WebSocket handshake did not finish within {:?} (TCP connect, TLS and upgrade); \
             the limit is SymblAuthLayerBuilder::handshake_timeout",
            self.timeout
        )
    }
}

impl std::error::Error for Elapsed {}

/// A connect to a URL that is not `ws://` or `wss://` (such as `https://`): refused before a
/// token is fetched or anything is sent.
#[derive(Clone, Debug)]
pub struct UnsupportedScheme {
    scheme: Option<String>,
}

impl UnsupportedScheme {
    pub(super) fn new(scheme: Option<&str>) -> Self {
        Self {
            scheme: scheme.map(str::to_owned),
        }
    }

    /// The URL's scheme (`https`), if it had one.
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }
}

impl fmt::Display for UnsupportedScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scheme {
            Some(scheme) => write!(f, "{scheme}:// is not a WebSocket URL")?,
            None => f.write_str("the WebSocket URL has no scheme")?,
        }
        f.write_str(
            ": connect to a wss:// URL, such as wss://api.symbl.ai/v1/streaming/{connectionId} \
             (ws:// for a server on loopback)",
        )
    }
}

impl std::error::Error for UnsupportedScheme {}

/// Why a handshake that carried the layer's token ends in [`Error::HandshakeRejected`].
#[derive(Clone, Copy, Debug)]
pub(super) enum Rejection {
    /// Rejected with the cached token and with a fresh one.
    Twice,
    /// Rejected once, with no newer token to try.
    NotRetried(NoNewerToken),
}

pub(super) fn rejected_handshake(request: &Request, rejection: Rejection) -> BoxError {
    let (retried, reason) = match rejection {
        Rejection::Twice => (true, "check that the app may use this API"),
        Rejection::NotRetried(NoNewerToken::Reserved) => (
            false,
            "asked for a new token, the token endpoint handed back the one rejected (Symbl \
             re-serves a token until near its expiry), and a second handshake would carry it \
             again: check that the app may use this API",
        ),
        Rejection::NotRetried(NoNewerToken::TooSoon) => (
            false,
            "the token rejected was fetched less than a second ago, to replace a token \
             rejected before it, and forced refreshes are at most one a second: check that \
             the app may use this API",
        ),
    };
    tracing::debug!(
        url = %redact_url(&request.uri().to_string()),
        retried,
        "WebSocket handshake rejected with 401"
    );
    Error::HandshakeRejected {
        status: StatusCode::UNAUTHORIZED,
        retried,
        reason: Reason::new(reason),
    }
    .into()
}

/// tungstenite's error, boxed, without the URL's query or user info where it quotes the URL.
pub(super) fn redacted(error: WsError) -> BoxError {
    match error {
        WsError::Url(UrlError::UnableToConnect(url)) => Box::new(WsError::Url(
            UrlError::UnableToConnect(redact_url(&url).into_owned()),
        )),
        other => Box::new(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn messages_name_the_setting_and_the_scheme_to_use() {
        let elapsed = Elapsed::new(Duration::from_millis(1500)).to_string();
        assert!(elapsed.contains("1.5s"), "{elapsed}");
        assert!(elapsed.contains("handshake_timeout"), "{elapsed}");
        let https = UnsupportedScheme::new(Some("https"));
        assert_eq!(https.scheme(), Some("https"));
        let text = https.to_string();
        assert!(
            text.starts_with("https:// is not a WebSocket URL: "),
            "{text}"
        );
        assert!(text.contains("wss://"), "{text}");
    }
}
