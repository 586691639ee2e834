//! [`ClientIdentity`]: the TLS client certificate the built-in token client presents (mutual
//! TLS, RFC 8705), read from PEM and handed to the TLS the features choose.

mod pem;
#[cfg(not(tls_rustls))]
mod pkcs8;

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretSlice};

use crate::Error;

/// A TLS client certificate chain and its private key, for the built-in token client: with
/// [`AuthMethod::TlsClientAuth`] the certificate authenticates the client ([RFC 8705 §2]), and
/// with any method a server that binds tokens to it (`cnf.x5t#S256`, §3) issues
/// certificate-bound tokens. Set with
/// [`ClientCredentials::client_identity`](crate::oauth2::ClientCredentials::client_identity).
///
/// It works the same under every TLS feature: under `rustls`, `rustls-ring` and
/// `rustls-no-provider` the key is loaded by the feature's crypto provider (aws-lc-rs, ring,
/// the installed one); under `native-tls` a PKCS#1 or SEC1 key is converted to the PKCS#8
/// form native-tls takes. `Debug` shows how many certificates there are and the key's format,
/// never the key; no error quotes the PEM.
///
/// [`AuthMethod::TlsClientAuth`]: crate::oauth2::AuthMethod::TlsClientAuth
/// [RFC 8705 §2]: https://www.rfc-editor.org/rfc/rfc8705#section-2
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "rustls",
        feature = "rustls-ring",
        feature = "rustls-no-provider",
        feature = "native-tls"
    )))
)]
#[derive(Clone)]
pub struct ClientIdentity {
    /// The certificates' DER, the client's own first.
    chain: Arc<[Vec<u8>]>,
    key: Arc<Key>,
}

struct Key {
    format: KeyFormat,
    der: SecretSlice<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyFormat {
    Pkcs8,
    Pkcs1,
    Sec1,
}

impl KeyFormat {
    fn label(self) -> &'static str {
        match self {
            Self::Pkcs8 => "PRIVATE KEY",
            Self::Pkcs1 => "RSA PRIVATE KEY",
            Self::Sec1 => "EC PRIVATE KEY",
        }
    }
}

impl ClientIdentity {
    /// The certificate chain (PEM `CERTIFICATE` blocks, the client's own first, then any
    /// intermediates) and its private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`)
    /// or SEC1 (`EC PRIVATE KEY`), unencrypted. Other blocks are skipped, so one file holding
    /// both may be passed twice.
    ///
    /// Fails with [`Error::InvalidConfig`] for text that is not PEM, no certificate, no key or
    /// more than one, an encrypted key, and (where the crypto provider is known now: `rustls`,
    /// `rustls-ring`, or an installed provider) a key the provider cannot use or that does not
    /// belong to the first certificate. Otherwise those are found by the layer's `build` (or
    /// the first fetch of a source used alone).
    pub fn from_pem(
        cert_chain_pem: impl AsRef<[u8]>,
        private_key_pem: impl AsRef<[u8]>,
    ) -> Result<Self, Error> {
        let chain: Vec<Vec<u8>> = pem::blocks(cert_chain_pem.as_ref(), "the certificate chain")?
            .into_iter()
            .filter(|block| block.label == "CERTIFICATE")
            .map(|block| block.der)
            .collect();
        if chain.is_empty() {
            return Err(Error::config(
                "ClientIdentity: the certificate chain has no CERTIFICATE block",
            ));
        }
        let mut keys = Vec::new();
        for block in pem::blocks(private_key_pem.as_ref(), "the private key")? {
            let format = match block.label.as_str() {
                "PRIVATE KEY" => KeyFormat::Pkcs8,
                "RSA PRIVATE KEY" => KeyFormat::Pkcs1,
                "EC PRIVATE KEY" => KeyFormat::Sec1,
                "ENCRYPTED PRIVATE KEY" => return Err(pem::encrypted("the private key")),
                _ => continue,
            };
            keys.push(Key {
                format,
                der: SecretSlice::from(block.der),
            });
        }
        let key =
            match keys.len() {
                1 => keys.remove(0),
                0 => return Err(Error::config(
                    "ClientIdentity: the private key PEM has no PRIVATE KEY, RSA PRIVATE KEY or \
                     EC PRIVATE KEY block",
                )),
                _ => {
                    return Err(Error::config(
                        "ClientIdentity: the private key PEM has more than one key; give the one \
                     that belongs to the certificate",
                    ))
                }
            };
        let identity = Self {
            chain: chain.into(),
            key: Arc::new(key),
        };
        #[cfg(tls_rustls)]
        if crate::tls::provider().is_ok() {
            identity.rustls_config()?;
        }
        Ok(identity)
    }

    /// The crate's rustls config presenting this identity (RFC 8705 mutual TLS).
    #[cfg(tls_rustls)]
    pub(crate) fn rustls_config(&self) -> Result<rustls::ClientConfig, Error> {
        use rustls::pki_types::{
            CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer,
            PrivateSec1KeyDer,
        };
        let chain = self
            .chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let der = self.key.der.expose_secret().to_vec();
        let key = match self.key.format {
            KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
            KeyFormat::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        };
        crate::tls::client_config_with_identity(chain, key)
    }

    /// The identity as reqwest takes it, for a TLS config reqwest builds itself.
    pub(crate) fn reqwest(&self) -> Result<reqwest::Identity, Error> {
        let mut certs = String::new();
        for der in self.chain.iter() {
            certs.push_str(&pem::encode("CERTIFICATE", der));
        }
        let refused = |err: reqwest::Error| {
            Error::config("ClientIdentity: the TLS backend refuses the certificate or key")
                .with_source(err.without_url())
        };
        #[cfg(tls_rustls)]
        {
            let key = pem::encode(self.key.format.label(), self.key.der.expose_secret());
            let both = SecretSlice::from([certs.into_bytes(), key.into_bytes()].concat());
            reqwest::Identity::from_pem(both.expose_secret()).map_err(refused)
        }
        #[cfg(not(tls_rustls))]
        {
            let der = self.key.der.expose_secret();
            let pkcs8 = SecretSlice::from(match self.key.format {
                KeyFormat::Pkcs8 => der.to_vec(),
                KeyFormat::Pkcs1 => pkcs8::from_pkcs1(der),
                KeyFormat::Sec1 => pkcs8::from_sec1(der)?,
            });
            let key = SecretSlice::from(
                pem::encode(KeyFormat::Pkcs8.label(), pkcs8.expose_secret()).into_bytes(),
            );
            reqwest::Identity::from_pkcs8_pem(certs.as_bytes(), key.expose_secret())
                .map_err(refused)
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificates", &self.chain.len())
            .field(
                "key",
                &format_args!("{} [redacted]", self.key.format.label()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
