//! The authorization server's answers: a token (RFC 6749 §5.1) or a refusal (§5.2).
//!
//! Errors name what is wrong but never quote the body: serde's messages can echo input, and a
//! server's `error_description` can echo what it was sent, so neither is passed on.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::Reason;
use crate::token_endpoint::{seconds, transport};
use crate::{AccessToken, Error, MAX_LIFETIME};

/// What an OAuth2 client's user should check when its credentials are refused.
const CHECK_CLIENT: &str = "check the OAuth2 client id and secret, and the client \
     authentication method (client_secret_basic by default, AuthMethod::ClientSecretPost for \
     client_secret_post)";

/// Parses a successful token response: `access_token`, `token_type` (must be Bearer) and the
/// optional `expires_in`, else `default_lifetime`.
pub(super) fn token(body: &[u8], default_lifetime: Duration) -> Result<AccessToken, Error> {
    let fields = transport::json_object(body)?;
    let token = match fields.get("access_token") {
        Some(Value::String(token)) => token,
        Some(_) => return Err(Error::bad_token_response("access_token is not a string")),
        None => return Err(Error::bad_token_response("access_token is missing")),
    };
    match fields.get("token_type") {
        Some(Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(Value::String(_)) => {
            return Err(Error::bad_token_response(
                "token_type is not Bearer: this layer sends Bearer tokens only",
            ));
        }
        Some(_) => return Err(Error::bad_token_response("token_type is not a string")),
        None => return Err(Error::bad_token_response("token_type is missing")),
    }
    let lifetime = match fields.get("expires_in") {
        None | Some(Value::Null) => default_lifetime,
        Some(Value::Number(number)) => seconds(number, "expires_in")?,
        // Some servers (Azure AD v1 among them) send the number as a string.
        Some(Value::String(text)) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| Error::bad_token_response("expires_in is not a number"))?,
        Some(_) => return Err(Error::bad_token_response("expires_in is not a number")),
    };
    if lifetime.is_zero() {
        return Err(Error::bad_token_response("expires_in is zero"));
    }
    if lifetime >= MAX_LIFETIME {
        return Err(Error::bad_token_response(
            "expires_in is longer than a year",
        ));
    }
    AccessToken::new(token, lifetime)
}

/// Sorts a refusal that is not transient by its §5.2 `error` code, else by its status.
pub(super) fn refusal(status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) -> Error {
    let code = body
        .and_then(|body| transport::json_object(body).ok())
        .and_then(|fields| match fields.get("error") {
            Some(Value::String(code)) => Some(code.clone()),
            _ => None,
        });
    let Some(code) = code else {
        return match status {
            StatusCode::UNAUTHORIZED => {
                Error::invalid_credentials(status).with_reason(CHECK_CLIENT)
            }
            _ => Error::rejected(status).with_reason(
                "the answer carries no OAuth2 error code: check that the token URL is the \
                 server's token endpoint",
            ),
        };
    };
    match code.as_str() {
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
            retry_after: transport::unavailable(status, headers).retry_after(),
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
