//! The crate's error type.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// Why authenticating a request with Symbl failed.
///
/// The service returned by [`SymblAuthLayer`](crate::SymblAuthLayer) fails with a
/// [`tower::BoxError`](https://docs.rs/tower/latest/tower/type.BoxError.html); auth failures in it
/// are this type, so callers can `downcast_ref::<symbl_auth::Error>()`. It is cheap to clone: one
/// failed token fetch is shared by every request that waited for it.
///
/// No variant, message or source ever contains the app secret or an access token.
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint rejected the app id and secret (`400`, `401` or `403`).
    ///
    /// Permanent: retrying will not help until the credentials are fixed.
    #[non_exhaustive]
    InvalidCredentials {
        /// The status the token endpoint answered with.
        status: StatusCode,
    },
    /// The token endpoint could not be reached or kept failing (`5xx`, `429`, network error or
    /// timeout) until the retry budget ran out.
    #[non_exhaustive]
    TokenEndpointUnavailable {
        /// The status of the last answer, if there was one.
        status: Option<StatusCode>,
        /// How long the endpoint asked us to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// What went wrong, in words.
        reason: Reason,
    },
    /// The token endpoint answered with a status that no retry will change and that does not
    /// mean bad credentials (such as `404`: the token URL is probably wrong).
    #[non_exhaustive]
    TokenEndpointRejected {
        /// The status the token endpoint answered with.
        status: StatusCode,
    },
    /// The token endpoint answered `200` but the body is not a usable token.
    #[non_exhaustive]
    BadTokenResponse {
        /// What is wrong with it, in words (never the body itself).
        reason: Reason,
    },
    /// The token would have gone over plain `http://` to a host that is not loopback.
    #[non_exhaustive]
    InsecureTransport {
        /// The host the token would have been sent to.
        host: String,
    },
    /// A credential environment variable is not set (or not valid unicode).
    #[non_exhaustive]
    MissingCredentials {
        /// The variable that was looked for first.
        variable: &'static str,
    },
    /// The layer's configuration is not valid.
    #[non_exhaustive]
    InvalidConfig {
        /// What is wrong, in words.
        reason: Reason,
    },
}

/// The words that explain an [`Error`], with the underlying error as its source where there is
/// one (a network error, with any URL stripped).
#[derive(Clone)]
pub struct Reason {
    message: std::borrow::Cow<'static, str>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Reason {
    pub(crate) fn new(message: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

impl Error {
    pub(crate) fn unavailable(reason: Reason) -> Self {
        Self::TokenEndpointUnavailable {
            status: None,
            retry_after: None,
            reason,
        }
    }

    pub(crate) fn bad_response(reason: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::BadTokenResponse {
            reason: Reason::new(reason),
        }
    }

    pub(crate) fn config(reason: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::InvalidConfig {
            reason: Reason::new(reason),
        }
    }

    /// Whether asking the token endpoint again later may succeed (`5xx`, `429`, network faults,
    /// timeouts). Invalid credentials and malformed answers are not retried.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::TokenEndpointUnavailable { .. })
    }

    /// How long the token endpoint asked us to wait before asking again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TokenEndpointUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCredentials { status } => write!(
                f,
                "invalid Symbl credentials (token endpoint answered {status}): \
                 check SYMBL_APP_ID and SYMBL_APP_SECRET"
            ),
            Self::TokenEndpointUnavailable { status, reason, .. } => {
                f.write_str("Symbl token endpoint unavailable: ")?;
                match status {
                    Some(status) => write!(f, "answered {status}"),
                    None => write!(f, "{reason}"),
                }
            }
            Self::TokenEndpointRejected { status } => write!(
                f,
                "Symbl token endpoint rejected the token request with {status}: check the token URL"
            ),
            Self::BadTokenResponse { reason } => {
                write!(f, "bad response from the Symbl token endpoint: {reason}")
            }
            Self::InsecureTransport { host } => write!(
                f,
                "refusing to send a Symbl access token over plain http to {host}: use https, \
                 or opt in with SymblAuthLayerBuilder::allow_insecure_http"
            ),
            Self::MissingCredentials { variable } => write!(
                f,
                "Symbl credentials not found: {variable} is not set \
                 (APP_ID and APP_SECRET, the names Symbl's SDKs use, are read as a fallback)"
            ),
            Self::InvalidConfig { reason } => {
                write!(f, "invalid symbl-auth configuration: {reason}")
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Display text is already free of secrets and more useful than the fields.
        write!(f, "symbl_auth::Error({self})")
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let reason = match self {
            Self::TokenEndpointUnavailable { reason, .. }
            | Self::BadTokenResponse { reason }
            | Self::InvalidConfig { reason } => reason,
            _ => return None,
        };
        reason
            .source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_sync_and_cheap_to_share() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Error>();
    }

    #[test]
    fn messages_say_what_to_do() {
        let err = Error::InvalidCredentials {
            status: StatusCode::UNAUTHORIZED,
        };
        assert!(err.to_string().contains("SYMBL_APP_SECRET"));
        assert!(!err.is_retryable());

        let err = Error::InsecureTransport {
            host: "example.com".into(),
        };
        assert!(err.to_string().contains("allow_insecure_http"));
    }

    #[test]
    fn source_is_the_underlying_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::unavailable(Reason::new("connection failed").with_source(io));
        assert!(err.is_retryable());
        let source = err.source().expect("has a source");
        assert_eq!(source.to_string(), "refused");
    }
}
