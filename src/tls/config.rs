//! A rustls client config on the crate's provider, and the platform verifier built lazily.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WantsClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ConfigBuilder, DigitallySignedStruct, SignatureScheme};

use super::provider;
use crate::Error;

/// A client config on [`provider`] and the platform's roots, with safe protocol versions and no
/// client certificate.
pub(crate) fn client_config() -> Result<ClientConfig, Error> {
    Ok(builder()?.with_no_client_auth())
}

/// The same config, presenting `chain` with `key` when the server asks for a client
/// certificate (mutual TLS, RFC 8705). Fails if the provider cannot load the key or the key is
/// not the first certificate's; the error quotes neither.
pub(crate) fn client_config_with_identity(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ClientConfig, Error> {
    builder()?
        .with_client_auth_cert(chain, key)
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(_) => Error::config(
                "ClientIdentity: the private key does not belong to the first certificate of the chain",
            ),
            err => Error::config(
                "ClientIdentity: the TLS provider cannot use the certificate or the private key (a key \
                 type it does not support, or a certificate that is not DER)",
            )
            .with_source(err),
        })
}

fn builder() -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, Error> {
    let provider = provider()?;
    let verifier = PlatformVerifier::shared(&provider);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| {
            Error::config("the rustls provider offers no safe TLS version").with_source(err)
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(builder)
}

/// `rustls_platform_verifier::Verifier`, built at the first certificate it checks: building it
/// reads the system's CA store, which a host may lack when no TLS is ever used. A failed build
/// is not kept.
struct PlatformVerifier {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<rustls_platform_verifier::Verifier>,
}

impl PlatformVerifier {
    /// One per process ([`provider`] is too), so the CA store is read once.
    fn shared(provider: &Arc<CryptoProvider>) -> Arc<Self> {
        static SHARED: OnceLock<Arc<PlatformVerifier>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            Arc::new(Self {
                provider: Arc::clone(provider),
                verifier: OnceLock::new(),
            })
        });
        Arc::clone(shared)
    }

    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        if let Some(verifier) = self.verifier.get() {
            return Ok(verifier);
        }
        let verifier = rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider))?;
        Ok(self.verifier.get_or_init(|| verifier))
    }
}

impl ServerCertVerifier for PlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl fmt::Debug for PlatformVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformVerifier")
            .field("loaded", &self.verifier.get().is_some())
            .finish()
    }
}
