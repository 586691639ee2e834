//! The crate's error type.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

mod display;
mod reason;

pub use reason::Reason;

/// The longest `Retry-After` honoured, from a server or a source. A server asking for more (a
/// typo, a broken proxy, a date years ahead) would otherwise hold the failure, and stop all
/// token requests, for as long as it said.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// Why authenticating a request failed.
///
/// The service returned by [`SymblAuthLayer`](crate::SymblAuthLayer) fails with a
/// [`tower::BoxError`](https://docs.rs/tower/latest/tower/type.BoxError.html); auth failures in it
/// are this type, so callers can `downcast_ref::<symbl_auth::Error>()`. It is cheap to clone: one
/// failed token fetch is shared by every request that waited for it.
///
/// No variant, message or source ever contains the app secret or an access token.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
///
/// use http::{Request, Response, StatusCode};
/// use symbl_auth::{BoxError, Error, ReplayBody, SymblAuthLayer};
/// use tower::{service_fn, Layer, ServiceExt};
/// # use symbl_auth::{TokenFuture, TokenSource};
/// # #[derive(Debug)]
/// # struct WrongSecret;
/// # impl TokenSource for WrongSecret {
/// #     fn fetch_token(&self) -> TokenFuture<'_> {
/// #         Box::pin(async { Err(Error::invalid_credentials(StatusCode::UNAUTHORIZED)) })
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// // A token source whose endpoint refuses the credentials.
/// let layer = SymblAuthLayer::from_source(WrongSecret).allow_host("api.example.com").build()?;
/// let api = service_fn(|_: Request<ReplayBody<String>>| async {
///     Ok::<_, Infallible>(Response::new(String::new()))
/// });
///
/// let request = Request::get("https://api.example.com/v1/items").body(String::new())?;
/// let error: BoxError = layer.layer(api).oneshot(request).await.unwrap_err();
/// # assert!(matches!(error.downcast_ref(), Some(Error::InvalidCredentials { .. })));
/// match error.downcast_ref::<Error>() {
///     Some(Error::InvalidCredentials { status, .. }) => eprintln!("fix the credentials ({status})"),
///     Some(other) if other.is_retryable() => eprintln!("the token endpoint is down: {other}"),
///     Some(other) => eprintln!("authentication failed: {other}"),
///     None => eprintln!("the inner service failed: {error}"), // hyper-util's, tonic's error
/// }
/// # Ok(())
/// # }
/// ```
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
        /// How long the endpoint asked us to wait (`Retry-After`), if it said; at most 10
        /// minutes.
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
    /// A secret (the access token, or the credentials of a token request) would have gone
    /// over plain `http://` to a host that is not loopback.
    #[non_exhaustive]
    InsecureTransport {
        /// The host it would have been sent to.
        host: String,
        /// The setting that allows it where the refusal arose, named in the message:
        /// `"SymblAuthLayerBuilder::allow_insecure_http"` for a layer's token URL and the hosts
        /// its token goes to, `"ClientCredentials::allow_insecure_http"` for that source's
        /// token URL (a layer's setting does not reach into its source).
        setting: &'static str,
    },
    /// A credential environment variable is not set: the other half of its pair is, or
    /// neither pair is (then the variable named is `SYMBL_APP_ID`).
    #[non_exhaustive]
    MissingCredentials {
        /// The variable that is missing.
        variable: &'static str,
    },
    /// A credential environment variable is set to a value that is not valid unicode.
    #[non_exhaustive]
    CredentialsNotUnicode {
        /// The variable.
        variable: &'static str,
    },
    /// No credentials in any place [`Credentials::discover`](crate::Credentials::discover)
    /// looks: the environment, `./symbl.conf`, `~/symbl.conf`.
    #[non_exhaustive]
    CredentialsNotFound {
        /// Every place looked in, in order, in words (`"./symbl.conf (/srv/app/symbl.conf)"`).
        searched: Vec<String>,
    },
    /// A credentials file (`symbl.conf`) is there but cannot be used: it cannot be read or is
    /// not a regular file, Python's `configparser` would refuse it, or `app_id` or
    /// `app_secret` in its `[credentials]` section is missing, empty or cannot be interpolated.
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
    /// The token source panicked: a bug in it. Not retried (calling a buggy source again at
    /// once would only panic again); like any failed fetch, the error is shared with every
    /// waiting request and held for the failure cool-down, and the next request after that
    /// calls the source again.
    #[non_exhaustive]
    SourcePanicked {},
    /// No Tokio runtime could run the token fetch: the call was made outside a runtime, the
    /// runtime running the fetch shut down before it finished, or the runtime lacks a driver
    /// a token request needs (timers, `enable_time`; sockets for the built-in client,
    /// `enable_io`), which the reason names.
    ///
    /// Nothing is cached: the next call made inside a running runtime fetches again. (A
    /// missing I/O driver is found by the built-in client once the fetch runs, so through a
    /// layer it is a failed fetch, held for the failure cool-down like any other.)
    #[non_exhaustive]
    NoRuntime {
        /// What happened, in words.
        reason: Reason,
    },
    /// A layer made with [`SymblAuthLayer::keyed`](crate::SymblAuthLayer::keyed) got a
    /// request for an allowed host without a [`CredentialKey`](crate::CredentialKey) in its
    /// extensions: the layer cannot tell whose token it needs, and sends nothing. Permanent.
    #[non_exhaustive]
    MissingCredentialKey {},
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
    /// The layer retries it with backoff within its retry budget, not before `retry_after`,
    /// and holds the failure at least that long.
    ///
    /// `retry_after` is capped at 10 minutes, as a server's `Retry-After` is: a source that
    /// passes on a mistaken delay (days, a date years ahead) must not stop all token requests
    /// for that long.
    pub fn unavailable(
        reason: impl Into<Cow<'static, str>>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self::TokenEndpointUnavailable {
            status: None,
            retry_after: retry_after.map(|delay| delay.min(MAX_RETRY_AFTER)),
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
            | Self::CredentialsNotUnicode { .. }
            | Self::CredentialsNotFound { .. }
            | Self::SourcePanicked {}
            | Self::MissingCredentialKey {} => None,
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
            | Self::CredentialsNotUnicode { .. }
            | Self::CredentialsNotFound { .. }
            | Self::SourcePanicked {}
            | Self::MissingCredentialKey {} => None,
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
    /// timeouts): exactly the errors the layer retries with backoff within its retry budget
    /// (when their `retry_after` ends inside it). Invalid credentials, malformed answers and a
    /// panicking source are not retried: like every failure, they are held for the failure
    /// cool-down, and the next request after it fetches again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::TokenEndpointUnavailable { .. })
    }

    /// How long the token endpoint asked us to wait before asking again, if it said: at most
    /// 10 minutes, however long it asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TokenEndpointUnavailable { retry_after, .. } => *retry_after,
            _ => None,
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
mod tests;
