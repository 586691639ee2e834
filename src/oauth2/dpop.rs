//! DPoP proofs (RFC 9449 §4): a JWT signed with the client's key for one HTTP request, and the
//! token server's nonce (§8).
// Without a rustls feature no key exists, so no proof is ever made.
#![cfg_attr(not(tls_rustls), allow(dead_code))]

use std::sync::{Arc, Mutex};

#[cfg(tls_rustls)]
use super::jose::{b64, now_secs, sha256, unique_id};
use super::key::PrivateKey;
use crate::Error;

/// The header that carries a proof, and the one that carries a server's nonce (§4.1, §8).
pub(super) const DPOP: &str = "dpop";
pub(super) const DPOP_NONCE: &str = "dpop-nonce";

/// The longest nonce kept: nonces are opaque, but a server's are short (oidc-provider's are
/// 43 characters); a longer value is not kept, so a hostile server cannot grow every proof.
const MAX_NONCE_LEN: usize = 512;

/// The token server's latest nonce, shared by a source and its clones.
#[derive(Clone, Default)]
pub(super) struct Nonce(Arc<Mutex<Option<String>>>);

impl Nonce {
    pub(super) fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|nonce| nonce.clone())
    }

    /// Keeps the nonce a response carries; tells whether it is new.
    pub(super) fn update(&self, headers: &http::HeaderMap) -> bool {
        let Some(value) = headers.get(DPOP_NONCE).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        if value.is_empty() || value.len() > MAX_NONCE_LEN {
            return false;
        }
        match self.0.lock() {
            Ok(mut kept) if kept.as_deref() != Some(value) => {
                *kept = Some(value.to_owned());
                true
            }
            _ => false,
        }
    }
}

/// The `htu` of a URL (§4.2): without its query and fragment.
pub(super) fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

impl PrivateKey {
    /// A DPoP proof (RFC 9449 §4.2) for one request: `typ` `dpop+jwt`, the public key as
    /// `jwk`, and the claims `jti` (random), `htm` (`method`), `htu` (`url` without query and
    /// fragment), `iat`, with `ath` (the SHA-256 of `access_token`) when a token goes with the
    /// request and `nonce` when the server gave one.
    ///
    /// The layer makes the proofs of token requests itself; this is for sending a DPoP-bound
    /// token ([`AccessToken::token_type`](crate::AccessToken::token_type) `DPoP`) yourself,
    /// with `Authorization: DPoP <token>` and this proof in the `DPoP` header.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the crypto provider fails.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        #[cfg(tls_rustls)]
        {
            let provider = &self.inner.provider;
            let ath = access_token
                .map(|token| sha256(provider, token.as_bytes()).map(b64))
                .transpose()?;
            self.proof(method, url, ath.as_deref(), nonce)
        }
        #[cfg(not(tls_rustls))]
        {
            let _ = (method, url, access_token, nonce);
            match self.inner {}
        }
    }

    /// The same with the `ath` already made (once per token).
    #[cfg(tls_rustls)]
    pub(super) fn proof(
        &self,
        method: &str,
        url: &str,
        ath: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        self.signed_proof(&self.proof_header(), method, htu(url), ath, nonce)
    }

    /// A proof's JWS header, base64url: the same for every proof of this key.
    #[cfg(tls_rustls)]
    fn proof_header(&self) -> String {
        b64(format!(
            r#"{{"typ":"dpop+jwt","alg":"{}","jwk":{}}}"#,
            self.alg.name(),
            self.inner.public_jwk
        ))
    }

    /// A proof under `header` (from [`proof_header`](Self::proof_header)) for `htu`, which
    /// has no query or fragment.
    #[cfg(tls_rustls)]
    fn signed_proof(
        &self,
        header: &str,
        method: &str,
        htu: &str,
        ath: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, Error> {
        let mut claims = serde_json::json!({
            "jti": unique_id(&self.inner.provider)?,
            "htm": method,
            "htu": htu,
            "iat": now_secs(),
        });
        if let Some(ath) = ath {
            claims["ath"] = serde_json::Value::from(ath);
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = serde_json::Value::from(nonce);
        }
        let input = format!("{header}.{}", b64(claims.to_string()));
        let signature = self.inner.sign(self.alg, input.as_bytes())?;
        Ok(format!("{input}.{}", b64(signature)))
    }

    /// The key's JWK thumbprint (RFC 7638, SHA-256, base64url): what a token bound to it
    /// carries as `cnf.jkt` (RFC 9449 §6).
    pub fn thumbprint(&self) -> &str {
        #[cfg(tls_rustls)]
        {
            &self.inner.thumbprint
        }
        #[cfg(not(tls_rustls))]
        {
            match self.inner {}
        }
    }
}

/// The proofs of one DPoP-bound token's API requests (RFC 9449 §7.1): the key, with what
/// all of them share made once, when the token is granted: the JWS header and the `ath`.
#[cfg(tls_rustls)]
pub(super) struct Bound {
    key: PrivateKey,
    header: String,
    ath: String,
}

#[cfg(tls_rustls)]
impl Bound {
    pub(super) fn new(key: &PrivateKey, access_token: &str) -> Result<Self, Error> {
        let ath = b64(sha256(&key.inner.provider, access_token.as_bytes())?);
        Ok(Self {
            key: key.clone(),
            header: key.proof_header(),
            ath,
        })
    }
}

/// `token`, granted for `key`, with what makes its API requests' proofs.
#[cfg(tls_rustls)]
pub(super) fn bind(
    key: &PrivateKey,
    token: crate::AccessToken,
) -> Result<crate::AccessToken, Error> {
    let bound = Bound::new(key, token.secret())?;
    Ok(token.bound(Some(Arc::new(bound))))
}

#[cfg(tls_rustls)]
impl crate::token::Prover for Bound {
    fn proof(
        &self,
        method: &http::Method,
        htu: &str,
        nonce: Option<&str>,
    ) -> Result<http::HeaderValue, Error> {
        let proof =
            self.key
                .signed_proof(&self.header, method.as_str(), htu, Some(&self.ath), nonce)?;
        http::HeaderValue::try_from(proof)
            .map_err(|_| Error::config("a DPoP proof is not a valid header value"))
    }
}

#[cfg(tls_rustls)]
impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_drops_the_query_and_fragment() {
        assert_eq!(
            htu("https://as.example/token?a=1#f"),
            "https://as.example/token"
        );
        assert_eq!(
            htu("https://as.example/token#f"),
            "https://as.example/token"
        );
        assert_eq!(htu("https://as.example/token"), "https://as.example/token");
    }

    #[test]
    fn the_nonce_kept_is_the_latest_bounded_one() {
        let nonce = Nonce::default();
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(DPOP_NONCE, value.parse().expect("header"));
            headers
        };
        assert!(!nonce.update(&http::HeaderMap::new()));
        assert!(nonce.update(&with("n1")));
        assert!(!nonce.update(&with("n1")), "the same nonce is not new");
        assert!(
            !nonce.update(&with(&"x".repeat(MAX_NONCE_LEN + 1))),
            "too long: not kept"
        );
        assert_eq!(nonce.get().as_deref(), Some("n1"));
        assert!(nonce.clone().update(&with("n2")), "clones share it");
        assert_eq!(nonce.get().as_deref(), Some("n2"));
    }
}
