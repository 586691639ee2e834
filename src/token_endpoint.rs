//! The default token source: Symbl's `oauth2/token:generate`, over reqwest.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{header, StatusCode};

use crate::redact::redact_url;
use crate::{AccessToken, Credentials, Error, SymblAuthLayerBuilder, TokenFuture, TokenSource};

mod answer;
pub(crate) mod transport;

pub(crate) use answer::{lifetime, parse_token_response};

use transport::{Configure, TokenClient};

/// Symbl's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.symbl.ai/oauth2/token:generate";

/// The hosts that get the token of a layer on Symbl's default token URL: Symbl's API and its
/// labs API, which takes the same token.
pub const SYMBL_API_HOSTS: [&str; 2] = ["api.symbl.ai", "api-labs.symbl.ai"];

/// What a Symbl user should check when the token endpoint rejects the credentials.
const CHECK_CREDENTIALS: &str =
    "check the Symbl app id and secret (SYMBL_APP_ID and SYMBL_APP_SECRET)";

/// The largest token response read, by every built-in source. Symbl's is ~1 KiB, an OAuth2
/// server's rarely more than a few; a larger body is a broken endpoint, and reading it whole
/// would let it exhaust memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Fetches access tokens from Symbl's token endpoint: `POST {"type":"application","appId",
/// "appSecret"}` → `{"accessToken","expiresIn"}`.
///
/// One call is one attempt; the layer adds timeouts, retries and caching. Redirects are not
/// followed (they could carry the secret elsewhere), the body is read up to
/// [`MAX_RESPONSE_BYTES`], and no error ever quotes the body or the URL.
///
/// The request goes through your own HTTP settings (a proxy, root certificates) with
/// [`http_client`](Self::http_client); by default `reqwest`'s, which honour `HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
#[derive(Clone)]
pub struct SymblTokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    credentials: Credentials,
    /// Built on first use (or by the layer's `build`, to report a failure there); a failed
    /// build is not kept.
    client: TokenClient,
}

impl SymblTokenSource {
    /// A source for `credentials` at `url` (normally [`DEFAULT_TOKEN_URL`]).
    pub fn new(url: impl Into<String>, credentials: Credentials) -> Self {
        Self::configured(
            url.into(),
            credentials,
            None,
            SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT,
        )
    }

    pub(crate) fn configured(
        url: String,
        credentials: Credentials,
        configure: Option<Configure>,
        timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                url,
                credentials,
                client: TokenClient::new(configure, timeout),
            }),
        }
    }

    /// Sends the token request through your own `reqwest` settings: `configure` gets the
    /// client builder and returns it changed (a proxy, root certificates, a local address).
    ///
    /// Then the crate forces its own settings over yours: no redirects (the secret must not
    /// follow one), a timeout on each request
    /// ([10 s](SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT); a layer's own
    /// `token_request_timeout` applies as well, and the shorter wins), and no connection
    /// logging. [`SymblAuthLayerBuilder::http_client`] does the same for the source a layer
    /// builds itself, with the layer's timeout.
    pub fn http_client<F>(self, configure: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        Self::configured(
            self.inner.url.clone(),
            self.inner.credentials.clone(),
            Some(Arc::new(configure)),
            SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT,
        )
    }

    /// The token endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Builds the HTTP client now, so that a failure shows where it can be returned.
    pub(crate) fn prepare(&self) -> Result<(), Error> {
        self.inner.client.get().map(drop)
    }

    async fn fetch(&self) -> Result<AccessToken, Error> {
        let body = serde_json::json!({
            "type": "application",
            "appId": self.inner.credentials.app_id(),
            "appSecret": self.inner.credentials.app_secret(),
        });
        let request = self
            .inner
            .client
            .get()?
            .post(&self.inner.url)
            .header(header::ACCEPT, "application/json")
            .json(&body);
        let response = transport::send(request).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, response.headers()));
        }
        parse_token_response(&transport::read_body(response).await?)
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
            .field("url", &redact_url(&self.inner.url))
            .field("credentials", &self.inner.credentials)
            .field("http_client", &self.inner.client)
            .finish()
    }
}

/// Sorts a non-2xx answer into permanent and transient failures.
fn status_error(status: StatusCode, headers: &http::HeaderMap) -> Error {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Error::invalid_credentials(status).with_reason(CHECK_CREDENTIALS)
        }
        status => transport::transient(status, headers).unwrap_or_else(|| Error::rejected(status)),
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
        return Err(transport::too_large());
    }
    parse_token_response(body)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
