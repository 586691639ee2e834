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
    use rustls::crypto::hash::HashAlgorithm;
    use rustls::crypto::tls13::OkmBlock;
    use rustls::crypto::CryptoProvider;
    use rustls::SupportedCipherSuite;

    use super::b64;
    use crate::Error;

    /// A TLS 1.3 suite on SHA-256: its hash and its HKDF's HMAC are SHA-256's.
    fn sha256_suite(provider: &CryptoProvider) -> Result<&'static rustls::Tls13CipherSuite, Error> {
        provider
            .cipher_suites
            .iter()
            .find_map(|suite| match suite {
                SupportedCipherSuite::Tls13(suite)
                    if suite.common.hash_provider.algorithm() == HashAlgorithm::SHA256 =>
                {
                    Some(*suite)
                }
                _ => None,
            })
            .ok_or_else(|| {
                Error::config(
                    "the rustls CryptoProvider has no TLS 1.3 cipher suite on SHA-256, which \
                     JWS signing and DPoP need",
                )
            })
    }

    /// SHA-256 of `data`.
    pub(crate) fn sha256(provider: &CryptoProvider, data: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(sha256_suite(provider)?
            .common
            .hash_provider
            .hash(data)
            .as_ref()
            .to_vec())
    }

    /// HMAC-SHA-256 (RFC 2104) of `message` under `key`. A key longer than SHA-256's 64-byte
    /// block is hashed first, as RFC 2104 §3 says, which is also what fits the provider's
    /// 64-byte key block.
    pub(crate) fn hmac_sha256(
        provider: &CryptoProvider,
        key: &[u8],
        message: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let suite = sha256_suite(provider)?;
        let hashed;
        let key = if key.len() > OkmBlock::MAX_LEN {
            hashed = suite.common.hash_provider.hash(key);
            hashed.as_ref()
        } else {
            key
        };
        Ok(suite
            .hkdf_provider
            .hmac_sign(&OkmBlock::new(key), message)
            .as_ref()
            .to_vec())
    }

    /// 16 random bytes, base64url: a `jti` (RFC 7519 §4.1.7) no one else will pick.
    pub(crate) fn unique_id(provider: &CryptoProvider) -> Result<String, Error> {
        let mut bytes = [0u8; 16];
        provider
            .secure_random
            .fill(&mut bytes)
            .map_err(|_| Error::config("the rustls CryptoProvider's random source failed"))?;
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

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_and_hmac_match_the_rfc_vectors() {
        let provider = provider();
        assert_eq!(
            hex(&sha256(&provider, b"abc").expect("hash")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231 test cases 2 (a short key) and 6 (a 131-byte key, hashed first).
        assert_eq!(
            hex(&hmac_sha256(&provider, b"Jefe", b"what do ya want for nothing?").expect("hmac")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &provider,
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )
            .expect("hmac")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn unique_ids_differ() {
        let provider = provider();
        let a = unique_id(&provider).expect("id");
        assert_eq!(a.len(), 22);
        assert_ne!(a, unique_id(&provider).expect("id"));
    }
}
