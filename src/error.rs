//! The crate's error type.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// Why authenticating a request failed.
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
    /// The token endpoint rejected the credentials (for Symbl, `400`, `401` or `403`).
    ///
    /// Permanent: retrying will not help until the credentials are fixed.
    #[non_exhaustive]
    InvalidCredentials {
        /// The status the token endpoint answered with.
        status: StatusCode,
        /// What to check, in words: it fits the source (Symbl's app id and secret, an OAuth2
        /// client's id and secret).
        reason: Reason,
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
        /// What to check, in words (by default the token URL; an OAuth2 source names the
        /// error code the server sent, such as `invalid_scope`).
        reason: Reason,
    },
    /// The token endpoint's TLS certificate was refused (an unknown issuer, an expired or
    /// wrong-name certificate). Permanent: retrying within the budget would not change it; the
    /// layer holds it for the failure cool-down.
    #[non_exhaustive]
    TokenEndpointUntrusted {
        /// The certificate problem, in words, with the TLS error as its source.
        reason: Reason,
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
    /// No credentials in any place [`Credentials::discover`](crate::Credentials::discover)
    /// looks: the environment, `./symbl.conf`, `~/symbl.conf`.
    #[non_exhaustive]
    CredentialsNotFound {
        /// Every place looked in, in order, in words (`"./symbl.conf (/srv/app/symbl.conf)"`).
        searched: Vec<String>,
    },
    /// A credentials file (`symbl.conf`) is there but cannot be used: it cannot be read, it is
    /// not valid INI, or its `[credentials]` section lacks `app_id` or `app_secret`.
    #[non_exhaustive]
    CredentialsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, in words (never a line of the file), with the I/O error as
        /// its source where there is one.
        reason: Reason,
    },
    /// A WebSocket handshake that carried the layer's token was answered `401`, and a second
    /// handshake could not help: it was made with a fresh token and rejected too (`retried`),
    /// or there was no newer token than the rejected one to make it with (`reason` says why).
    #[non_exhaustive]
    HandshakeRejected {
        /// The status of the last answer.
        status: StatusCode,
        /// Whether a second handshake, with a fresh token, was made.
        retried: bool,
        /// Why no second handshake was made, or what to check after two, in words.
        reason: Reason,
    },
    /// The layer's configuration is not valid.
    #[non_exhaustive]
    InvalidConfig {
        /// What is wrong, in words.
        reason: Reason,
    },
    /// No Tokio runtime could run the token fetch: the call was made outside a runtime, or the
    /// runtime running the fetch shut down before it finished.
    ///
    /// Nothing is cached: the next call made inside a running runtime fetches again.
    #[non_exhaustive]
    NoRuntime {
        /// What happened, in words.
        reason: Reason,
    },
}

/// The words that explain an [`Error`], with the underlying error as its source where there is
/// one (a network error, with any URL stripped).
#[derive(Clone)]
pub struct Reason {
    message: Cow<'static, str>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Reason {
    pub(crate) fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
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
    /// The token endpoint rejected the credentials (`status`, such as `401`). Permanent: the
    /// layer does not retry it, and holds it for the failure cool-down.
    ///
    /// For a [`TokenSource`](crate::TokenSource) written outside this crate.
    pub fn invalid_credentials(status: StatusCode) -> Self {
        Self::InvalidCredentials {
            status,
            reason: Reason::new("check the credentials"),
        }
    }

    /// The token endpoint could not answer now (an outage, a `5xx`, a `429`, a network error).
    /// The layer retries it with backoff within its retry budget, not before `retry_after`.
    pub fn unavailable(
        reason: impl Into<Cow<'static, str>>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self::TokenEndpointUnavailable {
            status: None,
            retry_after,
            reason: Reason::new(reason),
        }
    }

    /// The token endpoint answered with a status that no retry will change and that does not
    /// mean bad credentials (a `404`: the token URL is probably wrong). Permanent.
    pub fn rejected(status: StatusCode) -> Self {
        Self::TokenEndpointRejected {
            status,
            reason: Reason::new("check the token URL"),
        }
    }

    /// The token endpoint answered, but not with a usable token. Permanent. The reason must not
    /// quote the answer: it may hold a token.
    pub fn bad_token_response(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::BadTokenResponse {
            reason: Reason::new(reason),
        }
    }

    /// The same error with `reason` in place of its words, for the variants that carry some.
    /// A source uses it to say what to check (`"check OAUTH_CLIENT_SECRET"`).
    pub fn with_reason(mut self, words: impl Into<Cow<'static, str>>) -> Self {
        if let Some(reason) = self.reason_mut() {
            reason.message = words.into();
        }
        self
    }

    /// The same error with `source` as its [`source()`](StdError::source), for the variants
    /// that carry a reason. It must not print a secret (strip URLs from network errors).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        if let Some(reason) = self.reason_mut() {
            reason.source = Some(Arc::new(source));
        }
        self
    }

    /// The words of the variants that carry some.
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::InvalidCredentials { reason, .. }
            | Self::TokenEndpointUnavailable { reason, .. }
            | Self::TokenEndpointRejected { reason, .. }
            | Self::TokenEndpointUntrusted { reason }
            | Self::BadTokenResponse { reason }
            | Self::CredentialsFile { reason, .. }
            | Self::HandshakeRejected { reason, .. }
            | Self::InvalidConfig { reason }
            | Self::NoRuntime { reason } => Some(reason),
            Self::InsecureTransport { .. }
            | Self::MissingCredentials { .. }
            | Self::CredentialsNotFound { .. } => None,
        }
    }

    /// The same, to change.
    fn reason_mut(&mut self) -> Option<&mut Reason> {
        match self {
            Self::InvalidCredentials { reason, .. }
            | Self::TokenEndpointUnavailable { reason, .. }
            | Self::TokenEndpointRejected { reason, .. }
            | Self::TokenEndpointUntrusted { reason }
            | Self::BadTokenResponse { reason }
            | Self::CredentialsFile { reason, .. }
            | Self::HandshakeRejected { reason, .. }
            | Self::InvalidConfig { reason }
            | Self::NoRuntime { reason } => Some(reason),
            Self::InsecureTransport { .. }
            | Self::MissingCredentials { .. }
            | Self::CredentialsNotFound { .. } => None,
        }
    }

    pub(crate) fn credentials_file(
        path: impl Into<PathBuf>,
        reason: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::CredentialsFile {
            path: path.into(),
            reason: Reason::new(reason),
        }
    }

    pub(crate) fn untrusted(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::TokenEndpointUntrusted {
            reason: Reason::new(reason),
        }
    }

    pub(crate) fn config(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidConfig {
            reason: Reason::new(reason),
        }
    }

    #[allow(dead_code, reason = "used by the cache's runtime checks, next")]
    pub(crate) fn no_runtime(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::NoRuntime {
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
            Self::InvalidCredentials { status, reason } => write!(
                f,
                "invalid credentials (the token endpoint answered {status}): {reason}"
            ),
            Self::TokenEndpointUnavailable { status, reason, .. } => {
                f.write_str("token endpoint unavailable: ")?;
                match status {
                    Some(status) => write!(f, "answered {status}"),
                    None => write!(f, "{reason}"),
                }
            }
            Self::TokenEndpointRejected { status, reason } => write!(
                f,
                "the token endpoint rejected the token request with {status}: {reason}"
            ),
            Self::TokenEndpointUntrusted { reason } => {
                write!(f, "the token endpoint is not trusted: {reason}")
            }
            Self::BadTokenResponse { reason } => {
                write!(f, "bad response from the token endpoint: {reason}")
            }
            Self::InsecureTransport { host } => write!(
                f,
                "refusing to send an access token over plain http or ws to {host}: use https \
                 (wss for a WebSocket), or opt in with SymblAuthLayerBuilder::allow_insecure_http"
            ),
            Self::MissingCredentials { variable } => write!(
                f,
                "Symbl credentials not found: {variable} is not set \
                 (APP_ID and APP_SECRET, the names Symbl's SDKs use, are read as a fallback)"
            ),
            Self::CredentialsNotFound { searched } => write!(
                f,
                "Symbl credentials not found; looked in: {}",
                searched.join(", ")
            ),
            Self::CredentialsFile { path, reason } => write!(
                f,
                "cannot take Symbl credentials from {}: {reason}",
                path.display()
            ),
            Self::HandshakeRejected {
                status,
                retried: true,
                reason,
            } => write!(
                f,
                "the WebSocket handshake was rejected with {status} twice, with the cached \
                 token and with a fresh one: {reason}"
            ),
            Self::HandshakeRejected {
                status,
                retried: false,
                reason,
            } => write!(
                f,
                "the WebSocket handshake was rejected with {status}, and not made again: \
                 {reason}"
            ),
            Self::InvalidConfig { reason } => {
                write!(f, "invalid symbl-auth configuration: {reason}")
            }
            Self::NoRuntime { reason } => {
                write!(f, "no Tokio runtime for the token fetch: {reason}")
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
        let source = self.reason()?.source.as_deref()?;
        Some(source as &(dyn StdError + 'static))
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
        let err = Error::invalid_credentials(StatusCode::UNAUTHORIZED)
            .with_reason("check SYMBL_APP_ID and SYMBL_APP_SECRET");
        assert!(err.to_string().contains("SYMBL_APP_SECRET"));
        assert!(!err.is_retryable());
        let generic = Error::invalid_credentials(StatusCode::UNAUTHORIZED).to_string();
        assert!(!generic.contains("SYMBL"), "{generic}");

        let err = Error::InsecureTransport {
            host: "example.com".into(),
        };
        assert!(err.to_string().contains("allow_insecure_http"));
    }

    #[test]
    fn source_is_the_underlying_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::unavailable("connection failed", None).with_source(io);
        assert!(err.is_retryable());
        let source = err.source().expect("has a source");
        assert_eq!(source.to_string(), "refused");
    }
}
