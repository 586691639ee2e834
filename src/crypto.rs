//! The crypto the crate needs, every primitive taken from a rustls `CryptoProvider` (the one of
//! the TLS feature in use, or one the app gives): no crypto crate of this crate's own. Used by
//! the JOSE pieces of `oauth2` (hashes, HMAC, randomness) and by the token store's seal
//! (AES-256-GCM and HKDF of the provider's TLS 1.3 suite).

#[cfg(feature = "redis")]
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, OutboundChunks, OutboundPlainMessage, NONCE_LEN,
};
use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::tls13::OkmBlock;
use rustls::crypto::CryptoProvider;
#[cfg(feature = "redis")]
use rustls::{CipherSuite, ContentType, ProtocolVersion};
use rustls::{SupportedCipherSuite, Tls13CipherSuite};

use crate::Error;

/// The provider's TLS 1.3 suite that `wanted` picks, if it has one.
fn tls13_suite(
    provider: &CryptoProvider,
    wanted: impl Fn(&Tls13CipherSuite) -> bool,
) -> Option<&'static Tls13CipherSuite> {
    provider.cipher_suites.iter().find_map(|suite| match suite {
        SupportedCipherSuite::Tls13(suite) if wanted(suite) => Some(*suite),
        _ => None,
    })
}

/// A TLS 1.3 suite on SHA-256: its hash and its HKDF's HMAC are SHA-256's.
fn sha256_suite(provider: &CryptoProvider) -> Result<&'static Tls13CipherSuite, Error> {
    tls13_suite(provider, |suite| {
        suite.common.hash_provider.algorithm() == HashAlgorithm::SHA256
    })
    .ok_or_else(|| {
        Error::config(
            "the rustls CryptoProvider has no TLS 1.3 cipher suite on SHA-256, which JWS \
             signing, DPoP and the token store need",
        )
    })
}

#[cfg(feature = "redis")]
/// The TLS 1.3 suite with AES-256-GCM (`TLS_AES_256_GCM_SHA384`): its AEAD seals the token
/// store's entries and its HKDF (on SHA-384) derives their keys.
pub(crate) fn aes_256_gcm_suite(
    provider: &CryptoProvider,
) -> Result<&'static Tls13CipherSuite, Error> {
    tls13_suite(provider, |suite| {
        suite.common.suite == CipherSuite::TLS13_AES_256_GCM_SHA384
    })
    .ok_or_else(|| {
        Error::config(
            "the rustls CryptoProvider has no TLS_AES_256_GCM_SHA384 suite, whose AES-256-GCM \
             seals the token store's entries",
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

#[cfg_attr(not(tls_rustls), allow(dead_code))] // JWS and DPoP only.
/// HMAC-SHA-256 (RFC 2104) of `message` under `key`. A key longer than SHA-256's 64-byte
/// block is hashed first, as RFC 2104 §3 says, which is also what fits the provider's 64-byte
/// key block.
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

/// Fills `out` from the provider's secure random source.
pub(crate) fn fill_random(provider: &CryptoProvider, out: &mut [u8]) -> Result<(), Error> {
    provider
        .secure_random
        .fill(out)
        .map_err(|_| Error::config("the rustls CryptoProvider's random source failed"))
}

#[cfg(feature = "redis")]
/// `plain` sealed with the suite's AEAD under `key` and `iv` (sequence 0), as a TLS 1.3
/// record body: the ciphertext of `plain` and a content-type byte, then the 16-byte tag. The
/// record header (fixed but for the length) is the associated data, so whatever else must be
/// bound goes into `key`. `key` must be used for one message only, or `iv` be random.
pub(crate) fn seal(
    suite: &Tls13CipherSuite,
    key: [u8; 32],
    iv: [u8; NONCE_LEN],
    plain: &[u8],
) -> Option<Vec<u8>> {
    let mut encrypter = suite.aead_alg.encrypter(AeadKey::from(key), Iv::new(iv));
    let message = OutboundPlainMessage {
        typ: ContentType::ApplicationData,
        version: ProtocolVersion::TLSv1_2,
        payload: OutboundChunks::Single(plain),
    };
    let record = encrypter.encrypt(message, 0).ok()?.encode();
    // The 5-byte record header: type, version, length; the length is re-made on opening.
    record.get(5..).map(<[u8]>::to_vec)
}

#[cfg(feature = "redis")]
/// The plaintext of a [`seal`]ed body, if it opens under `key` and `iv` and is the content
/// type it was sealed as; `None` for anything else.
pub(crate) fn open(
    suite: &Tls13CipherSuite,
    key: [u8; 32],
    iv: [u8; NONCE_LEN],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let mut decrypter = suite.aead_alg.decrypter(AeadKey::from(key), Iv::new(iv));
    let mut body = sealed.to_vec();
    let message = InboundOpaqueMessage::new(
        ContentType::ApplicationData,
        ProtocolVersion::TLSv1_2,
        &mut body,
    );
    let plain = decrypter.decrypt(message, 0).ok()?;
    (plain.typ == ContentType::ApplicationData).then(|| plain.payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The dev-dependencies' rustls has ring, whatever the crate's features.
    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
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

    #[cfg(feature = "redis")]
    #[test]
    fn a_sealed_body_opens_only_under_its_key_and_iv_untouched() {
        let suite = aes_256_gcm_suite(&provider()).expect("suite");
        let (key, iv) = ([7u8; 32], [9u8; NONCE_LEN]);
        let sealed = seal(suite, key, iv, b"the-token").expect("sealed");
        assert_eq!(sealed.len(), 9 + 1 + 16, "text, content type, tag");
        assert!(!sealed.windows(9).any(|w| w == b"the-token"));
        assert_eq!(open(suite, key, iv, &sealed).expect("opens"), b"the-token");
        assert!(open(suite, [8; 32], iv, &sealed).is_none(), "another key");
        assert!(
            open(suite, key, [0; NONCE_LEN], &sealed).is_none(),
            "another iv"
        );
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(open(suite, key, iv, &flipped).is_none(), "tampered");
        assert!(open(suite, key, iv, &sealed[..20]).is_none(), "cut");
        assert!(open(suite, key, iv, b"").is_none(), "empty");
    }
}
