//! Where a layer's token requests go: the built-in client with your settings, or your own.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use super::SymblAuthLayerBuilder;
use crate::transport::TokenService;
use crate::BoxError;
#[cfg(doc)]
use crate::{oauth2::ClientCredentials, Error, SymblAuthLayer};

impl SymblAuthLayerBuilder {
    /// Sends the token request through your own `reqwest` settings (a proxy, root
    /// certificates): `configure` changes the built-in client's builder. Only with a
    /// built-in client (features `rustls`, `rustls-ring`, `rustls-no-provider`,
    /// `native-tls`), and only for [`SymblAuthLayer::builder`]: a source has its own (such as
    /// [`ClientCredentials::http_client`]).
    ///
    /// ```no_run
    /// use symbl_auth::{reqwest, Credentials, SymblAuthLayer};
    ///
    /// let proxy = reqwest::Proxy::https("http://proxy.internal:3128")?;
    /// let roots = reqwest::Certificate::from_pem_bundle(&std::fs::read("corp-roots.pem")?)?;
    /// let layer = SymblAuthLayer::builder(Credentials::new("app-id", "app-secret"))
    ///     .http_client(move |client| client.proxy(proxy.clone()).tls_certs_merge(roots.clone()))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The crate then forces its own settings over yours: no redirects (the secret must not
    /// follow one), no connection logging, no idle connection kept (a kept one dies with the
    /// runtime that opened it, and a token request is rare), and no proxy at all for a token
    /// URL on loopback (the request may be plain http, and need not leave the machine). Each
    /// attempt is
    /// bounded by [`token_request_timeout`](Self::token_request_timeout). `build` builds the
    /// client, so an error in your settings shows there. Without this, reqwest's defaults
    /// apply, which honour `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`.
    ///
    /// Under `rustls-ring` (without `rustls`), reqwest takes the crate's ring config whole,
    /// and ignores the TLS settings made here (roots, versions, a client identity): for
    /// those, pass your own client with [`token_client`](Self::token_client). Setting both
    /// `http_client` and `token_client` is an [`Error::InvalidConfig`] at `build`.
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
    pub fn http_client<F>(mut self, configure: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        self.client.configure = Some(std::sync::Arc::new(configure));
        self
    }

    /// Sends the token requests through `client`, your own tower HTTP service, in place of
    /// the built-in one: the hyper-util `Client` your app already has, with whatever
    /// connector, TLS and proxy it uses. Only for [`SymblAuthLayer::builder`]: a source has
    /// its own (such as [`ClientCredentials::token_client`]). Default: the built-in client,
    /// with one of the features `rustls`, `rustls-ring`, `rustls-no-provider`,
    /// `native-tls`; without them `build` fails unless this is set.
    ///
    /// It takes any `Service<http::Request<B>>` answering `http::Response<impl Body>`, where
    /// `B` can be made from `Full<Bytes>`: `Full<Bytes>` itself, or [`ReplayBody<Full<Bytes>>`],
    /// so that the client the layer wraps can carry the token requests too (one pool). It is
    /// cloned for each request, which is sent once it is ready. A bound on that client
    /// (`ConcurrencyLimit`, `Buffer`) can be shared too: a call that waits for a token holds
    /// none of the bound's capacity.
    ///
    /// ```no_run
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    /// use hyper_rustls::HttpsConnector;
    /// use hyper_util::client::legacy::{connect::HttpConnector, Client};
    /// use hyper_util::rt::TokioExecutor;
    /// use symbl_auth::{Credentials, SymblAuthLayer};
    ///
    /// # fn run(https: HttpsConnector<HttpConnector>) -> Result<(), symbl_auth::Error> {
    /// // Your app's connector: hyper-rustls here, or any other.
    /// let client = Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(https);
    /// let layer = SymblAuthLayer::builder(Credentials::from_env()?)
    ///     .token_client(client)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// The crate's rules hold as with the built-in client: each attempt is bounded by
    /// [`token_request_timeout`](Self::token_request_timeout) and the fetch by the
    /// [`token_retry_budget`](Self::token_retry_budget); the answer is read up to
    /// [`MAX_RESPONSE_BYTES`](crate::MAX_RESPONSE_BYTES); a `3xx` is an error naming the token
    /// URL (a redirect is never followed, so do not put `FollowRedirect` in this client);
    /// failures are sorted as for the built-in client (a refused certificate is permanent,
    /// other transport errors are retried). Your client's errors become the `source()` of the
    /// crate's [`Error`], with any URL in their text redacted. The proxy, if your connector
    /// has one, is yours to scope: the crate cannot see it.
    ///
    /// [`ReplayBody<Full<Bytes>>`]: crate::ReplayBody
    pub fn token_client<S, ReqBody, ResBody>(mut self, client: S) -> Self
    where
        S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
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
        self.client.service = Some(TokenService::new(client));
        self
    }
}
