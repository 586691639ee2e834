//! The HTTP side of a token request, shared by the built-in sources ([`SymblTokenSource`] and
//! [`ClientCredentials`]): the client built from the user's settings with the crate's own forced
//! on top, the answer read under a size cap, and the statuses that mean "try again later".
//!
//! [`SymblTokenSource`]: crate::SymblTokenSource
//! [`ClientCredentials`]: crate::oauth2::ClientCredentials

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, StatusCode};

use super::MAX_RESPONSE_BYTES;
use crate::error::Reason;
use crate::Error;

/// The user's changes to the token request's `reqwest` client: a proxy, root certificates.
pub(crate) type Configure =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;

/// The token request's HTTP client: the user's settings, and the client built from them once.
pub(crate) struct TokenClient {
    configure: Option<Configure>,
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

impl TokenClient {
    /// Settings for a client whose every request is limited to `timeout`, connect included.
    pub(crate) fn new(configure: Option<Configure>, timeout: Duration) -> Self {
        Self {
            configure,
            timeout,
            client: OnceLock::new(),
        }
    }

    /// The client, built on first use. A build that fails is returned and not kept: the next
    /// call tries again.
    pub(crate) fn get(&self) -> Result<&reqwest::Client, Error> {
        self.get_with_timeout(self.timeout)
    }

    /// [`get`](Self::get), building with `timeout` (a layer's per-attempt limit) if the client
    /// is not built yet.
    pub(crate) fn get_with_timeout(&self, timeout: Duration) -> Result<&reqwest::Client, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = self.build(timeout)?;
        Ok(self.client.get_or_init(|| client))
    }

    fn build(&self, timeout: Duration) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("symbl-auth/", env!("CARGO_PKG_VERSION")));
        if let Some(configure) = &self.configure {
            builder = configure(builder);
        }
        // Forced after the user's settings, whatever they say: the secret never follows a
        // redirect, no request outlives the limit, and reqwest never logs the bytes it sends.
        // The limit here is a backstop a second past `timeout`: under a layer, the layer's
        // own per-attempt limit (the same `timeout`) ends the attempt first, always with the
        // same error, which names the setting.
        let backstop = timeout.saturating_add(Duration::from_secs(1));
        builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(backstop)
            .timeout(backstop)
            .connection_verbose(false)
            .build()
            .map_err(|err| {
                Error::config("could not build the token request's HTTP client from its settings")
                    .with_source(err.without_url())
            })
    }
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = if self.configure.is_some() {
            "custom"
        } else {
            "default"
        };
        f.debug_struct("TokenClient")
            .field("settings", &settings)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends one token request. A network error is transient, and its text keeps no URL.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
    request.send().await.map_err(network_error)
}

/// The whole body, up to [`MAX_RESPONSE_BYTES`]: a larger one is a broken endpoint, and reading
/// it whole would let it exhaust memory.
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network_error)? {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

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

pub(crate) fn too_large() -> Error {
    Error::bad_token_response(format!(
        "the body is larger than {MAX_RESPONSE_BYTES} bytes"
    ))
}

fn network_error(err: reqwest::Error) -> Error {
    let message = if err.is_timeout() {
        "the token request timed out"
    } else if err.is_connect() {
        "could not connect to the token endpoint"
    } else if err.is_body() || err.is_decode() {
        "the connection failed while reading the token response"
    } else {
        "the token request failed"
    };
    // `without_url` keeps the URL (which may carry userinfo) out of every message.
    Error::unavailable(message, None).with_source(err.without_url())
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

    #[test]
    fn a_failed_build_is_not_kept() {
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&attempts);
        // No TLS version left between the minimum and the maximum: reqwest's build fails.
        let client = TokenClient::new(
            Some(Arc::new(move |builder: reqwest::ClientBuilder| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                builder
                    .tls_version_min(reqwest::tls::Version::TLS_1_3)
                    .tls_version_max(reqwest::tls::Version::TLS_1_2)
            })),
            Duration::from_secs(1),
        );
        for _ in 0..2 {
            let err = client.get().expect_err("no TLS version");
            assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
        }
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
