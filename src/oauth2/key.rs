//! [`PrivateKey`]: a client's signing key for `private_key_jwt` (RFC 7523) and DPoP (RFC 9449),
//! loaded and used through the rustls `CryptoProvider` of the TLS feature in use.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// A JWS signature algorithm this crate signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(tls_rustls), allow(dead_code))]
pub(super) enum Alg {
    Es256,
    EdDsa,
    Rs256,
    Ps256,
}

impl Alg {
    pub(super) fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
        }
    }
}

/// A private key that signs client assertions ([`AuthMethod::PrivateKeyJwt`]) and DPoP proofs
/// ([`ClientCredentials::dpop`]).
///
/// The algorithm follows from the key: P-256 signs `ES256`, Ed25519 `EdDSA`, RSA `RS256`
/// ([`ps256`](Self::ps256) selects `PS256`). Other curves are refused.
///
/// Signing uses the rustls `CryptoProvider` of the TLS feature in use (aws-lc-rs for `rustls`,
/// ring for `rustls-ring`, the installed one for `rustls-no-provider`), so a key adds no crypto
/// crate. Without a rustls feature the constructors return [`Error::InvalidConfig`]: bring
/// assertions signed elsewhere with [`ClientAssertion`](super::ClientAssertion).
///
/// The key material never appears in `Debug`, errors or logs: `Debug` shows the algorithm and
/// the key id only.
///
/// [`AuthMethod::PrivateKeyJwt`]: super::AuthMethod::PrivateKeyJwt
/// [`ClientCredentials::dpop`]: super::ClientCredentials::dpop
#[derive(Clone)]
pub struct PrivateKey {
    pub(super) inner: Inner,
    pub(super) alg: Alg,
    pub(super) kid: Option<Arc<str>>,
}

#[cfg(tls_rustls)]
pub(super) type Inner = Arc<loaded::Loaded>;
#[cfg(not(tls_rustls))]
pub(super) type Inner = std::convert::Infallible;

impl PrivateKey {
    /// Reads a PEM private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what `openssl genpkey`
    /// writes), or SEC1 (`EC PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`). The first private
    /// key in `pem` is taken.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if there is no private key in `pem`, the key is not P-256,
    /// Ed25519 or RSA, or the features have no rustls.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        #[cfg(tls_rustls)]
        {
            use rustls::pki_types::pem::PemObject as _;
            use rustls::pki_types::PrivateKeyDer;
            let der = PrivateKeyDer::from_pem_slice(pem.as_ref()).map_err(|_| {
                Error::config("PrivateKey::from_pem: no PEM private key found in the input")
            })?;
            loaded::load(der, None)
        }
        #[cfg(not(tls_rustls))]
        {
            let _ = pem;
            Err(super::jose::no_provider())
        }
    }

    /// Reads a JWK holding a private key (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2): `EC` on
    /// `P-256` (`d`, `x`, `y`), `OKP` on `Ed25519` (`d`, `x`), or `RSA` (`n`, `e`, `d`, `p`,
    /// `q`, `dp`, `dq`, `qi`). Its `kid` becomes the [key id](Self::key_id); `"alg": "PS256"`
    /// on an RSA key selects PS256.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the JWK is not one of those, a member is missing or not
    /// base64url, or the features have no rustls. The message never quotes the JWK.
    pub fn from_jwk(jwk: impl AsRef<str>) -> Result<Self, Error> {
        #[cfg(tls_rustls)]
        {
            loaded::from_jwk(jwk.as_ref())
        }
        #[cfg(not(tls_rustls))]
        {
            let _ = jwk;
            Err(super::jose::no_provider())
        }
    }

    /// The JWS `kid` header (RFC 7515 §4.1.4) to send, so that a server holding several of the
    /// client's keys knows which one verifies.
    #[must_use]
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// Signs with `PS256` (RSASSA-PSS) instead of `RS256`, as FAPI requires of RSA keys.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the key is not an RSA key.
    pub fn ps256(mut self) -> Result<Self, Error> {
        match self.alg {
            Alg::Rs256 | Alg::Ps256 => {
                self.alg = Alg::Ps256;
                Ok(self)
            }
            _ => Err(Error::config("PrivateKey::ps256: PS256 needs an RSA key")),
        }
    }

    /// The JWS algorithm this key signs with: `ES256`, `EdDSA`, `RS256` or `PS256`.
    pub fn algorithm(&self) -> &'static str {
        self.alg.name()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg.name())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(tls_rustls)]
pub(super) mod loaded {
    use std::sync::Arc;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{
        PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    };
    use rustls::sign::{Signer, SigningKey};
    use rustls::{SignatureAlgorithm, SignatureScheme};
    use serde_json::{Map, Value};

    use super::super::jose::{b64, hmac_sha256, sha256};
    use super::{Alg, PrivateKey};
    use crate::der::{self, BIT_STRING, INTEGER, OCTET_STRING, OID, SEQUENCE};
    use crate::Error;

    /// A key as the provider loaded it, with what every signature and proof re-uses.
    pub(crate) struct Loaded {
        pub(crate) provider: Arc<CryptoProvider>,
        key: Arc<dyn SigningKey>,
        /// The signer of the key's own algorithm (ES256, EdDSA or RS256).
        signer: Box<dyn Signer>,
        /// The PS256 signer of an RSA key.
        pss: Option<Box<dyn Signer>>,
        /// The public JWK with its required members only, in the order of RFC 7638 §3.2, so
        /// that it is both the DPoP header's `jwk` and the thumbprint's input.
        pub(crate) public_jwk: String,
        /// The RFC 7638 thumbprint, base64url: what a DPoP-bound token's `cnf.jkt` holds.
        pub(crate) thumbprint: String,
        pub(crate) seal_secret: Vec<u8>, // HMAC keyed by the DER: what a token store seals under
    }

    fn scheme(alg: Alg) -> SignatureScheme {
        match alg {
            Alg::Es256 => SignatureScheme::ECDSA_NISTP256_SHA256,
            Alg::EdDsa => SignatureScheme::ED25519,
            Alg::Rs256 => SignatureScheme::RSA_PKCS1_SHA256,
            Alg::Ps256 => SignatureScheme::RSA_PSS_SHA256,
        }
    }

    pub(super) fn load(
        der: PrivateKeyDer<'static>,
        ps256: Option<bool>,
    ) -> Result<PrivateKey, Error> {
        let provider = crate::tls::provider()?;
        let seal_secret = hmac_sha256(&provider, der.secret_der(), b"symbl-auth key seal v1")?;
        let key = provider.key_provider.load_private_key(der).map_err(|_| {
            Error::config(
                "the private key could not be loaded: it must be a P-256, Ed25519 or RSA key \
                 (PKCS#8 PEM, or a private JWK)",
            )
        })?;
        let alg = match key.algorithm() {
            SignatureAlgorithm::ECDSA => Alg::Es256,
            SignatureAlgorithm::ED25519 => Alg::EdDsa,
            SignatureAlgorithm::RSA => Alg::Rs256,
            _ => {
                return Err(Error::config(
                    "the private key is not a P-256, Ed25519 or RSA key",
                ))
            }
        };
        let signer = key.choose_scheme(&[scheme(alg)]).ok_or_else(|| {
            Error::config(match alg {
                Alg::Es256 => {
                    "the ECDSA key is not on P-256: ES256 is the ECDSA algorithm signed here"
                }
                _ => "the crypto provider cannot sign with this key",
            })
        })?;
        let pss = match alg {
            Alg::Rs256 => key.choose_scheme(&[scheme(Alg::Ps256)]),
            _ => None,
        };
        let public_jwk = {
            let spki = key.public_key().ok_or_else(|| {
                Error::config("the crypto provider gives no public key for this key")
            })?;
            public_jwk(alg, spki.as_ref())
                .ok_or_else(|| Error::config("the public key could not be read"))?
        };
        let thumbprint = b64(sha256(&provider, public_jwk.as_bytes())?);
        let loaded = Loaded {
            provider,
            key,
            signer,
            pss,
            public_jwk,
            thumbprint,
            seal_secret,
        };
        let mut key = PrivateKey {
            inner: Arc::new(loaded),
            alg,
            kid: None,
        };
        if ps256 == Some(true) {
            key = key.ps256()?;
        }
        Ok(key)
    }

    impl Loaded {
        /// Signs `message` with `alg`, in JOSE's form: ECDSA as the fixed-size `R || S` of
        /// RFC 7518 §3.4, not the DER rustls gives.
        pub(crate) fn sign(&self, alg: Alg, message: &[u8]) -> Result<Vec<u8>, Error> {
            let signer = match (alg, &self.pss) {
                (Alg::Ps256, Some(pss)) => pss,
                (Alg::Ps256, None) => {
                    return Err(Error::config("the crypto provider cannot sign PS256"));
                }
                _ => &self.signer,
            };
            let signature = signer
                .sign(message)
                .map_err(|_| Error::config("the crypto provider could not sign"))?;
            match alg {
                Alg::Es256 => fixed_ecdsa(&signature).ok_or_else(|| {
                    Error::config("the crypto provider's ECDSA signature is not DER")
                }),
                _ => Ok(signature),
            }
        }
    }

    impl std::fmt::Debug for Loaded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Loaded")
                .field("algorithm", &self.key.algorithm())
                .finish_non_exhaustive()
        }
    }

    /// A DER `ECDSA-Sig-Value` as the 64 bytes `R || S`.
    fn fixed_ecdsa(der_signature: &[u8]) -> Option<Vec<u8>> {
        let (body, _) = der::expect(SEQUENCE, der_signature)?;
        let (r, rest) = der::expect(INTEGER, body)?;
        let (s, _) = der::expect(INTEGER, rest)?;
        let mut out = vec![0u8; 64];
        for (half, value) in [(0, der::digits(r)), (32, der::digits(s))] {
            if value.len() > 32 {
                return None;
            }
            out[half + 32 - value.len()..half + 32].copy_from_slice(value);
        }
        Some(out)
    }

    /// The public JWK of an SPKI, with its required members in lexicographic order
    /// (RFC 7638 §3.2–3.3).
    fn public_jwk(alg: Alg, spki: &[u8]) -> Option<String> {
        let (body, _) = der::expect(SEQUENCE, spki)?;
        let (_algorithm, rest) = der::expect(SEQUENCE, body)?;
        let (bits, _) = der::expect(BIT_STRING, rest)?;
        let (&0, key) = bits.split_first()? else {
            return None;
        };
        Some(match alg {
            Alg::Es256 => {
                let point = key.strip_prefix(&[4])?;
                if point.len() != 64 {
                    return None;
                }
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64(&point[..32]),
                    b64(&point[32..])
                )
            }
            Alg::EdDsa => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(key)),
            Alg::Rs256 | Alg::Ps256 => {
                let (numbers, _) = der::expect(SEQUENCE, key)?;
                let (n, rest) = der::expect(INTEGER, numbers)?;
                let (e, _) = der::expect(INTEGER, rest)?;
                format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64(der::digits(e)),
                    b64(der::digits(n))
                )
            }
        })
    }

    /// The DER the provider loads for a private JWK.
    pub(super) fn from_jwk(jwk: &str) -> Result<PrivateKey, Error> {
        let bad = |what: &'static str| Error::config(format!("PrivateKey::from_jwk: {what}"));
        let fields: Map<String, Value> = match serde_json::from_str(jwk) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(bad("not a JSON object")),
        };
        let text = |name: &'static str| match fields.get(name) {
            Some(Value::String(value)) => Ok(value.as_str()),
            _ => Err(Error::config(format!(
                "PrivateKey::from_jwk: the member {name} is missing or not a string"
            ))),
        };
        let bytes = |name: &'static str| {
            let value = text(name)?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map_err(|_| {
                    Error::config(format!("PrivateKey::from_jwk: {name} is not base64url"))
                })
        };
        let der = match (text("kty")?, fields.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => {
                let (d, x, y) = (bytes("d")?, bytes("x")?, bytes("y")?);
                if d.len() != 32 || x.len() != 32 || y.len() != 32 {
                    return Err(bad("a P-256 key has 32-byte d, x and y"));
                }
                let mut point = vec![0u8, 4];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                // RFC 5915 ECPrivateKey, with the curve (prime256v1) and the public key.
                let prime256v1 = der::tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
                let sec1 = [
                    der::tlv(INTEGER, &[1]),
                    der::tlv(OCTET_STRING, &d),
                    der::tlv(0xa0, &prime256v1),
                    der::tlv(0xa1, &der::tlv(BIT_STRING, &point)),
                ]
                .concat();
                PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der::tlv(SEQUENCE, &sec1)))
            }
            ("OKP", Some("Ed25519")) => {
                let d = bytes("d")?;
                if d.len() != 32 {
                    return Err(bad("an Ed25519 key has a 32-byte d"));
                }
                // RFC 8410 §7: PKCS#8 v1 with the id-Ed25519 OID and the seed.
                let pkcs8 = [
                    der::tlv(INTEGER, &[0]),
                    der::tlv(SEQUENCE, &der::tlv(OID, &[0x2b, 0x65, 0x70])),
                    der::tlv(OCTET_STRING, &der::tlv(OCTET_STRING, &d)),
                ]
                .concat();
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der::tlv(SEQUENCE, &pkcs8)))
            }
            ("RSA", _) => {
                // RFC 8017 A.1.2 RSAPrivateKey, two primes.
                let mut pkcs1 = der::tlv(INTEGER, &[0]);
                for name in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
                    pkcs1.extend(der::unsigned(&bytes(name)?));
                }
                PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der::tlv(SEQUENCE, &pkcs1)))
            }
            _ => return Err(bad("the key must be EC on P-256, OKP on Ed25519, or RSA")),
        };
        let ps256 = fields.get("alg").and_then(Value::as_str) == Some("PS256");
        let mut key = load(der, Some(ps256))?;
        if let Some(Value::String(kid)) = fields.get("kid") {
            key = key.key_id(kid.as_str());
        }
        Ok(key)
    }
}
