//! Reading a token endpoint's answer, shared by the built-in sources ([`SymblTokenSource`] and
//! [`ClientCredentials`]): the body as a JSON object, and the statuses that mean "try again
//! later".
//!
//! [`SymblTokenSource`]: crate::SymblTokenSource
//! [`ClientCredentials`]: crate::oauth2::ClientCredentials

use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, StatusCode};

use crate::error::Reason;
use crate::Error;

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

/// The longest `Retry-After` honoured. A server asking for more (a typo, a broken proxy, a
/// date years ahead) would otherwise hold the failure, and stop all token requests, for as long
/// as it said.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

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
