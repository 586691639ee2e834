//! What an [`Error`] says: what happened and what to do, never a secret.

use std::fmt;

use super::Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidCredentials { status, reason } => write!(
                f,
                "invalid credentials (the token endpoint answered {status}): {reason}"
            ),
            // The reason names the status where there is one ("answered 503 Service
            // Unavailable", "answered 200 OK (temporarily_unavailable)").
            Self::TokenEndpointUnavailable { reason, .. } => {
                write!(f, "token endpoint unavailable: {reason}")
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
            Self::InsecureTransport { host, setting } => write!(
                f,
                "refusing to send a secret over plain http or ws to {host}: use https (wss for \
                 a WebSocket), or opt in with {setting}(true)"
            ),
            Self::MissingCredentials { variable } => write!(
                f,
                "Symbl credentials not found: {variable} is not set (the id and the secret \
                 are read as a pair: SYMBL_APP_ID with SYMBL_APP_SECRET, or else APP_ID with \
                 APP_SECRET, the names Symbl's SDKs use)"
            ),
            Self::CredentialsNotUnicode { variable } => write!(
                f,
                "cannot take Symbl credentials from the environment: {variable} is set to a \
                 value that is not valid unicode"
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
            Self::SourcePanicked {} => f.write_str(
                "the token source panicked: a bug in it; not retried, and called again after \
                 the failure cool-down",
            ),
            Self::MissingCredentialKey {} => f.write_str(
                "the request names no credential: a keyed layer needs a CredentialKey in the \
                 request's extensions (request.extensions_mut().insert(CredentialKey::new(..)))",
            ),
        }
    }
}
