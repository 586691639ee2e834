//! The default token source: Symbl's `oauth2/token:generate`.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::Full;

use crate::attempt::attempt;
use crate::redact::redact_url;
use crate::transport::{self, check_token_url, ClientSettings, TokenClient, TokenService};
use crate::{AccessToken, BoxError, CacheKey, Credentials, Error, TokenFuture, TokenSource};

mod answer;

pub(crate) use answer::parse_token_response;

/// Symbl's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://api.symbl.ai/oauth2/token:generate";

/// The hosts that get the token of a layer on Symbl's default token URL: Symbl's API and its
/// labs API, which takes the same token.
pub const SYMBL_API_HOSTS: [&str; 2] = ["api.symbl.ai", "api-labs.symbl.ai"];

/// What a Symbl user should check when the token endpoint rejects the credentials.
const CHECK_CREDENTIALS: &str =
    "check the Symbl app id and secret (SYMBL_APP_ID and SYMBL_APP_SECRET)";

/// Fetches access tokens from Symbl's token endpoint: `POST {"type":"application","appId",
/// "appSecret"}` → `{"accessToken","expiresIn"}`.
///
/// One call is one attempt; the layer adds timeouts, retries and caching. Redirects are not
/// followed (they could carry the secret elsewhere), the body is read up to
/// [`MAX_RESPONSE_BYTES`](crate::MAX_RESPONSE_BYTES), and no error ever quotes the body or the URL. Used on its own
/// (not under a layer), an attempt is limited to
/// [10 s](crate::SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT) and needs a Tokio
/// runtime ([`Error::NoRuntime`] outside one).
///
/// The request goes through the built-in client (reqwest; see
/// [`http_client`](Self::http_client)) or your own with [`token_client`](Self::token_client).
#[derive(Clone)]
pub struct SymblTokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    credentials: Credentials,
    allow_insecure_http: bool,
    settings: ClientSettings,
    /// The client the settings make, or why they make none (reported by `build`, or by each
    /// fetch for a source used on its own).
    client: Result<TokenClient, Error>,
}

impl SymblTokenSource {
    /// A source for `credentials` at `url` (normally [`DEFAULT_TOKEN_URL`]).
    pub fn new(url: impl Into<String>, credentials: Credentials) -> Self {
        Self::configured(url.into(), credentials, ClientSettings::default(), false)
    }

    pub(crate) fn configured(
        url: String,
        credentials: Credentials,
        settings: ClientSettings,
        allow_insecure_http: bool,
    ) -> Self {
        let client = settings.client(&url);
        Self {
            inner: Arc::new(Inner {
                url,
                credentials,
                allow_insecure_http,
                settings,
                client,
            }),
        }
    }

    fn with_settings(self, change: impl FnOnce(&mut ClientSettings)) -> Self {
        let mut settings = self.inner.settings.clone();
        change(&mut settings);
        Self::configured(
            self.inner.url.clone(),
            self.inner.credentials.clone(),
            settings,
            self.inner.allow_insecure_http,
        )
    }

    /// Allows a plain `http://` token URL to a host that is not loopback. Off by default: the
    /// app secret would cross the network in clear. A fetch (and a layer's `build`) refuses
    /// such a URL without it, with [`Error::InsecureTransport`].
    pub fn allow_insecure_http(self, allow: bool) -> Self {
        Self::configured(
            self.inner.url.clone(),
            self.inner.credentials.clone(),
            self.inner.settings.clone(),
            allow,
        )
    }

    /// Sends the token request through your own `reqwest` settings: `configure` gets the
    /// built-in client's builder and returns it changed (a proxy, root certificates, a local
    /// address). [`SymblAuthLayerBuilder::http_client`](crate::SymblAuthLayerBuilder::http_client)
    /// says what the crate forces over them; the same holds here.
    #[cfg(builtin_client)]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            feature = "rustls",
            feature = "rustls-ring",
            feature = "rustls-no-provider",
            feature = "native-tls"
        )))
    )]
    pub fn http_client<F>(self, configure: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        self.with_settings(|settings| settings.configure = Some(Arc::new(configure)))
    }

    /// Sends the token request through `client`, your own tower HTTP service, in place of the
    /// built-in one. [`SymblAuthLayerBuilder::token_client`](crate::SymblAuthLayerBuilder::token_client)
    /// says what it takes and which rules still apply.
    pub fn token_client<S, ReqBody, ResBody>(self, client: S) -> Self
    where
        S: tower_service::Service<Request<ReqBody>, Response = http::Response<ResBody>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ReqBody: From<Full<Bytes>> + 'static,
        ResBody: http_body::Body + Send + 'static,
        ResBody::Data: Send,
        ResBody::Error: Into<BoxError>,
    {
        self.with_settings(|settings| settings.service = Some(TokenService::new(client)))
    }

    /// The token endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Checks the settings and builds the HTTP client now, so that `build` reports a failure.
    pub(crate) fn prepare(&self) -> Result<(), Error> {
        self.client()?.prepare(&self.inner.url)
    }

    /// The client, once the token URL is found fit to carry the secret.
    fn client(&self) -> Result<&TokenClient, Error> {
        check_token_url(
            &self.inner.url,
            self.inner.allow_insecure_http,
            "SymblTokenSource::allow_insecure_http",
        )?;
        self.inner.client.as_ref().map_err(Clone::clone)
    }

    async fn fetch(&self) -> Result<AccessToken, Error> {
        let client = self.client()?;
        let body = serde_json::json!({
            "type": "application",
            "appId": self.inner.credentials.app_id(),
            "appSecret": self.inner.credentials.app_secret(),
        });
        const JSON: HeaderValue = HeaderValue::from_static("application/json");
        let request = Request::post(self.inner.url.as_str())
            .header(header::ACCEPT, JSON)
            .header(header::CONTENT_TYPE, JSON)
            .body(Bytes::from(body.to_string()))
            .map_err(|_| Error::config("token_url is not a valid URL"))?;
        let answer = client.send(request).await?;
        let status = answer.status();
        if !status.is_success() {
            return Err(status_error(status, answer.headers()));
        }
        let quota = transport::quota(answer.headers());
        Ok(parse_token_response(&transport::read_body(answer).await?)?.with_quota(quota))
    }
}

impl TokenSource for SymblTokenSource {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(attempt(self.fetch()))
    }

    /// The token URL, the app id and the app secret: Symbl's tokens depend on nothing else.
    fn cache_key(&self) -> Option<CacheKey> {
        let credentials = &self.inner.credentials;
        Some(
            CacheKey::new(credentials.app_secret())
                .part("source", "symbl")
                .part("token_url", &self.inner.url)
                .part("app_id", credentials.app_id()),
        )
    }
}

impl fmt::Debug for SymblTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblTokenSource")
            .field("url", &redact_url(&self.inner.url))
            .field("credentials", &self.inner.credentials)
            .field("allow_insecure_http", &self.inner.allow_insecure_http)
            .field("token_client", &self.inner.settings)
            .finish()
    }
}

/// Sorts a non-2xx answer into permanent and transient failures.
fn status_error(status: StatusCode, headers: &http::HeaderMap) -> Error {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Error::invalid_credentials(status).with_reason(CHECK_CREDENTIALS)
        }
        status => {
            transport::answer::transient(status, headers).unwrap_or_else(|| Error::rejected(status))
        }
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
    if body.len() > transport::MAX_RESPONSE_BYTES {
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
