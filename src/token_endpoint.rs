//! The default token source: Symbl's `oauth2/token:generate`, over reqwest.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use http::{header, StatusCode};
use serde_json::Value;

use crate::error::Reason;
use crate::{AccessToken, Credentials, Error, TokenFuture, TokenSource};

/// Symbl's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.symbl.ai/oauth2/token:generate";

/// The hosts that get the token of a layer on Symbl's default token URL: Symbl's API and its
/// labs API, which takes the same token.
pub const SYMBL_API_HOSTS: [&str; 2] = ["api.symbl.ai", "api-labs.symbl.ai"];

/// What a Symbl user should check when the token endpoint rejects the credentials.
const CHECK_CREDENTIALS: &str =
    "check the Symbl app id and secret (SYMBL_APP_ID and SYMBL_APP_SECRET)";

/// The largest token response read. Symbl's is ~1 KiB; a larger body is a broken endpoint, and
/// reading it whole would let it exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Fetches access tokens from Symbl's token endpoint: `POST {"type":"application","appId",
/// "appSecret"}` → `{"accessToken","expiresIn"}`.
///
/// One call is one attempt; the layer adds timeouts, retries and caching. Redirects are not
/// followed (they could carry the secret elsewhere), the body is read up to
/// [`MAX_RESPONSE_BYTES`], and no error ever quotes the body or the URL.
#[derive(Clone)]
pub struct SymblTokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    credentials: Credentials,
    /// Built on first use, so that constructing a layer can never fail or panic.
    client: OnceLock<Result<reqwest::Client, Error>>,
}

impl SymblTokenSource {
    /// A source for `credentials` at `url` (normally [`DEFAULT_TOKEN_URL`]).
    pub fn new(url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            inner: Arc::new(Inner {
                url: url.into(),
                credentials,
                client: OnceLock::new(),
            }),
        }
    }

    /// The token endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    fn client(&self) -> Result<&reqwest::Client, Error> {
        self.inner
            .client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("symbl-auth/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|err| Error::InvalidConfig {
                        reason: Reason::new("could not build the token endpoint's HTTP client")
                            .with_source(err.without_url()),
                    })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn fetch(&self) -> Result<AccessToken, Error> {
        let body = serde_json::json!({
            "type": "application",
            "appId": self.inner.credentials.app_id(),
            "appSecret": self.inner.credentials.app_secret(),
        });
        let mut response = self
            .client()?
            .post(&self.inner.url)
            .header(header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(network_error)?;

        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, response.headers()));
        }
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
        parse_token_response(&bytes)
    }
}

impl TokenSource for SymblTokenSource {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(self.fetch())
    }
}

impl fmt::Debug for SymblTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblTokenSource")
            .field("url", &self.inner.url)
            .field("credentials", &self.inner.credentials)
            .finish()
    }
}

fn too_large() -> Error {
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

/// Sorts a non-2xx answer into permanent and transient failures.
fn status_error(status: StatusCode, headers: &http::HeaderMap) -> Error {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Error::invalid_credentials(status).with_reason(CHECK_CREDENTIALS)
        }
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => unavailable(status, headers),
        status if status.is_server_error() => unavailable(status, headers),
        status => Error::rejected(status),
    }
}

fn unavailable(status: StatusCode, headers: &http::HeaderMap) -> Error {
    Error::TokenEndpointUnavailable {
        status: Some(status),
        retry_after: headers
            .get(header::RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.to_str().ok()?, SystemTime::now())),
        reason: Reason::new(format!("answered {status}")),
    }
}

/// A whole answer held in memory, turned into a token exactly as [`SymblTokenSource`] turns one
/// read from the network: the same status sorting, size limit and parser.
#[cfg(feature = "test-server")]
pub(crate) fn token_from_answer(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<AccessToken, Error> {
    if !status.is_success() {
        return Err(status_error(status, headers));
    }
    if body.len() > MAX_RESPONSE_BYTES {
        return Err(too_large());
    }
    parse_token_response(body)
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

/// Parses `{"accessToken": "...", "expiresIn": 86400}`. Errors name what is wrong but never
/// quote the body: serde's messages can echo input, so they are not passed on.
pub(crate) fn parse_token_response(body: &[u8]) -> Result<AccessToken, Error> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        Error::bad_token_response(format!(
            "the body is not JSON (syntax error at line {} column {})",
            err.line(),
            err.column()
        ))
    })?;
    let Value::Object(fields) = value else {
        return Err(Error::bad_token_response("the body is not a JSON object"));
    };
    let token = match fields.get("accessToken") {
        Some(Value::String(token)) => token,
        Some(_) => return Err(Error::bad_token_response("accessToken is not a string")),
        None => return Err(Error::bad_token_response("accessToken is missing")),
    };
    let expires_in = match fields.get("expiresIn") {
        Some(Value::Number(number)) => seconds(number)?,
        Some(_) => return Err(Error::bad_token_response("expiresIn is not a number")),
        None => return Err(Error::bad_token_response("expiresIn is missing")),
    };
    AccessToken::new(token, expires_in)
}

fn seconds(number: &serde_json::Number) -> Result<Duration, Error> {
    if let Some(whole) = number.as_u64() {
        return Ok(Duration::from_secs(whole));
    }
    match number.as_f64() {
        Some(secs) if secs < 0.0 => Err(Error::bad_token_response("expiresIn is negative")),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .map_err(|_| Error::bad_token_response("expiresIn is out of range")),
        None => Err(Error::bad_token_response("expiresIn is out of range")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_reason(body: &str) -> String {
        match parse_token_response(body.as_bytes()) {
            Err(Error::BadTokenResponse { reason }) => reason.to_string(),
            other => panic!("expected a bad token response for {body}, got {other:?}"),
        }
    }

    #[test]
    fn parses_symbls_answer() {
        let token =
            parse_token_response(br#"{"accessToken":"eyJ.abc","expiresIn":86400}"#).expect("valid");
        assert_eq!(token.secret(), "eyJ.abc");
        assert_eq!(token.expires_in(), Duration::from_secs(86400));
    }

    #[test]
    fn names_each_kind_of_malformed_body() {
        assert!(bad_reason("not json").contains("not JSON"));
        assert!(bad_reason("[1,2]").contains("not a JSON object"));
        assert!(bad_reason(r#"{"expiresIn":5}"#).contains("accessToken is missing"));
        assert!(bad_reason(r#"{"accessToken":5,"expiresIn":5}"#).contains("not a string"));
        assert!(bad_reason(r#"{"accessToken":"t"}"#).contains("expiresIn is missing"));
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":"86400"}"#).contains("not a number"));
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":-5}"#).contains("negative"));
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":0}"#).contains("zero"));
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":1e300}"#).contains("range"));
        assert!(bad_reason(r#"{"accessToken":"t","expiresIn":99999999999}"#).contains("year"));
        assert!(bad_reason(r#"{"accessToken":"","expiresIn":5}"#).contains("empty"));
    }

    #[test]
    fn fractional_lifetimes_are_kept() {
        let token = parse_token_response(br#"{"accessToken":"t","expiresIn":1.5}"#).expect("valid");
        assert_eq!(token.expires_in(), Duration::from_millis(1500));
    }

    #[test]
    fn errors_never_quote_the_body() {
        let secretish = r#"{"accessToken":"line\nbreak-SECRET","expiresIn":5}"#;
        assert!(!bad_reason(secretish).contains("SECRET"));
        let invalid_type = r#"{"accessToken":{"nested":"SECRET"},"expiresIn":5}"#;
        assert!(!bad_reason(invalid_type).contains("SECRET"));
        let truncated = r#"{"accessToken":"SECRET"#;
        assert!(!bad_reason(truncated).contains("SECRET"));
    }

    #[test]
    fn sorts_statuses_into_permanent_and_transient() {
        let headers = http::HeaderMap::new();
        for status in [400, 401, 403] {
            let err = status_error(StatusCode::from_u16(status).unwrap(), &headers);
            assert!(matches!(err, Error::InvalidCredentials { .. }), "{status}");
        }
        for status in [408, 429, 500, 502, 503] {
            let err = status_error(StatusCode::from_u16(status).unwrap(), &headers);
            assert!(err.is_retryable(), "{status}");
        }
        let err = status_error(StatusCode::NOT_FOUND, &headers);
        assert!(matches!(err, Error::TokenEndpointRejected { .. }));
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
