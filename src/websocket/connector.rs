//! The TLS connector the crate's features choose for [`connect`](super::connect).

#[cfg(tls_rustls)]
use std::sync::{Arc, OnceLock};

use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::Connector;

use crate::Error;

/// The TLS connector the crate's features choose: rustls with their provider and the
/// platform's roots, built once (from the crate's own config, so no process-level provider is
/// relied on, except under `rustls-no-provider`); `None` under `native-tls` alone, where
/// tokio-tungstenite makes its own; an error for `wss://` with no TLS feature. A `ws://` URL
/// involves no TLS, so it needs none of it: no config is built, and under
/// `rustls-no-provider` no provider is asked for.
pub(super) fn default_connector(request: &Request) -> Result<Option<Connector>, Error> {
    let tls = request.uri().scheme_str() == Some("wss");
    #[cfg(tls_rustls)]
    {
        if !tls {
            return Ok(Some(Connector::Plain));
        }
        static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(Some(Connector::Rustls(Arc::clone(config))));
        }
        let config = Arc::new(crate::tls::client_config()?);
        Ok(Some(Connector::Rustls(Arc::clone(
            CONFIG.get_or_init(|| config),
        ))))
    }
    #[cfg(not(tls_rustls))]
    {
        if tls && cfg!(not(feature = "native-tls")) {
            // `connect_with` cannot help here: this build has no TLS connector to take.
            return Err(Error::config(
                "wss:// needs TLS: enable one of symbl-auth's features rustls, rustls-ring, \
                 rustls-no-provider or native-tls",
            ));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(any(feature = "rustls", feature = "rustls-ring"))]
    #[test]
    fn tls_uses_the_crates_own_rustls_setup() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;

        let request = "wss://api.symbl.ai/v1/streaming/abc"
            .into_client_request()
            .expect("request");
        let connector = super::default_connector(&request).expect("a connector");
        assert!(matches!(
            connector,
            Some(tokio_tungstenite::Connector::Rustls(_))
        ));
        let request = "ws://127.0.0.1:8080/v1/streaming/abc"
            .into_client_request()
            .expect("request");
        let connector = super::default_connector(&request).expect("a connector");
        assert!(matches!(
            connector,
            Some(tokio_tungstenite::Connector::Plain)
        ));
    }
}
