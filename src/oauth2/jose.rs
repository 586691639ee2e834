//! The JOSE pieces the client needs (RFC 7515 compact JWS, RFC 7638 thumbprints), with every
//! primitive taken from the rustls `CryptoProvider` of the TLS feature in use: no crypto crate
//! of this crate's own. Without a rustls feature there is no provider, and the constructors
//! that need one say so (`Error::InvalidConfig`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

#[cfg(not(tls_rustls))]
use crate::Error;

#[cfg_attr(not(tls_rustls), allow(dead_code))]
/// base64url without padding (RFC 7515 §2).
pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg_attr(not(tls_rustls), allow(dead_code))]
/// Seconds since the Unix epoch, from the wall clock: JWT times are absolute (RFC 7519 §2).
pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// What signing, hashing and randomness need when the features have no rustls.
#[cfg(not(tls_rustls))]
pub(super) fn no_provider() -> Error {
    Error::config(
        "signed client assertions, client_secret_jwt and DPoP need the crypto of a rustls \
         feature (rustls, rustls-ring or rustls-no-provider); without one, use \
         ClientAssertion::file or ClientAssertion::from_fn to bring assertions signed elsewhere",
    )
}

#[cfg(tls_rustls)]
pub(super) use self::provider::*;

#[cfg(tls_rustls)]
mod provider {
    use rustls::crypto::CryptoProvider;

    use super::b64;
    use crate::Error;

    pub(crate) use crate::crypto::{hmac_sha256, sha256};

    /// 16 random bytes, base64url: a `jti` (RFC 7519 §4.1.7) no one else will pick.
    pub(crate) fn unique_id(provider: &CryptoProvider) -> Result<String, Error> {
        let mut bytes = [0u8; 16];
        crate::crypto::fill_random(provider, &mut bytes)?;
        Ok(b64(bytes))
    }
}

// Under rustls-no-provider the provider is the app's: tests/installed_provider.rs installs one.
#[cfg(all(test, tls_rustls, not(tls_provider = "installed")))]
mod tests {
    use super::*;

    fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
        crate::tls::provider().expect("provider")
    }

    #[test]
    fn unique_ids_differ() {
        let provider = provider();
        let a = unique_id(&provider).expect("id");
        assert_eq!(a.len(), 22);
        assert_ne!(a, unique_id(&provider).expect("id"));
    }
}
