//! Sorting a token request that got no answer: a refused certificate is permanent, anything
//! else at the transport is transient; no URL survives into the error's text.

use std::error::Error as StdError;

use crate::redact::{causes, redact_urls_in, RedactedError};
use crate::{BoxError, Error};

/// A request that got no answer, sorted: a refused certificate is permanent (no retry
/// changes it); anything else at the transport is transient. Its text keeps no URL.
pub(super) fn failure(error: BoxError) -> Error {
    let message = if causes(&*error).any(|cause| cause.to_string().contains("timed out")) {
        "the token request timed out"
    } else if causes(&*error).any(is_connect) {
        "could not connect to the token endpoint"
    } else {
        "the token request failed"
    };
    failure_with(error, message)
}

/// [`failure`], with `message` for a transient one.
pub(super) fn failure_with(error: impl Into<BoxError>, message: &'static str) -> Error {
    let error = error.into();
    let redacted = RedactedError::new(&*error);
    match certificate_problem(&*error) {
        Some(problem) => Error::untrusted(format!(
            "the token endpoint's TLS certificate was refused ({problem}): if it is signed \
             by a private CA, add that root to the token client's settings"
        ))
        .with_source(redacted),
        None => Error::unavailable(message, None).with_source(redacted),
    }
}

/// What is wrong with the endpoint's certificate, if the failure is a refused certificate
/// (rustls: "invalid peer certificate: UnknownIssuer"; OpenSSL: "certificate verify failed").
fn certificate_problem(error: &(dyn StdError + 'static)) -> Option<String> {
    causes(error)
        .map(|cause| cause.to_string())
        .filter(|text| text.to_ascii_lowercase().contains("certificate"))
        .last()
        .map(|text| redact_urls_in(&text).into_owned())
}

fn is_connect(cause: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind::*;
    cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
        matches!(
            io.kind(),
            ConnectionRefused
                | ConnectionReset
                | ConnectionAborted
                | NotConnected
                | AddrNotAvailable
                | HostUnreachable
                | NetworkUnreachable
        )
    })
}
