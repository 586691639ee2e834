//! The authorization server's answers: a token (RFC 6749 §5.1) or a refusal (§5.2).
//!
//! Errors name what is wrong but never quote the body: serde's messages can echo input, and a
//! server's `error_description` can echo what it was sent, so neither is passed on.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use crate::error::Reason;
use crate::transport::answer::{json_object, lifetime, unavailable};
use crate::{AccessToken, Error};

/// What an OAuth2 client's user should check when its credentials are refused.
const CHECK_CLIENT: &str = "check the OAuth2 client id and secret, and the client \
     authentication method (client_secret_basic by default, AuthMethod::ClientSecretPost for \
     client_secret_post)";

/// Parses a `2xx` answer (RFC 6749 §5.1), taking any Bearer token the server grants:
///
/// - an `error` code (a non-empty string) makes it a refusal, sorted like the same code under a
///   `400` ([`refusal`]): some servers answer errors with `200`, and x/oauth2 and Authlib read
///   them the same way. `invalid_client` is [`Error::InvalidCredentials`];
///   `temporarily_unavailable` is retried, honouring a `Retry-After` in `headers`.
/// - `token_type` must be Bearer, in any case; absent, `null` or empty it is taken to be
///   Bearer, as x/oauth2 and Authlib take it. Any other type (`mac`, `DPoP`) is refused: this
///   layer sends `Authorization: Bearer` only.
/// - `expires_in` is read by [`lifetime`]: a number or a numeric string; 0, `null` or absent is
///   `default_lifetime`; over [`MAX_LIFETIME`](crate::MAX_LIFETIME) it is clamped.
pub(super) fn token(
    headers: &HeaderMap,
    body: &[u8],
    default_lifetime: Duration,
) -> Result<AccessToken, Error> {
    let fields = json_object(body)?;
    if let Some(code) = error_code(&fields) {
        return Err(by_code(StatusCode::OK, headers, code));
    }
    let token = match fields.get("access_token") {
        Some(Value::String(token)) => token,
        Some(_) => return Err(Error::bad_token_response("access_token is not a string")),
        None => return Err(Error::bad_token_response("access_token is missing")),
    };
    match fields.get("token_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind.trim().is_empty() => {}
        Some(Value::String(kind)) if kind.trim().eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(_)) => {
            return Err(Error::bad_token_response(
                "token_type is not Bearer: this layer sends Bearer tokens only",
            ));
        }
        Some(_) => return Err(Error::bad_token_response("token_type is not a string")),
    }
    let lifetime = lifetime(fields.get("expires_in"), "expires_in", default_lifetime)?;
    AccessToken::new(token, lifetime)
}

/// The §5.2 `error` code of an answer, if it has a non-empty one.
fn error_code(fields: &Map<String, Value>) -> Option<&str> {
    match fields.get("error") {
        Some(Value::String(code)) if !code.is_empty() => Some(code),
        _ => None,
    }
}

/// Sorts a refusal that is not transient by its §5.2 `error` code, else by its status.
pub(super) fn refusal(status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) -> Error {
    let fields = body.and_then(|body| json_object(body).ok());
    if let Some(code) = fields.as_ref().and_then(error_code) {
        return by_code(status, headers, code);
    }
    match status {
        StatusCode::UNAUTHORIZED => Error::invalid_credentials(status).with_reason(CHECK_CLIENT),
        _ => Error::rejected(status).with_reason(
            "the answer carries no OAuth2 error code: check that the token URL is the server's \
             token endpoint",
        ),
    }
}

/// Sorts an answer with the §5.2 error `code`, whatever its `status`.
fn by_code(status: StatusCode, headers: &HeaderMap, code: &str) -> Error {
    match code {
        "invalid_client" => Error::invalid_credentials(status).with_reason(format!(
            "the authorization server did not accept the client (invalid_client): {CHECK_CLIENT}"
        )),
        "unauthorized_client" => Error::invalid_credentials(status).with_reason(
            "the client may not use the client credentials grant (unauthorized_client): allow \
             it for this client on the authorization server",
        ),
        "invalid_grant" => Error::invalid_credentials(status).with_reason(format!(
            "the authorization server refused the grant (invalid_grant): {CHECK_CLIENT}"
        )),
        // §4.1.2.1 codes some servers also send from the token endpoint, with a 400.
        "temporarily_unavailable" | "server_error" => Error::TokenEndpointUnavailable {
            status: Some(status),
            retry_after: unavailable(status, headers).retry_after(),
            reason: Reason::new(format!("answered {status} ({code})")),
        },
        "invalid_scope" => Error::rejected(status).with_reason(
            "the authorization server does not grant the scope asked for (invalid_scope): \
             check ClientCredentials::scope",
        ),
        "invalid_request" => Error::rejected(status).with_reason(
            "the authorization server found the token request malformed (invalid_request): \
             check the extra parameters (ClientCredentials::param)",
        ),
        "unsupported_grant_type" => Error::rejected(status).with_reason(
            "the authorization server does not offer the client credentials grant here \
             (unsupported_grant_type): check the token URL",
        ),
        "invalid_target" => Error::rejected(status).with_reason(
            "the authorization server refused the resource or audience asked for \
             (invalid_target): check the extra parameters (ClientCredentials::param)",
        ),
        // Not quoted: a code outside the RFC is the server's own text, which could echo
        // what it was sent.
        _ => Error::rejected(status).with_reason(
            "the authorization server answered with an error code that RFC 6749 does not \
             define: see its documentation",
        ),
    }
}
