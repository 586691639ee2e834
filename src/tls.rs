//! rustls configs as this crate builds them: always with an explicit crypto provider (the one
//! the features choose), never the process-level default unless the feature is
//! `rustls-no-provider`, and never installing one. Roots are the platform's
//! (`rustls-platform-verifier`), read at the first handshake rather than when a client is
//! built, so a plain-http token URL works on a host without CA files.

use std::sync::Arc;
#[cfg(any(tls_provider = "aws-lc-rs", tls_provider = "ring"))]
use std::sync::OnceLock;

use rustls::crypto::CryptoProvider;

use crate::Error;

mod config;

pub(crate) use config::{client_config, client_config_with_identity};

/// The provider the features choose, the same one on every call; with several on, the first of
/// aws-lc-rs (`rustls`), ring (`rustls-ring`), the installed one (`rustls-no-provider`).
pub(crate) fn provider() -> Result<Arc<CryptoProvider>, Error> {
    #[cfg(any(tls_provider = "aws-lc-rs", tls_provider = "ring"))]
    {
        static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
        #[cfg(tls_provider = "aws-lc-rs")]
        let chosen = rustls::crypto::aws_lc_rs::default_provider;
        #[cfg(tls_provider = "ring")]
        let chosen = rustls::crypto::ring::default_provider;
        Ok(Arc::clone(PROVIDER.get_or_init(|| Arc::new(chosen()))))
    }
    // `install_default` succeeds once per process, so this too is the same on every call.
    #[cfg(tls_provider = "installed")]
    CryptoProvider::get_default().cloned().ok_or_else(|| {
        Error::config(
            "the rustls-no-provider feature needs a rustls CryptoProvider installed before the \
             layer is built (CryptoProvider::install_default), or use the rustls or rustls-ring \
             feature",
        )
    })
}
