//! OAuth 2.0 client credentials ([RFC 6749 §4.4]): tokens from any OAuth2 authorization server,
//! behind the same layer as Symbl's.
//!
//! [`ClientCredentials`] is a [`TokenSource`]; [`SymblAuthLayer::from_source`] adds the cache,
//! single flight, refresh ahead and the retry after a 401. The token goes to the hosts named
//! with [`allow_host`](crate::SymblAuthLayerBuilder::allow_host), and to requests whose URI
//! has no authority (its rule 2).
//!
//! With the built-in token client (the default feature `rustls`, or another TLS feature):
//!
//! ```
//! # #[cfg(any(feature = "rustls", feature = "rustls-ring", feature = "rustls-no-provider", feature = "native-tls"))]
//! # fn main() -> Result<(), symbl_auth::Error> {
//! use symbl_auth::oauth2::ClientCredentials;
//! use symbl_auth::SymblAuthLayer;
//!
//! let source = ClientCredentials::new("https://auth.example.com/oauth2/token", "my-client", "my-secret")
//!     .scope("read write")
//!     .param("audience", "https://api.example.com");
//! let layer = SymblAuthLayer::from_source(source)
//!     .allow_host("api.example.com")
//!     .build()?;
//! # Ok(())
//! # }
//! # #[cfg(not(any(feature = "rustls", feature = "rustls-ring", feature = "rustls-no-provider", feature = "native-tls")))]
//! # fn main() {}
//! ```
//!
//! Without one (`default-features = false`), give the source your own tower HTTP client with
//! [`ClientCredentials::token_client`].
//!
//! Conformance is tested against Authlib's authorization server (`tests/oauth2_conformance.rs`),
//! and the security profiles ([`PrivateKey`], [`AuthMethod`]'s JWT and mTLS methods,
//! [`ClientCredentials::dpop`], [`ClientCredentials::from_issuer`]) against oidc-provider
//! (`tests/oidc_conformance.rs`).
//!
//! [RFC 6749 §4.4]: https://www.rfc-editor.org/rfc/rfc6749#section-4.4
//! [`SymblAuthLayer::from_source`]: crate::SymblAuthLayer::from_source

mod answer;
mod assertion;
mod discovery;
mod dpop;
mod fetch;
mod form;
mod jose;
mod key;
mod mtls;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use secrecy::SecretString;

use crate::redact::redact_url;
use crate::transport::{ClientSettings, TokenClient, TokenService};
use crate::BoxError;
#[cfg(doc)]
use crate::{AccessToken, Error, TokenSource};

pub use self::assertion::{AssertionRequest, ClientAssertion};
pub use self::key::PrivateKey;
#[cfg(builtin_client)]
pub use crate::transport::ClientIdentity;

/// How the client proves its identity to the token endpoint ([RFC 6749 §2.3]); the names are
/// the `token_endpoint_auth_method` values of RFC 7591 (see [`name`](Self::name)).
///
/// The methods that send a JWT (`PrivateKeyJwt`, `ClientSecretJwt`, `ClientAssertion`) send a
/// new one with every token request, retries included, so a server that refuses a replayed
/// `jti` never sees one twice.
///
/// [RFC 6749 §2.3]: https://www.rfc-editor.org/rfc/rfc6749#section-2.3
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_secret_basic`: HTTP Basic, with the id and the secret each form-urlencoded
    /// before Base64, as §2.3.1 says. Every server must support it; the default.
    #[default]
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `private_key_jwt` ([RFC 7523 §2.2]): a JWT signed with the client's private key; the
    /// server holds only the public key, and no secret is sent (the client secret may be `""`).
    /// Claims: `iss` = `sub` = the client id, `aud` = the token URL, a random `jti`, `iat` now
    /// and `exp` a minute ahead.
    ///
    /// [RFC 7523 §2.2]: https://www.rfc-editor.org/rfc/rfc7523#section-2.2
    PrivateKeyJwt(PrivateKey),
    /// `client_secret_jwt`: the same JWT, signed with HS256 under the client secret, so the
    /// secret itself never crosses the wire. RFC 7518 §3.2 asks for a secret of 32 bytes or
    /// more.
    ClientSecretJwt,
    /// A JWT assertion made outside the process (a projected Kubernetes token, a KMS), sent as
    /// `private_key_jwt` is: see [`ClientAssertion`].
    ClientAssertion(ClientAssertion),
    /// `tls_client_auth` ([RFC 8705 §2]): the TLS client certificate of the token client
    /// authenticates; only `client_id` is sent. The certificate is the built-in client's
    /// [`client_identity`](ClientCredentials::client_identity), or your own
    /// [`token_client`](ClientCredentials::token_client)'s; with none, `build` fails.
    ///
    /// [RFC 8705 §2]: https://www.rfc-editor.org/rfc/rfc8705#section-2
    TlsClientAuth,
}

impl AuthMethod {
    /// The method's RFC 7591 name, as servers list them in
    /// `token_endpoint_auth_methods_supported`: `client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt` (also for [`ClientAssertion`](Self::ClientAssertion)),
    /// `client_secret_jwt` or `tls_client_auth`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt(_) | Self::ClientAssertion(_) => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::TlsClientAuth => "tls_client_auth",
        }
    }
}

/// How a [`ClientCredentials`] authenticates and binds its tokens.
#[derive(Clone, Default)]
struct Profile {
    auth_method: AuthMethod,
    /// The key DPoP proofs are signed with (RFC 9449), if tokens are to be bound to one.
    dpop: Option<PrivateKey>,
    /// The token server's latest DPoP nonce (§8), shared by clones.
    token_nonce: dpop::Nonce,
    /// For [`ClientCredentials::from_issuer`]: the issuer's metadata, read at the first fetch
    /// and shared by clones. `token_url` is then the issuer.
    discovery: Option<Arc<discovery::Discovery>>,
}

/// A [`TokenSource`] for the OAuth 2.0 client credentials grant ([RFC 6749 §4.4]).
///
/// Each fetch posts `grant_type=client_credentials` (with the scope and extra parameters) to
/// the token URL, authenticated as [`auth_method`](Self::auth_method) says (a secret, a signed
/// assertion, or the TLS client certificate), and expects a `Bearer` `access_token` (a `DPoP`
/// one with [`dpop`](Self::dpop)). See the [module documentation](self) for an example, and the
/// README's "OAuth2 security profiles" for each method.
///
/// Any token the server grants is used (§5.1), read as golang.org/x/oauth2 and Authlib read
/// it, and more liberally where they would refuse a usable token:
/// - `expires_in` is optional in RFC 6749: without it, or `null`, or 0, the token is taken to
///   live [`DEFAULT_LIFETIME`](Self::DEFAULT_LIFETIME) (see
///   [`default_lifetime`](Self::default_lifetime)); if the server revokes it sooner, the
///   layer's retry after a 401 fetches a new one. A numeric string (`"3600"`, `"3600.0"`) is
///   read as the number; a lifetime over [`MAX_LIFETIME`](crate::MAX_LIFETIME) is clamped to
///   it; a negative or non-numeric one is [`Error::BadTokenResponse`].
/// - `token_type` must be `Bearer` (in any case); absent, `null` or empty, it is taken to be
///   Bearer. With [`dpop`](Self::dpop) it must be `DPoP` instead; another type (`mac`) is
///   refused.
/// - A UTF-8 byte order mark before the JSON is skipped.
/// - Errors (§5.2): `invalid_client`, `unauthorized_client` and `invalid_grant` are
///   [`Error::InvalidCredentials`], saying what to check for the method in use; `5xx`, `429` and `temporarily_unavailable` are retried,
///   honouring `Retry-After`; other refusals are [`Error::TokenEndpointRejected`] naming the
///   error code; a body that is not a usable token is [`Error::BadTokenResponse`]. An error
///   object in a `200` is read like the same one under a `400`.
///
/// The README's table "What token endpoints may send" lists each case.
/// - The same limits as [`SymblTokenSource`](crate::SymblTokenSource): the body is read up to
///   [`MAX_RESPONSE_BYTES`](crate::MAX_RESPONSE_BYTES), redirects are never followed, and no
///   error, log or `Debug` shows the secret or a token. Used on its own (not under a layer),
///   an attempt is limited to 10 s and needs a Tokio runtime ([`Error::NoRuntime`] outside
///   one).
/// - The request goes through the built-in client ([`http_client`](Self::http_client)) or your
///   own ([`token_client`](Self::token_client)).
/// - The token URL must be `https`, or `http` to a loopback host (unless
///   [`allow_insecure_http`](Self::allow_insecure_http)).
///
/// Settings are checked, and the HTTP client built, by the layer's `build` (or by the first
/// fetch, for a source used on its own); a failed build is not kept.
///
/// [RFC 6749 §4.4]: https://www.rfc-editor.org/rfc/rfc6749#section-4.4
#[derive(Clone)]
pub struct ClientCredentials {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    params: Vec<(String, String)>,
    /// How the client authenticates and binds its tokens (boxed: builders hold sources by value).
    profile: Box<Profile>,
    default_lifetime: Duration,
    allow_insecure_http: bool,
    settings: ClientSettings,
    /// The client made from `settings`, shared by clones, so that a layer's `build` prepares
    /// the client its copy will use. A fresh one whenever the settings change.
    client: Arc<OnceLock<TokenClient>>,
}

impl ClientCredentials {
    /// The lifetime assumed when the server sends no `expires_in` (or `null`, or 0): one hour,
    /// the most common default among authorization servers.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);

    /// A client `client_id` with `client_secret`, asking `token_url` for tokens.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            scope: None,
            params: Vec::new(),
            profile: Box::default(),
            default_lifetime: Self::DEFAULT_LIFETIME,
            allow_insecure_http: false,
            settings: ClientSettings::default(),
            client: Arc::default(),
        }
    }

    /// A client of the authorization server `issuer` (such as `https://auth.example.com` or
    /// `https://login.example.com/tenant-1`), whose token endpoint is read from its metadata:
    /// `/.well-known/oauth-authorization-server` ([RFC 8414]), else
    /// `/.well-known/openid-configuration` ([OpenID Connect Discovery]).
    ///
    /// The metadata is read at the first fetch (so a layer still builds without the network),
    /// kept, and read again after a token request that suggests the endpoint moved (`404`,
    /// `405`, `410`, or no answer). Before any token request it is checked:
    /// - its `issuer` must be `issuer` exactly (RFC 8414 §3.3), else [`Error::InvalidConfig`]:
    ///   a document that names another issuer may be another server's;
    /// - the token endpoint follows the same rules as a token URL (`https`, or `http` to
    ///   loopback); a [`TlsClientAuth`](AuthMethod::TlsClientAuth) client, or one with a
    ///   `client_identity`, uses `mtls_endpoint_aliases.token_endpoint` when there is one
    ///   (RFC 8705 §5);
    /// - the server must list the client's method in `token_endpoint_auth_methods_supported`
    ///   (absent: `client_secret_basic` only, §2), its key's algorithm in
    ///   `token_endpoint_auth_signing_alg_values_supported` and the DPoP key's in
    ///   `dpop_signing_alg_values_supported` (when listed), else [`Error::InvalidConfig`]
    ///   naming the method or algorithm.
    ///
    /// [RFC 8414]: https://www.rfc-editor.org/rfc/rfc8414
    /// [OpenID Connect Discovery]: https://openid.net/specs/openid-connect-discovery-1_0.html
    pub fn from_issuer(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let issuer = issuer.into();
        let mut source = Self::new(issuer.clone(), client_id, client_secret);
        source.profile.discovery = Some(Arc::new(discovery::Discovery::new(issuer)));
        source
    }

    /// The scope to ask for: space-separated values, such as `"read write"` (§3.3). None by
    /// default, leaving the server's default scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// An extra form parameter for the token request, such as `audience` or `resource`
    /// (RFC 8707). The names the grant itself uses (`grant_type`, `scope`, `client_id`,
    /// `client_secret`) are refused when the settings are checked.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// How the client authenticates: [`AuthMethod::ClientSecretBasic`] (the default) or
    /// [`AuthMethod::ClientSecretPost`].
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.profile.auth_method = method;
        self
    }

    /// Binds the tokens to `key` with DPoP ([RFC 9449]): every token request carries a proof
    /// signed with it (`typ` `dpop+jwt`, the public `jwk`, `htm`, `htu`, `iat`, `jti`), and
    /// the server's answer must be a `DPoP` token ([`AccessToken::token_type`]). When the
    /// server asks for a nonce (`400 use_dpop_nonce` with `DPoP-Nonce`, §8), the request is
    /// made once more with it and with a fresh client assertion; the nonce is kept for the
    /// next requests.
    ///
    /// A token bound to a key is useless to whoever steals it without the key. Through the
    /// layer each API request gets `Authorization: DPoP <token>` and a fresh proof (§7), with
    /// the resource server's nonce when it asks (§9; requests without an origin:
    /// [`dpop_origin`](crate::SymblAuthLayerBuilder::dpop_origin)). To send the token
    /// yourself, make each proof with [`PrivateKey::dpop_proof`].
    ///
    /// [RFC 9449]: https://www.rfc-editor.org/rfc/rfc9449
    pub fn dpop(mut self, key: PrivateKey) -> Self {
        self.profile.dpop = Some(key);
        self
    }

    /// The lifetime assumed for a token granted without `expires_in`, or with `null` or 0
    /// (default [one hour](Self::DEFAULT_LIFETIME)); set it to what your server documents.
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Allows a plain `http://` token URL to a host that is not loopback. Off by default: the
    /// secret would cross the network in clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sends the token request through your own `reqwest` settings: `configure` changes the
    /// built-in client's builder (a proxy, root certificates; a certificate: `client_identity`).
    ///
    /// ```
    /// use symbl_auth::{oauth2::ClientCredentials, reqwest};
    ///
    /// let proxy = reqwest::Proxy::https("http://proxy.internal:3128")?;
    /// let source = ClientCredentials::new("https://auth.example.com/token", "id", "secret")
    ///     .http_client(move |client| client.proxy(proxy.clone()));
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    ///
    /// [`SymblAuthLayerBuilder::http_client`](crate::SymblAuthLayerBuilder::http_client) says
    /// what the crate forces over your settings; the same holds here.
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
        self.settings.configure = Some(Arc::new(configure));
        self.client = Arc::default();
        self
    }

    /// Sends the token request through `client`, your own tower HTTP service (such as the
    /// hyper-util `Client` your app already has), in place of the built-in one.
    /// [`SymblAuthLayerBuilder::token_client`](crate::SymblAuthLayerBuilder::token_client)
    /// says what it takes and which rules still apply.
    pub fn token_client<S, ReqBody, ResBody>(mut self, client: S) -> Self
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
        self.settings.service = Some(TokenService::new(client));
        self.client = Arc::default();
        self
    }

    /// The token endpoint URL (for [`from_issuer`](Self::from_issuer), the issuer).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The client id (not a secret).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameter values stay out: some carry credentials of their own.
        let params: Vec<&str> = self.params.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ClientCredentials")
            .field("token_url", &redact_url(&self.token_url))
            .field("from_issuer", &self.profile.discovery.is_some())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scope", &self.scope)
            .field("params", &params)
            .field("auth_method", &self.profile.auth_method)
            .field("dpop", &self.profile.dpop)
            .field("default_lifetime", &self.default_lifetime)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("token_client", &self.settings)
            .finish()
    }
}

#[cfg(test)]
mod tests;
