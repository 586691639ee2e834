//! What a token source hands back, and the trait for sources.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::Error;

/// The longest access token accepted, in bytes. Symbl's are about 1 KiB; anything far larger is
/// a broken answer, not a token to put on every request.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The longest lifetime kept: a token granted for longer (a year, `2147483647`, `1e300` s) is
/// kept for this long and then refreshed, never refused. Symbl grants 86,400 s; RFC 6749 sets
/// no upper limit, and golang.org/x/oauth2 clamps too (to 2^31−1 s). A year is far past any
/// real token, and a server that revokes it sooner is answered by the layer's refresh after a
/// 401.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// An access token and how long it stays valid, as granted by a [`TokenSource`].
///
/// It holds the ready-made `Authorization: Bearer …` header value, marked sensitive, so the hot
/// path only clones it. `Debug` never shows the token.
///
/// A [`TokenSource`] makes one with [`AccessToken::new`];
/// [`SymblAuthLayer::access_token`](crate::SymblAuthLayer::access_token) hands one out.
///
/// ```
/// use std::time::Duration;
/// use symbl_auth::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOiJIUzI1NiJ9.e30.sig", Duration::from_secs(86_400))?;
/// assert_eq!(token.header_value(), "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// assert!(token.header_value().is_sensitive()); // printed as `Sensitive` by http and tracing
/// assert_eq!(token.secret(), "eyJhbGciOiJIUzI1NiJ9.e30.sig");
/// assert_eq!(token.expires_in(), Duration::from_secs(86_400));
/// assert!(!format!("{token:?}").contains("eyJ"));
///
/// // A token that cannot go in a header, or a lifetime of zero, is an error:
/// assert!(AccessToken::new("two words", Duration::from_secs(60)).is_err());
/// assert!(AccessToken::new("t", Duration::ZERO).is_err());
/// # Ok::<(), symbl_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct AccessToken {
    header: HeaderValue,
    expires_in: Duration,
    /// What the token server said is left of its budget, if it said.
    quota: Option<Quota>,
    /// For a token bound to a key (RFC 9449 DPoP): what makes each request's proof.
    binding: Option<Binding>,
}

/// Makes the DPoP proofs (RFC 9449 §4) of a token bound to a key, one per request; made once
/// per token, with what all its proofs share (the JWS header with the public key, `ath`).
pub(crate) trait Prover: fmt::Debug + Send + Sync {
    /// A proof for one request: its `method`, its `htu` (scheme, authority and path; no query,
    /// no fragment, §4.2) and the resource server's latest `nonce` for that origin (§9).
    fn proof(
        &self,
        method: &http::Method,
        htu: &str,
        nonce: Option<&str>,
    ) -> Result<HeaderValue, Error>;
}

/// A token's [`Prover`], shared by every request the token goes with.
pub(crate) type Binding = Arc<dyn Prover>;

/// What a token server says is left of its budget for this client (token requests, or
/// requests of any kind), from the headers of its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(crate) remaining: u64,
    pub(crate) limit: Option<u64>,
}

impl AccessToken {
    /// Checks a token as granted: it must be non-empty and at most [`MAX_TOKEN_LEN`] bytes of
    /// visible ASCII (it goes into a header). The error never quotes the token.
    ///
    /// `expires_in` is how long the token lives from when it was requested. Over
    /// [`MAX_LIFETIME`] it is clamped to it: a usable token is never refused for its lifetime
    /// alone. Zero is refused, as a token that is already expired: when a server grants a
    /// token with a lifetime of 0 or none (RFC 6749 §5.1 makes `expires_in` optional), the
    /// source passes its own default lifetime instead, as the built-in ones do
    /// ([`ClientCredentials::default_lifetime`](crate::oauth2::ClientCredentials::default_lifetime),
    /// [`SymblTokenSource::DEFAULT_LIFETIME`](crate::SymblTokenSource::DEFAULT_LIFETIME)).
    pub fn new(token: &str, expires_in: Duration) -> Result<Self, Error> {
        Self::with_scheme("Bearer", token, expires_in)
    }

    /// The same checks, for a token sent with another `Authorization` scheme: `DPoP` for a
    /// token bound to a key (RFC 9449 §7.1).
    pub(crate) fn with_scheme(
        scheme: &'static str,
        token: &str,
        expires_in: Duration,
    ) -> Result<Self, Error> {
        if token.is_empty() {
            return Err(Error::bad_token_response("the access token is empty"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::bad_token_response(format!(
                "the access token is {} bytes, more than the {MAX_TOKEN_LEN} accepted",
                token.len()
            )));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::bad_token_response(
                "the access token has characters that cannot go in an HTTP header",
            ));
        }
        if expires_in.is_zero() {
            return Err(Error::bad_token_response(
                "the token's lifetime is zero: a source gives a token granted without one its \
                 default lifetime",
            ));
        }
        let expires_in = expires_in.min(MAX_LIFETIME);
        let mut header = HeaderValue::try_from(format!("{scheme} {token}")).map_err(|_| {
            Error::bad_token_response("the access token is not a valid header value")
        })?;
        header.set_sensitive(true);
        Ok(Self::from_header(header, expires_in))
    }

    pub(crate) fn from_header(header: HeaderValue, expires_in: Duration) -> Self {
        Self {
            header,
            expires_in,
            quota: None,
            binding: None,
        }
    }

    /// The same token, bound to a key: each request it goes with gets a proof from `binding`.
    pub(crate) fn bound(mut self, binding: Option<Binding>) -> Self {
        self.binding = binding;
        self
    }

    pub(crate) fn binding(&self) -> Option<&Binding> {
        self.binding.as_ref()
    }

    /// The same token, with what its server said is left of its budget.
    pub(crate) fn with_quota(mut self, quota: Option<Quota>) -> Self {
        self.quota = quota;
        self
    }

    pub(crate) fn quota(&self) -> Option<Quota> {
        self.quota
    }

    /// How long the token is valid. What that is counted from depends on where the token
    /// came from:
    ///
    /// - from [`AccessToken::new`] (what a [`TokenSource`] returns): the lifetime as granted,
    ///   clamped to [`MAX_LIFETIME`]. The layer counts it from the moment the token request
    ///   was sent, on Tokio's clock.
    /// - from [`SymblAuthLayer::access_token`](crate::SymblAuthLayer::access_token): the
    ///   lifetime the token has *left*, counted from the moment `access_token` returned. Asked
    ///   again later for the same cached token, it is shorter. It runs to the token's expiry
    ///   (the layer itself stops using a token shortly before that), and is `Duration::ZERO`
    ///   if the token was replaced by a newer one while it was being handed out.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// The `Authorization` header value, `Bearer <token>` (`DPoP <token>` for a token bound to
    /// a key, RFC 9449), marked sensitive.
    pub fn header_value(&self) -> &HeaderValue {
        &self.header
    }

    /// The token itself, for the rare caller that must hand it on (a CLI printing it for curl).
    pub fn secret(&self) -> &str {
        let value = self.header.to_str().unwrap_or_default();
        value.split_once(' ').map_or("", |(_, token)| token)
    }

    /// The token's type, as the header's scheme: `Bearer`, or `DPoP` for a token bound to a
    /// key ([`ClientCredentials::dpop`](crate::oauth2::ClientCredentials::dpop)), which needs
    /// a DPoP proof with every request (RFC 9449 §7.1).
    pub fn token_type(&self) -> &str {
        let value = self.header.to_str().unwrap_or_default();
        value.split_once(' ').map_or("", |(scheme, _)| scheme)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// The future a [`TokenSource`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

/// Where access tokens come from: one request to a token endpoint.
///
/// The layer calls it with single flight, wraps each call in the per-attempt timeout and retries
/// errors for which [`Error::is_retryable`] is true, with backoff, inside the retry budget. So an
/// implementation makes exactly one attempt and reports what happened with the public
/// constructors:
///
/// - [`Error::invalid_credentials`] when the endpoint rejects the credentials: permanent;
/// - [`Error::unavailable`] for a transient fault (a `5xx`, a `429`, a network error), with the
///   `Retry-After` the server sent: retried, not before it (at most 10 minutes, however long
///   it says);
/// - [`Error::bad_token_response`] (or [`AccessToken::new`]'s error) for an answer that is not
///   a usable token, and [`Error::rejected`] for any other refusal: permanent.
///
/// [`Error::with_reason`] says what to check in words that fit the source. No error may hold
/// the secret or the token. A source that panics fails the fetch with
/// [`Error::SourcePanicked`], which is not retried.
///
/// [`SymblTokenSource`](crate::SymblTokenSource) is the source this crate brings for Symbl;
/// [`SymblAuthLayer::from_source`](crate::SymblAuthLayer::from_source) makes a layer
/// from any source:
///
/// ```
/// use std::time::Duration;
/// use symbl_auth::{AccessToken, Error, SymblAuthLayer, TokenFuture, TokenSource};
///
/// #[derive(Debug)]
/// struct Vault;
///
/// impl TokenSource for Vault {
///     fn fetch_token(&self) -> TokenFuture<'_> {
///         Box::pin(async {
///             let answer: Result<&str, u16> = Ok("token-from-the-vault"); // one request
///             match answer {
///                 Ok(token) => AccessToken::new(token, Duration::from_secs(3600)),
///                 Err(401 | 403) => Err(Error::invalid_credentials(http::StatusCode::UNAUTHORIZED)
///                     .with_reason("check VAULT_ROLE_ID")),
///                 Err(_) => Err(Error::unavailable("the vault is sealed", Some(Duration::from_secs(2)))),
///             }
///         })
///     }
/// }
///
/// let layer = SymblAuthLayer::from_source(Vault).allow_host("api.example.com").build()?;
/// # Ok::<(), Error>(())
/// ```
pub trait TokenSource: fmt::Debug + Send + Sync + 'static {
    /// Makes one request for an access token.
    fn fetch_token(&self) -> TokenFuture<'_>;

    /// What determines this source's tokens, so that processes with the same credential can
    /// share them through a token store (`shared_store`, feature `redis`); `None` (the default)
    /// if its tokens are not to be shared. Two sources with equal keys must be able to use each
    /// other's tokens; any setting that changes what a token grants (URL, client, secret,
    /// scopes, parameters) belongs in it.
    fn cache_key(&self) -> Option<CacheKey> {
        None
    }
}

/// What determines a [`TokenSource`]'s tokens, for sharing them between processes.
///
/// The public parts (token URL, client id, scopes, parameters) and the secret go in whole; a
/// store never sees them. It sees a one-way fingerprint (SHA-256 of the parts and of a hash of
/// the secret) as its key, and tokens sealed under a key derived from the secret (HKDF), so
/// whoever reads the store can neither find the secret nor use or plant a token.
///
/// ```
/// use symbl_auth::CacheKey;
///
/// let key = CacheKey::new("client-secret")
///     .part("token_url", "https://auth.example.com/token")
///     .part("client_id", "my-client")
///     .part("scope", "read write");
/// assert!(!format!("{key:?}").contains("client-secret"));
/// ```
#[derive(Clone)]
pub struct CacheKey {
    /// Length-prefixed `name`, `value` pairs, in the order given.
    parts: Vec<u8>,
    secret: secrecy::SecretSlice<u8>,
    rebind: Option<Rebind>,
}

/// Makes a token read back raw from a fleet's store what its source made (DPoP: bound).
pub(crate) type Rebind = Arc<dyn Fn(AccessToken) -> Result<AccessToken, Error> + Send + Sync>;

impl CacheKey {
    /// A key for a credential whose secret is `secret` (an app secret, a client secret, the
    /// bytes of a private key).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            parts: Vec::new(),
            secret: secret.as_ref().to_vec().into(),
            rebind: None,
        }
    }

    /// Adds a public part that determines the token. The order counts; names keep parts apart
    /// (`("a", "bc")` differs from `("ab", "c")`).
    pub fn part(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        for bytes in [name.as_bytes(), value.as_ref()] {
            self.parts
                .extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            self.parts.extend_from_slice(bytes);
        }
        self
    }

    /// The same key, for a source whose tokens `rebind` makes whole again.
    #[cfg_attr(not(tls_rustls), allow(dead_code))]
    pub(crate) fn with_rebind(mut self, rebind: Rebind) -> Self {
        self.rebind = Some(rebind);
        self
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn rebind(&self) -> Option<&Rebind> {
        self.rebind.as_ref()
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn parts(&self) -> &[u8] {
        &self.parts
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn secret(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.secret.expose_secret()
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn builds_a_sensitive_bearer_header() {
        let token = AccessToken::new("abc.def", HOUR).expect("valid");
        assert_eq!(token.header_value(), "Bearer abc.def");
        assert!(token.header_value().is_sensitive());
        assert_eq!(token.secret(), "abc.def");
    }

    #[test]
    fn rejects_tokens_that_cannot_be_headers() {
        for bad in [
            "",
            "line\nbreak",
            "tab\there",
            "spa ce",
            "caf\u{e9}",
            "nul\0",
        ] {
            let err = AccessToken::new(bad, HOUR).unwrap_err();
            assert!(matches!(err, Error::BadTokenResponse { .. }), "{bad:?}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "error quotes the token");
            }
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(AccessToken::new(&huge, HOUR).is_err());
    }

    #[test]
    fn clamps_long_lifetimes_and_refuses_only_zero() {
        let zero = AccessToken::new("t", Duration::ZERO).unwrap_err();
        assert!(zero.to_string().contains("lifetime is zero"), "{zero}");
        for long in [MAX_LIFETIME, MAX_LIFETIME * 2, Duration::MAX] {
            let token = AccessToken::new("t", long).expect("clamped, not refused");
            assert_eq!(token.expires_in(), MAX_LIFETIME, "{long:?}");
        }
        let short = AccessToken::new("t", Duration::from_millis(1)).expect("kept");
        assert_eq!(short.expires_in(), Duration::from_millis(1));
    }

    #[test]
    fn debug_hides_the_token() {
        let token = AccessToken::new("top-secret-token", HOUR).expect("valid");
        assert!(!format!("{token:?}").contains("top-secret"));
    }
}
