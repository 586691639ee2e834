//! Reading a token endpoint's answer, shared by the built-in sources ([`SymblTokenSource`] and
//! [`ClientCredentials`]): the body as a JSON object, the statuses that mean "try again
//! later", and the lifetime rule every built-in source reads lifetimes by.
//!
//! [`SymblTokenSource`]: crate::SymblTokenSource
//! [`ClientCredentials`]: crate::oauth2::ClientCredentials

use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, StatusCode};

use serde_json::Value;

use crate::error::{Reason, MAX_RETRY_AFTER};
use crate::{Error, MAX_LIFETIME};

/// A token endpoint's answer as a JSON object, after a UTF-8 byte order mark if there is one
/// (some Windows-hosted servers send it; RFC 8259 §8.1 lets a parser ignore it). The error says
/// where the syntax broke but never quotes the body: serde's messages can echo input, and the
/// body may hold a token.
pub(crate) fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|err| {
        Error::bad_token_response(format!(
            "the body is not JSON (syntax error at line {} column {})",
            err.line(),
            err.column()
        ))
    })?;
    match value {
        serde_json::Value::Object(fields) => Ok(fields),
        _ => Err(Error::bad_token_response("the body is not a JSON object")),
    }
}

/// A status that asking again later may change (`408`, `429`, `5xx`), as a retryable error
/// honouring `Retry-After`; `None` for any other.
pub(crate) fn transient(status: StatusCode, headers: &HeaderMap) -> Option<Error> {
    let transient = matches!(
        status,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
    ) || status.is_server_error();
    transient.then(|| unavailable(status, headers))
}

/// The endpoint answered `status` and cannot serve now.
pub(crate) fn unavailable(status: StatusCode, headers: &HeaderMap) -> Error {
    Error::TokenEndpointUnavailable {
        status: Some(status),
        retry_after: headers
            .get(header::RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.to_str().ok()?, SystemTime::now())),
        reason: Reason::new(format!("answered {status}")),
    }
}

/// `Retry-After` as delay-seconds or as an HTTP date, relative to `now`, at most
/// [`MAX_RETRY_AFTER`].
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let date = httpdate::parse_http_date(value).ok()?;
            date.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// A token's lifetime from the answer's `field` (`expiresIn`, `expires_in`), read as servers
/// send it:
///
/// - a JSON number of seconds, whole or fractional, or a string holding one, surrounding
///   spaces allowed (`"3600"`, `" 3600.0 "`: PayPal and Azure AD v1 send strings);
/// - 0, `null` or no field at all: no lifetime given (RFC 6749 §5.1 makes `expires_in`
///   optional, and golang.org/x/oauth2 and Authlib read 0 as "none given"), so `default`;
/// - longer than [`MAX_LIFETIME`], however long (`2147483647`, `1e300`): clamped to it, as
///   x/oauth2 clamps to 2^31−1 s. A huge finite number is a server saying "long-lived", not
///   garbage.
///
/// Errors, naming the field and never quoting it: a negative number (`-5`, `"-5"`), a string
/// that is not a JSON number (`"soon"`, `"NaN"`, `""`, `"1e999"`, which no finite number
/// holds), and any other JSON type (`true`, `{}`).
///
/// Where golang.org/x/oauth2 (`internal/token.go`) and Authlib differ: x/oauth2 reads only
/// whole numbers (a number or a string), so it refuses `3600.0`, `"3600.0"` and `1e12`, all
/// read here; Authlib takes `int()` of the value, so it truncates `3600.5` and refuses
/// `"3600.0"`, and keeps any length. Both take a negative lifetime as a token that has
/// already expired, which would have the layer ask again at once, on every request: here it
/// is an error, held for the failure cool-down.
pub(crate) fn lifetime(
    value: Option<&Value>,
    field: &str,
    default: Duration,
) -> Result<Duration, Error> {
    let not_a_number = || Error::bad_token_response(format!("{field} is not a number"));
    let number = match value {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(number)) => number.clone(),
        Some(Value::String(text)) => {
            serde_json::from_str::<serde_json::Number>(text.trim()).map_err(|_| not_a_number())?
        }
        Some(_) => return Err(not_a_number()),
    };
    let lifetime = match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => Duration::from_secs(whole),
        (None, Some(secs)) if secs < 0.0 => {
            return Err(Error::bad_token_response(format!("{field} is negative")))
        }
        (None, Some(0.0)) => Duration::ZERO,
        (None, Some(secs)) if secs >= MAX_LIFETIME.as_secs_f64() => MAX_LIFETIME,
        (None, Some(secs)) => Duration::try_from_secs_f64(secs).map_err(|_| not_a_number())?,
        (None, None) => return Err(not_a_number()),
    };
    // Zero, or too small to count in nanoseconds: none given.
    if lifetime.is_zero() {
        return Ok(default);
    }
    Ok(lifetime.min(MAX_LIFETIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_timeouts_throttling_and_server_errors_are_transient() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "7".parse().expect("value"));
        for status in [408, 429, 500, 502, 503, 504] {
            let status = StatusCode::from_u16(status).expect("status");
            let err = transient(status, &headers).expect("transient");
            assert!(err.is_retryable(), "{status}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{status}");
        }
        for status in [400, 401, 403, 404, 410] {
            let status = StatusCode::from_u16(status).expect("status");
            assert!(transient(status, &headers).is_none(), "{status}");
        }
    }

    #[test]
    fn reads_retry_after_in_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after(&u64::MAX.to_string(), now),
            Some(MAX_RETRY_AFTER)
        );
        let years = httpdate::fmt_http_date(now + Duration::from_secs(1 << 32));
        assert_eq!(parse_retry_after(&years, now), Some(MAX_RETRY_AFTER));
    }
}
