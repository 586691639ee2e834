//! Mutual TLS for the built-in token client (RFC 8705): the client certificate setting, and
//! which certificate a `tls_client_auth` source has.

use super::{AuthMethod, ClientCredentials};
#[cfg(builtin_client)]
use crate::transport::ClientIdentity;
use crate::Error;

#[cfg(builtin_client)]
impl ClientCredentials {
    /// The TLS client certificate the built-in token client presents (mutual TLS,
    /// [RFC 8705]), under every TLS feature. With [`AuthMethod::TlsClientAuth`] it
    /// authenticates the client (§2); with any method, a server that binds tokens to the
    /// certificate (`cnf.x5t#S256`, §3) issues certificate-bound tokens.
    ///
    /// ```no_run
    /// use symbl_auth::oauth2::{AuthMethod, ClientCredentials, ClientIdentity};
    ///
    /// let identity = ClientIdentity::from_pem(
    ///     std::fs::read("client.pem")?,
    ///     std::fs::read("client.key")?,
    /// )?;
    /// let source = ClientCredentials::from_issuer("https://auth.example.com", "my-client", "")
    ///     .auth_method(AuthMethod::TlsClientAuth)
    ///     .client_identity(identity);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// With [`from_issuer`](Self::from_issuer), a source with a client identity (or
    /// `TlsClientAuth`) sends its token requests to the metadata's
    /// `mtls_endpoint_aliases.token_endpoint` when there is one (§5): the alias is where the
    /// server asks for the certificate, which it needs to bind the token.
    ///
    /// It goes into the TLS config the built-in client uses, beside the
    /// [`http_client`](Self::http_client) settings, and over any identity set there. Those
    /// settings' roots keep working with it where they work without it (`rustls`,
    /// `rustls-no-provider`, `native-tls`; under `rustls-ring` the crate's config is used,
    /// with the platform's roots). Setting it with [`token_client`](Self::token_client) is an
    /// [`Error::InvalidConfig`] at `build` (your client presents its own certificate).
    ///
    /// [RFC 8705]: https://www.rfc-editor.org/rfc/rfc8705
    #[cfg_attr(
        docsrs,
        doc(cfg(any(
            feature = "rustls",
            feature = "rustls-ring",
            feature = "rustls-no-provider",
            feature = "native-tls"
        )))
    )]
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.settings.identity = Some(identity);
        self.client = std::sync::Arc::default();
        self
    }
}

impl ClientCredentials {
    /// Whether the token requests go through a TLS connection that presents a certificate the
    /// crate knows of (`client_identity`), for the mTLS endpoint alias (RFC 8705 §5).
    pub(super) fn mtls(&self) -> bool {
        matches!(self.profile.auth_method, AuthMethod::TlsClientAuth)
            || self.settings.has_identity()
    }

    /// `tls_client_auth` needs a certificate: from `client_identity`, the app's `token_client`,
    /// or an identity set through `http_client` (which the crate cannot see, and which only
    /// reqwest's own TLS config uses: not under `rustls-ring`). Without one, the server could
    /// only refuse every request: refused here, before any is sent.
    pub(super) fn check_certificate(&self) -> Result<(), Error> {
        let settings = &self.settings;
        if !matches!(self.profile.auth_method, AuthMethod::TlsClientAuth)
            || settings.service.is_some()
            || settings.has_identity()
        {
            return Ok(());
        }
        #[cfg(all(builtin_client, not(tls_provider = "ring")))]
        if settings.configure.is_some() {
            return Ok(()); // the identity may be among the http_client settings
        }
        #[cfg(builtin_client)]
        let how = "set ClientCredentials::client_identity (ClientIdentity::from_pem), or pass \
                   your own token_client that presents one";
        #[cfg(not(builtin_client))]
        let how = "pass your own token_client that presents one (or enable a TLS feature for \
                   the built-in client's ClientCredentials::client_identity)";
        Err(Error::config(format!(
            "AuthMethod::TlsClientAuth (tls_client_auth) needs a TLS client certificate: {how}"
        )))
    }
}
