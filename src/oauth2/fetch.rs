//! One token request of a [`ClientCredentials`]: the settings checked, the request made and
//! authenticated as configured (RFC 6749 §2.3, RFC 7523, RFC 8705, RFC 9449), discovery
//! followed, and the answer read; and what determines the token (`cache_key`).

use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderValue, Request};
use secrecy::ExposeSecret;

use super::form::{encode, Form};
use super::{answer, assertion, AuthMethod, ClientCredentials, PrivateKey};
use crate::attempt::attempt;
use crate::transport::{self, check_token_url, TokenClient};
use crate::{AccessToken, CacheKey, Error, TokenFuture, TokenSource};

impl ClientCredentials {
    /// Checks the settings and builds the HTTP client, so that `build` reports what is wrong.
    pub(crate) fn prepare(&self) -> Result<(), Error> {
        self.check()?;
        self.client()?.prepare(&self.token_url)
    }

    /// The client the settings make, made once for this source and its clones.
    pub(super) fn client(&self) -> Result<&TokenClient, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = self.settings.client(&self.token_url)?;
        Ok(self.client.get_or_init(|| client))
    }

    pub(super) fn check(&self) -> Result<(), Error> {
        check_token_url(
            &self.token_url,
            self.allow_insecure_http,
            "ClientCredentials::allow_insecure_http",
        )?;
        const RESERVED: [&str; 6] = [
            "grant_type",
            "scope",
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
        ];
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(name, _)| RESERVED.contains(&name.as_str()))
        {
            return Err(Error::config(format!(
                "the token request sets {name} itself: it cannot be an extra parameter"
            )));
        }
        self.check_certificate()?;
        if self.default_lifetime.is_zero() {
            return Err(Error::config("default_lifetime must be above zero"));
        }
        Ok(())
    }

    /// The token request (§4.4.2), authenticated as configured (§2.3), with a fresh assertion
    /// for the JWT methods.
    pub(super) async fn request(&self, token_url: &str) -> Result<Request<Bytes>, Error> {
        let mut form = Form::default();
        form.pair("grant_type", "client_credentials");
        if let Some(scope) = &self.scope {
            form.pair("scope", scope);
        }
        for (name, value) in &self.params {
            form.pair(name, value);
        }
        let mut request = Request::post(token_url)
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        let secret = self.client_secret.expose_secret();
        let audience = token_url;
        let assertion = match &self.profile.auth_method {
            AuthMethod::ClientSecretBasic => {
                let pair = format!("{}:{}", encode(&self.client_id), encode(secret));
                let basic = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                let mut value = HeaderValue::try_from(basic)
                    .map_err(|_| Error::config("the client id cannot be sent in a header"))?;
                value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, value);
                None
            }
            AuthMethod::ClientSecretPost => {
                form.pair("client_id", &self.client_id);
                form.pair("client_secret", secret);
                None
            }
            AuthMethod::TlsClientAuth => {
                form.pair("client_id", &self.client_id);
                None
            }
            AuthMethod::PrivateKeyJwt(key) => {
                Some(assertion::signed(key, &self.client_id, audience)?)
            }
            AuthMethod::ClientSecretJwt => {
                Some(assertion::hmac(secret, &self.client_id, audience)?)
            }
            AuthMethod::ClientAssertion(outside) => {
                Some(outside.make(&self.client_id, audience).await?)
            }
        };
        if let Some(assertion) = assertion {
            // RFC 7521 §4.2: client_id is optional beside an assertion; sent, as some servers
            // (Azure AD) want it.
            form.pair("client_id", &self.client_id);
            form.pair("client_assertion_type", assertion::JWT_BEARER);
            form.pair("client_assertion", &assertion);
        }
        request
            .body(Bytes::from(form.0))
            .map_err(|_| Error::config("token_url is not a valid URL"))
    }

    /// What the answer is read against.
    pub(super) fn asked(&self) -> answer::Asked {
        answer::Asked {
            method: self.profile.auth_method.name(),
            dpop: self.profile.dpop.is_some(),
        }
    }

    /// The token request with its DPoP proof, if the source has a key.
    pub(super) async fn signed_request(&self, token_url: &str) -> Result<Request<Bytes>, Error> {
        #[cfg_attr(not(tls_rustls), allow(unused_mut))]
        let mut request = self.request(token_url).await?;
        if let Some(key) = &self.profile.dpop {
            #[cfg(tls_rustls)]
            {
                let nonce = self.profile.token_nonce.get();
                let proof = key.proof("POST", token_url, None, nonce.as_deref())?;
                let mut value = HeaderValue::try_from(proof)
                    .map_err(|_| Error::config("the DPoP proof is not a valid header value"))?;
                value.set_sensitive(true);
                request.headers_mut().insert(super::dpop::DPOP, value);
            }
            #[cfg(not(tls_rustls))]
            match key.inner {}
        }
        Ok(request)
    }

    pub(super) async fn fetch(&self) -> Result<AccessToken, Error> {
        self.check()?;
        let client = self.client()?;
        let Some(discovery) = &self.profile.discovery else {
            return self.fetch_from(client, &self.token_url).await;
        };
        let metadata = discovery.metadata(client, self.allow_insecure_http).await?;
        let signing_alg = match &self.profile.auth_method {
            AuthMethod::PrivateKeyJwt(key) => Some(key.algorithm()),
            AuthMethod::ClientSecretJwt => Some("HS256"),
            _ => None,
        };
        let dpop_alg = self.profile.dpop.as_ref().map(PrivateKey::algorithm);
        metadata.check(self.profile.auth_method.name(), signing_alg, dpop_alg)?;
        let endpoint = match &metadata.mtls_token_endpoint {
            Some(alias) if self.mtls() => alias,
            _ => &metadata.token_endpoint,
        };
        let fetched = self.fetch_from(client, endpoint).await;
        if let Err(error) = &fetched {
            discovery.forget_if_moved(error);
        }
        fetched
    }

    /// One token request to `token_url` (and one more for a DPoP nonce).
    pub(super) async fn fetch_from(
        &self,
        client: &TokenClient,
        token_url: &str,
    ) -> Result<AccessToken, Error> {
        // One more request when the server asks for a DPoP nonce it has just given (§8);
        // never a second: a server that keeps asking gets its refusal reported.
        let mut nonce_retry = self.profile.dpop.is_some();
        loop {
            let answer = client.send(self.signed_request(token_url).await?).await?;
            let status = answer.status();
            let new_nonce =
                self.profile.dpop.is_some() && self.profile.token_nonce.update(answer.headers());
            if status.is_success() {
                let headers = answer.headers().clone();
                let body = transport::read_body(answer).await?;
                let token = answer::token(&headers, &body, self.default_lifetime, self.asked())?;
                let token = self.bind(token)?;
                return Ok(token.with_quota(transport::quota(&headers)));
            }
            if let Some(transient) = transport::answer::transient(status, answer.headers()) {
                return Err(transient);
            }
            let headers = answer.headers().clone();
            // An error body that cannot be read still leaves the status to go by.
            let body = transport::read_body(answer).await.ok();
            if nonce_retry && new_nonce && answer::asks_for_nonce(body.as_deref()) {
                nonce_retry = false;
                continue;
            }
            return Err(answer::refusal(
                status,
                &headers,
                body.as_deref(),
                self.asked(),
            ));
        }
    }
}

impl ClientCredentials {
    /// A DPoP-bound token with what makes its API requests' proofs (RFC 9449 §7.1).
    fn bind(&self, token: AccessToken) -> Result<AccessToken, Error> {
        #[cfg(tls_rustls)]
        if let Some(key) = &self.profile.dpop {
            return super::dpop::bind(key, token);
        }
        Ok(token)
    }
}

impl TokenSource for ClientCredentials {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(attempt(self.fetch()))
    }

    /// The token URL (the issuer, with discovery), the client id and secret, the scope, the
    /// extra parameters, how the client authenticates and the DPoP key: everything that
    /// determines the token.
    ///
    /// The secret a store seals the token under is the client secret, or for `private_key_jwt`
    /// a hash of the private key. An assertion made outside, `tls_client_auth` or an empty
    /// secret give none: such a client shares through a store only with the app's seal key
    /// (`RedisStore::seal_key`, feature `redis`), since a seal derived from public data would
    /// let anyone who can write the store plant a token.
    fn cache_key(&self) -> Option<CacheKey> {
        let profile = &self.profile;
        let secret: &[u8] = match &profile.auth_method {
            AuthMethod::ClientSecretBasic
            | AuthMethod::ClientSecretPost
            | AuthMethod::ClientSecretJwt => self.client_secret.expose_secret().as_bytes(),
            // A one-way function of the private key, never the key (see `Loaded`).
            #[cfg(tls_rustls)]
            AuthMethod::PrivateKeyJwt(key) => &key.inner.seal_secret,
            _ => b"",
        };
        let mut key = CacheKey::new(secret)
            .part("source", "oauth2 client_credentials")
            .part("token_url", &self.token_url)
            .part(
                "discovery",
                if profile.discovery.is_some() {
                    "yes"
                } else {
                    "no"
                },
            )
            .part("client_id", &self.client_id)
            .part("scope", self.scope.as_deref().unwrap_or_default())
            .part("auth_method", profile.auth_method.name());
        if let Some(dpop) = &profile.dpop {
            key = key.part("dpop_key", dpop.thumbprint());
            // Kept raw in the store, a token read back is a DPoP one bound to this key again.
            #[cfg(tls_rustls)]
            {
                let dpop = dpop.clone();
                key = key.with_rebind(std::sync::Arc::new(move |token: AccessToken| {
                    let bound =
                        AccessToken::with_scheme("DPoP", token.secret(), token.expires_in())?;
                    super::dpop::bind(&dpop, bound)
                }));
            }
        }
        for (name, value) in &self.params {
            key = key.part("param", name).part("value", value);
        }
        Some(key)
    }
}
