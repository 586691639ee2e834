//! A [Tower] middleware that authenticates calls to the [Symbl.ai] API.
//!
//! [`SymblAuthLayer`] wraps any HTTP service (a hyper-util client, a tonic channel, a service
//! in an axum app). It fetches an access token from Symbl's token endpoint, caches it, adds
//! `Authorization: Bearer <token>` to each request for Symbl, and on a 401 refreshes the token
//! and sends the request once more.
//!
//! # Example
//!
//! ```no_run
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use symbl_auth::{Credentials, ReplayBody, SymblAuthLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # async fn run() -> Result<(), tower::BoxError> {
//! # let https = hyper_util::client::legacy::connect::HttpConnector::new();
//! // Any connector; for api.symbl.ai use an HTTPS one such as hyper-rustls.
//! let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Full<Bytes>>>(https);
//! let mut symbl = ServiceBuilder::new()
//!     .layer(SymblAuthLayer::new(Credentials::from_env()?))
//!     .service(client);
//!
//! let request = http::Request::get("https://api.symbl.ai/v1/conversations")
//!     .body(Full::new(Bytes::new()))?;
//! let response = symbl.ready().await?.call(request).await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```
//!
//! # What it guarantees
//!
//! - **One fetch at a time.** Concurrent requests on a cold cache share one token request and
//!   its result or error. A caller that gives up never cancels the fetch others wait for.
//! - **Expiry from Symbl's `expiresIn`**, counted on a monotonic clock from when the token was
//!   requested. Within the refresh window one background refresh runs while requests keep
//!   using the valid token; Symbl re-serving the same token does not cause a fetch per request.
//! - **Calm under faults.** `5xx`, `429` and network errors are retried with backoff and
//!   jitter, honouring `Retry-After`, within a budget; bad credentials fail at once with
//!   [`Error::InvalidCredentials`]. A failure is shared and held for a cool-down, so a failing
//!   endpoint sees a bounded request rate. A failed refresh keeps the still-valid token.
//! - **One retry after a 401** (or gRPC `UNAUTHENTICATED`), and only if the request carried
//!   our token. The token is dropped only if it is still the cached one, so a burst of 401s
//!   costs one refresh. Bodies up to the replay limit (64 KiB) are replayed byte for byte;
//!   larger or unfinished bodies get their 401 back.
//! - **The token goes only where it belongs**: the token URL's host and hosts added with
//!   [`SymblAuthLayerBuilder::allow_host`]. Other hosts pass through untouched. A request whose
//!   URI has no authority (tonic's `Channel` adds the origin itself) is taken to go to the
//!   wrapped service's own origin and gets the token. Plain `http://` is refused except to
//!   loopback, unless allowed. A request that has its own `Authorization` is left alone.
//! - **No secret in any `Debug`, `Display`, error or log**; the header is marked sensitive.
//!
//! The service needs a Tokio runtime: fetches run in spawned tasks and timeouts use Tokio time.
//!
//! # Other front ends
//!
//! - `SymblAuthMiddleware` (feature `reqwest-middleware`) brings the same behaviour to
//!   `reqwest_middleware` clients, sharing a layer's token cache.
//! - A tonic `Channel` composes with a one-line body mapping; an axum app keeps one layered
//!   client in its state. The README shows each, and `examples/` runs each.
//! - [`oauth2::ClientCredentials`] fetches tokens from any OAuth2 server (RFC 6749 client
//!   credentials); [`SymblAuthLayer::from_source`] puts it, or any [`TokenSource`], behind the
//!   same layer.
//! - [`SymblAuthLayer::access_token`] hands the token to tools outside the layer;
//!   [`SymblAuthLayer::stats`] counts what the layer did.
//!
//! [Tower]: https://docs.rs/tower
//! [Symbl.ai]: https://symbl.ai
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod credentials;
mod error;
mod future;
mod layer;
pub mod oauth2;
mod redact;
mod replay;
mod scope;
mod service;
mod stats;
mod token;
mod token_endpoint;
mod unauthorized;

#[cfg(feature = "reqwest-middleware")]
mod middleware;

#[cfg(feature = "test-server")]
pub mod test_server;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;

pub use builder::SymblAuthLayerBuilder;
pub use credentials::Credentials;
pub use error::{Error, Reason};
pub use future::ResponseFuture;
pub use layer::SymblAuthLayer;
pub use replay::{ReplayBody, DEFAULT_REPLAY_LIMIT};
pub use service::SymblAuth;
pub use stats::Stats;

#[cfg(feature = "reqwest-middleware")]
pub use middleware::SymblAuthMiddleware;
pub use token::{AccessToken, TokenFuture, TokenSource, MAX_LIFETIME, MAX_TOKEN_LEN};
pub use token_endpoint::{
    SymblTokenSource, DEFAULT_TOKEN_URL, MAX_RESPONSE_BYTES, SYMBL_API_HOSTS,
};

/// The `reqwest` this crate sends token requests with, for the settings passed to
/// [`SymblAuthLayerBuilder::http_client`] and [`oauth2::ClientCredentials::http_client`]
/// (`reqwest::Proxy`, `reqwest::Certificate`) without a second copy of it.
pub use reqwest;

/// The error type of [`SymblAuth`]: the inner service's error or a boxed [`Error`]. The same
/// type as `tower::BoxError`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
