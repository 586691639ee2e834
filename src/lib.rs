//! A [Tower] middleware that authenticates calls to the [Symbl.ai] API.
//!
//! [`SymblAuthLayer`] wraps any HTTP service (a hyper-util client, a tonic channel, a service
//! in an axum app). It fetches an access token from Symbl's token endpoint, caches it, adds
//! `Authorization: Bearer <token>` to each request for Symbl, and on a 401 refreshes the token
//! and sends the request once more. With an OAuth2 source whose tokens are bound to a key
//! (DPoP, [`oauth2::ClientCredentials::dpop`]) each request carries `Authorization: DPoP` and a
//! proof of its own instead.
//!
//! # Example
//!
//! A hyper-util client over HTTPS (hyper-rustls with `rustls-platform-verifier`, on the rustls
//! provider named), with the built-in token client (the default feature `rustls`):
//!
//! ```no_run
//! # #[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "rustls-no-provider", feature = "native-tls"))]
//! # async fn run() -> Result<(), symbl_auth::BoxError> {
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use symbl_auth::{Credentials, ReplayBody, SymblAuthLayer};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let provider = rustls::crypto::aws_lc_rs::default_provider();
//! let https = hyper_rustls::HttpsConnectorBuilder::new()
//!     .with_provider_and_platform_verifier(provider)?
//!     .https_only()
//!     .enable_http1()
//!     .build();
//! // The client's body type is the layer's wrapper around yours.
//! let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Full<Bytes>>>(https);
//! let symbl = ServiceBuilder::new()
//!     .layer(SymblAuthLayer::new(Credentials::from_env()?)) // SYMBL_APP_ID, SYMBL_APP_SECRET
//!     .service(client);
//!
//! let request = http::Request::get("https://api.symbl.ai/v1/conversations")
//!     .body(Full::new(Bytes::new()))?;
//! let response = symbl.oneshot(request).await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! # What it guarantees
//!
//! One fetch at a time per layer, expiry from `expiresIn`, refresh ahead, a calm answer to a
//! failing endpoint, one retry after a 401 with a newer token only (and, for a DPoP token, one
//! more with the resource server's nonce, the token kept), the token only where it belongs, no secret in any output, and a layer that outlives runtimes. Each guarantee, with
//! the test that pins it, is in [`guarantees`] (the crate's `RELIABILITY.md`). The rules for
//! which requests get the token are on [`SymblAuthLayerBuilder::allow_host`]: the allowed
//! hosts, and any request whose URI has no authority (the wrapped service is trusted to send
//! it where you mean).
//!
//! Fetching needs a Tokio runtime (fetches run in spawned tasks, timeouts use Tokio time); a
//! call that needs a fetch outside one fails with [`Error::NoRuntime`]. A cached token needs
//! none.
//!
//! # The token request's HTTP client
//!
//! Token requests go through the built-in client (reqwest, on the TLS that the features
//! `rustls` (default), `rustls-ring`, `rustls-no-provider` or `native-tls` choose), or through
//! your own tower HTTP service with [`SymblAuthLayerBuilder::token_client`], such as the very
//! hyper-util client the layer wraps. With `default-features = false` there is no HTTP client
//! or TLS crate in the tree, and a layer needs `token_client`. The crate never installs a
//! process-level rustls `CryptoProvider`.
//!
//! One client for the token requests and the API calls, under any features:
//!
//! ```no_run
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_rustls::HttpsConnector;
//! use hyper_util::client::legacy::{connect::HttpConnector, Client};
//! use hyper_util::rt::TokioExecutor;
//! use symbl_auth::{Credentials, ReplayBody, SymblAuth, SymblAuthLayer};
//! use tower::ServiceBuilder;
//!
//! type SymblClient = SymblAuth<Client<HttpsConnector<HttpConnector>, ReplayBody<Full<Bytes>>>>;
//!
//! fn symbl_client(https: HttpsConnector<HttpConnector>) -> Result<SymblClient, symbl_auth::Error> {
//!     let client = Client::builder(TokioExecutor::new()).build(https);
//!     let layer = SymblAuthLayer::builder(Credentials::from_env()?)
//!         .token_client(client.clone()) // token requests take the same pool
//!         .build()?;
//!     Ok(ServiceBuilder::new().layer(layer).service(client))
//! }
//! ```
//!
//! # Other front ends
//!
//! - `SymblAuthMiddleware` (feature `reqwest-middleware`) brings the same behaviour to
//!   `reqwest_middleware` clients, sharing a layer's token cache.
//! - A tonic `Channel` composes with a one-line body mapping; an axum app keeps one layered
//!   client in its state. The README shows each, and `examples/` runs each.
//! - `websocket::connect` (feature `websocket`) opens Symbl's streaming WebSocket with the
//!   layer's token.
//! - [`oauth2::ClientCredentials`] fetches tokens from any OAuth2 server (RFC 6749 client
//!   credentials); [`SymblAuthLayer::from_source`] puts it, or any [`TokenSource`], behind the
//!   same layer.
//! - [`SymblAuthLayer::keyed`] holds many credentials in one layer, a token per tenant: each
//!   request names its own with a [`CredentialKey`] in its extensions.
//! - [`SymblAuthLayer::access_token`] hands the token to tools outside the layer;
//!   [`SymblAuthLayer::stats`] counts what the layer did.
//!
//! # How the crate is built
//!
//! Six floors, each using only the floors below it (no module imports one that imports it
//! back; `module-cycles` checks it):
//!
//! 1. **The layer**: the builder, [`SymblAuthLayer`] (whose constructors live beside the
//!    builder), and the front ends that take a layer: `SymblAuthMiddleware`, `websocket`,
//!    and the `test_server`.
//! 2. **The request path**: [`SymblAuth`], its [`ResponseFuture`], the 401 policy
//!    (`unauthorized`) and the resend of a request after a 401 (`resend`).
//! 3. **The host rule and the cache**: which requests get the token (`scope`); single flight,
//!    refresh ahead and cool-downs for any [`TokenSource`] (`cache`), and a bounded map of
//!    such caches, one per key (`cache/keyed.rs`), knowing no source and no transport; the
//!    token store a fleet shares its tokens through (`store`, feature `redis`: the
//!    `TokenStore` trait, `RedisStore`, the fingerprint and the seal).
//! 4. **The token sources**: Symbl's ([`SymblTokenSource`]), OAuth2's
//!    ([`oauth2::ClientCredentials`]) and credentials discovery ([`Credentials`]).
//! 5. **The token request transport**: the built-in client or the app's `token_client`, the
//!    token URL rules, the response cap and reading, the sorting of failures, the token
//!    server's budget headers (`transport`, on `tls`).
//! 6. **The ground**: [`Error`], [`AccessToken`], [`TokenSource`] and its [`CacheKey`],
//!    [`CredentialKey`], who bounds an attempt (`attempt`), which runtime can fetch
//!    (`runtime`), where a secret may travel in clear (`cleartext`), the crypto taken from a
//!    rustls provider (`crypto`: hashes, HMAC, randomness, the store's seal), the little DER
//!    keys need (`der`), redaction, [`Stats`], and the [`ReplayBody`].
//!
//! [Tower]: https://docs.rs/tower
//! [Symbl.ai]: https://symbl.ai
#![cfg_attr(docsrs, feature(doc_cfg))]

// The floors, top to bottom (the crate docs' "How the crate is built"): each module uses only
// the floors below it, never one above.
//
// The layer: the builder, `SymblAuthLayer`, the front ends that take a layer, and tools on top.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
mod builder;
mod layer;
#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware;
#[cfg(feature = "test-server")]
pub mod test_server;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;
// The request path: the service, its future, the 401 policy, the sends after a 401, DPoP
// proofs.
mod dpop;
mod future;
mod resend;
mod retry;
mod service;
mod shared;
mod unauthorized;
// The host rule and the token cache.
mod cache;
mod scope;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod store;
// The token sources.
mod credentials;
pub mod oauth2;
mod symbl;
// The token request transport, and the TLS it (and the WebSocket) is built on.
#[cfg(tls_rustls)]
mod tls;
mod transport;
// The ground.
mod attempt;
mod cleartext;
#[cfg(any(tls_rustls, feature = "redis"))]
mod crypto;
#[cfg(any(tls_rustls, builtin_client))]
mod der;
mod error;
mod key;
mod redact;
mod replay;
mod runtime;
mod stats;
mod token;

/// The README's Rust snippets, as doctests: `cargo test --all-features` compiles each one, and
/// runs those that are not marked `no_run`. Only with the features they use.
#[cfg(all(
    doctest,
    feature = "rustls",
    feature = "test-server",
    feature = "websocket",
    feature = "reqwest-middleware"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// What the layer guarantees, each with the test that pins it.
#[doc = include_str!("../RELIABILITY.md")]
///
/// ---
///
/// This page is the crate's `RELIABILITY.md`; the tests it names are in the crate's package,
/// under `tests/`. The module has no items.
pub mod guarantees {}

pub use builder::SymblAuthLayerBuilder;
pub use credentials::Credentials;
pub use error::{Error, Reason};
pub use future::ResponseFuture;
pub use key::CredentialKey;
pub use layer::SymblAuthLayer;
pub use replay::{ReplayBody, DEFAULT_REPLAY_LIMIT};
pub use service::SymblAuth;
pub use stats::Stats;

#[cfg(feature = "reqwest-middleware")]
pub use self::reqwest_middleware::SymblAuthMiddleware;
pub use symbl::{SymblTokenSource, DEFAULT_TOKEN_URL, SYMBL_API_HOSTS};
pub use token::{AccessToken, CacheKey, TokenFuture, TokenSource, MAX_LIFETIME, MAX_TOKEN_LEN};
pub use transport::MAX_RESPONSE_BYTES;

/// The `reqwest` this crate sends token requests with, for the settings passed to
/// `SymblAuthLayerBuilder::http_client` and `oauth2::ClientCredentials::http_client`
/// (`reqwest::Proxy`, `reqwest::Certificate`) without a second copy of it. Only where a
/// reqwest-backed feature is on.
#[cfg(any(builtin_client, feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "rustls",
        feature = "rustls-ring",
        feature = "rustls-no-provider",
        feature = "native-tls",
        feature = "reqwest-middleware"
    )))
)]
pub use reqwest;

/// The error type of [`SymblAuth`]: the inner service's error or a boxed [`Error`]. The same
/// type as `tower::BoxError`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
