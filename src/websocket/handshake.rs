//! One handshake: TCP connect, TLS and the HTTP upgrade, within the handshake timeout.

use std::time::Duration;

use http::StatusCode;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::Connector;

use super::error::{redacted, Elapsed};
use super::Connected;
use crate::BoxError;

/// How a handshake failed.
pub(super) enum Failed {
    /// Answered `401`: tungstenite's error, which holds the answer.
    Unauthorized(WsError),
    /// Any other failure, ready to return.
    Other(BoxError),
}

impl Failed {
    /// The error to return to the caller.
    pub(super) fn into_error(self) -> BoxError {
        match self {
            Self::Unauthorized(error) => redacted(error),
            Self::Other(error) => error,
        }
    }
}

/// One handshake to `request` over `connector` (tokio-tungstenite's own choice for `None`),
/// with Nagle off, ended with [`Elapsed`] if it is not done within `limit`.
pub(super) async fn handshake(
    request: Request,
    connector: Option<Connector>,
    limit: Duration,
) -> Result<Connected, Failed> {
    match tokio::time::timeout(limit, over(request, connector)).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(WsError::Http(response))) if response.status() == StatusCode::UNAUTHORIZED => {
            Err(Failed::Unauthorized(WsError::Http(response)))
        }
        Ok(Err(error)) => Err(Failed::Other(redacted(error))),
        Err(_) => Err(Failed::Other(Box::new(Elapsed::new(limit)))),
    }
}

async fn over(request: Request, connector: Option<Connector>) -> Result<Connected, WsError> {
    #[cfg(any(tls_rustls, feature = "native-tls"))]
    return tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector).await;
    // Without TLS, `Connector::Plain` is the only connector there is.
    #[cfg(not(any(tls_rustls, feature = "native-tls")))]
    {
        let _ = connector;
        tokio_tungstenite::connect_async_with_config(request, None, true).await
    }
}
