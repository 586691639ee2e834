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

/// What the answer is read against: how the client authenticated, and whether it asked for a
/// DPoP-bound token.
#[derive(Clone, Copy, Debug)]
pub(super) struct Asked {
    /// The RFC 7591 name of the client authentication method.
    pub(super) method: &'static str,
    /// Whether the request carried a DPoP proof (`ClientCredentials::dpop`).
    pub(super) dpop: bool,
}

impl Default for Asked {
    fn default() -> Self {
        Self {
            method: "client_secret_basic",
            dpop: false,
        }
    }
}

/// What an OAuth2 client's user should check when its credentials are refused, by method.
fn check_client(method: &str) -> String {
    let what = match method {
        "private_key_jwt" => {
            "that the server holds the public key of the client's private key (with the same \
             kid, if one is sent) and accepts its algorithm, and that the client is registered \
             for private_key_jwt"
        }
        "client_secret_jwt" => {
            "the client secret, and that the client is registered for client_secret_jwt with \
             HS256"
        }
        "tls_client_auth" => {
            "the TLS client certificate the token client presents, and that the client is \
             registered for tls_client_auth with that certificate's subject"
        }
        _ => {
            "the client secret, and that the client is registered for the method sent \
             (AuthMethod::ClientSecretBasic by default, AuthMethod::ClientSecretPost for \
             client_secret_post)"
        }
    };
    format!("check the OAuth2 client id and, for {method}, {what}")
}

/// Parses a `2xx` answer (RFC 6749 §5.1), taking any Bearer token the server grants:
///
/// - an `error` code (a non-empty string) makes it a refusal, sorted like the same code under a
///   `400` ([`refusal`]): some servers answer errors with `200`, and x/oauth2 and Authlib read
///   them the same way. `invalid_client` is [`Error::InvalidCredentials`];
///   `temporarily_unavailable` is retried, honouring a `Retry-After` in `headers`.
/// - `token_type` must be Bearer, in any case; absent, `null` or empty it is taken to be
///   Bearer, as x/oauth2 and Authlib take it. Any other type (`mac`) is refused.
/// - `expires_in` is read by [`lifetime`]: a number or a numeric string; 0, `null` or absent is
///   `default_lifetime`; over [`MAX_LIFETIME`](crate::MAX_LIFETIME) it is clamped.
///
/// A DPoP request (`asked.dpop`) wants `token_type` `DPoP` (RFC 9449 §5), and gets a token
/// sent as `Authorization: DPoP`; a Bearer answer to it is refused (the server did not bind
/// the token), as a `DPoP` one is for a Bearer request.
pub(super) fn token(
    headers: &HeaderMap,
    body: &[u8],
    default_lifetime: Duration,
    asked: Asked,
) -> Result<AccessToken, Error> {
    let fields = json_object(body)?;
    if let Some(code) = error_code(&fields) {
        return Err(by_code(StatusCode::OK, headers, code, &fields, asked));
    }
    let token = match fields.get("access_token") {
        Some(Value::String(token)) => token,
        Some(_) => return Err(Error::bad_token_response("access_token is not a string")),
        None => return Err(Error::bad_token_response("access_token is missing")),
    };
    let dpop = match fields.get("token_type") {
        None | Some(Value::Null) => false,
        Some(Value::String(kind)) if kind.trim().is_empty() => false,
        Some(Value::String(kind)) if kind.trim().eq_ignore_ascii_case("bearer") => false,
        Some(Value::String(kind)) if kind.trim().eq_ignore_ascii_case("dpop") => true,
        Some(Value::String(_)) => {
            return Err(Error::bad_token_response(
                "token_type is neither Bearer nor DPoP: this layer sends those only",
            ));
        }
        Some(_) => return Err(Error::bad_token_response("token_type is not a string")),
    };
    match (asked.dpop, dpop) {
        (true, false) => {
            return Err(Error::bad_token_response(
                "token_type is Bearer though a DPoP proof was sent: the authorization server \
                 did not bind the token to the key (does it support DPoP, RFC 9449, for this \
                 client?)",
            ));
        }
        (false, true) => {
            return Err(Error::bad_token_response(
                "token_type is DPoP, but no DPoP key is configured: set ClientCredentials::dpop",
            ));
        }
        _ => {}
    }
    let lifetime = lifetime(fields.get("expires_in"), "expires_in", default_lifetime)?;
    if dpop {
        AccessToken::with_scheme("DPoP", token, lifetime)
    } else {
        AccessToken::new(token, lifetime)
    }
}

/// Whether a refusal's body is RFC 9449 §8's `use_dpop_nonce`.
pub(super) fn asks_for_nonce(body: Option<&[u8]>) -> bool {
    body.and_then(|body| json_object(body).ok())
        .is_some_and(|fields| error_code(&fields) == Some("use_dpop_nonce"))
}

/// The §5.2 `error` code of an answer, if it has a non-empty one.
fn error_code(fields: &Map<String, Value>) -> Option<&str> {
    match fields.get("error") {
        Some(Value::String(code)) if !code.is_empty() => Some(code),
        _ => None,
    }
}

/// Sorts a refusal that is not transient by its §5.2 `error` code, else by its status.
pub(super) fn refusal(
    status: StatusCode,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    asked: Asked,
) -> Error {
    let fields = body.and_then(|body| json_object(body).ok());
    if let Some(fields) = &fields {
        if let Some(code) = error_code(fields) {
            return by_code(status, headers, code, fields, asked);
        }
    }
    match status {
        StatusCode::UNAUTHORIZED => {
            Error::invalid_credentials(status).with_reason(check_client(asked.method))
        }
        _ => Error::rejected(status).with_reason(
            "the answer carries no OAuth2 error code: check that the token URL is the server's \
             token endpoint",
        ),
    }
}

/// Whether the answer's `error_description` speaks of DPoP: read, never quoted.
fn mentions_dpop(fields: &Map<String, Value>) -> bool {
    match fields.get("error_description") {
        Some(Value::String(text)) => text.to_ascii_lowercase().contains("dpop"),
        _ => false,
    }
}

/// The error codes of RFC 6749 (§4.1.2.1, §5.2), RFC 6750 §3.1, RFC 8707 and RFC 9449 §12.2
/// that are quoted in a message. A code outside them is the server's own text, which could
/// echo what it was sent, so it is not.
const KNOWN_CODES: [&str; 15] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "invalid_target",
    "invalid_token",
    "insufficient_scope",
    "invalid_dpop_proof",
    "use_dpop_nonce",
];

/// Sorts an answer with the §5.2 error `code`, whatever its `status`.
fn by_code(
    status: StatusCode,
    headers: &HeaderMap,
    code: &str,
    fields: &Map<String, Value>,
    asked: Asked,
) -> Error {
    match code {
        "invalid_client" => Error::invalid_credentials(status).with_reason(format!(
            "the authorization server did not accept the client (invalid_client): {}",
            check_client(asked.method)
        )),
        // A DPoP-bound client without a proof is refused this way by some servers
        // (oidc-provider): not a credentials problem.
        "invalid_grant" if !asked.dpop && mentions_dpop(fields) => Error::rejected(status)
            .with_reason(
                "the authorization server requires DPoP for this client (invalid_grant): set \
                 ClientCredentials::dpop with the client's DPoP key",
            ),
        "invalid_dpop_proof" => Error::rejected(status).with_reason(
            "the authorization server refused the DPoP proof (invalid_dpop_proof): check that \
             it accepts the key's algorithm (dpop_signing_alg_values_supported) and that this \
             host's clock is right",
        ),
        "use_dpop_nonce" => Error::rejected(status).with_reason(if asked.dpop {
            "the authorization server asked for a DPoP nonce again after the request that \
             carried its nonce (use_dpop_nonce): not retried further"
        } else {
            "the authorization server asks for a DPoP proof with a nonce (use_dpop_nonce): set \
             ClientCredentials::dpop"
        }),
        "unauthorized_client" => Error::invalid_credentials(status).with_reason(
            "the client may not use the client credentials grant (unauthorized_client): allow \
             it for this client on the authorization server",
        ),
        // With the client credentials grant there is no grant of the client's own to be
        // invalid: servers say this when the client's policy is not met, most often a token
        // that must be sender-constrained (oidc-provider hides which, in production).
        "invalid_grant" if !asked.dpop => Error::invalid_credentials(status).with_reason(format!(
            "the authorization server refused the grant (invalid_grant): if the client must \
             get sender-constrained tokens, set ClientCredentials::dpop (DPoP) or give the \
             token client its TLS client certificate (mTLS); else {}",
            check_client(asked.method)
        )),
        "invalid_grant" => Error::invalid_credentials(status).with_reason(format!(
            "the authorization server refused the grant (invalid_grant): {}",
            check_client(asked.method)
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
        code if KNOWN_CODES.contains(&code) => Error::rejected(status).with_reason(format!(
            "the authorization server refused the token request ({code})"
        )),
        // Not quoted: a code outside the RFCs is the server's own text, which could echo
        // what it was sent.
        _ => Error::rejected(status).with_reason(
            "the authorization server answered with an error code that RFC 6749 does not \
             define: see its documentation",
        ),
    }
}
