//! The token request transport: how a built-in source sends its one request, through the
//! built-in client (reqwest, features `rustls`, `rustls-ring`, `rustls-no-provider`,
//! `native-tls`) or the app's own tower service (`token_client`). The crate's rules are
//! applied here, the same for both: a token URL fit for the credentials (`token_url.rs`), no
//! redirect followed, the body read under a size cap (`body.rs`), one sorting of failures into
//! permanent and transient with no URL in any error (`failure.rs`), and the reading of the
//! answer every built-in source shares (`answer.rs`).

use std::fmt;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;

use crate::redact::redact_url;
use crate::{BoxError, Error};

pub(crate) mod answer;
mod body;
#[cfg(builtin_client)]
mod builtin;
mod failure;
#[cfg(builtin_client)]
mod identity;
mod quota;
mod service;
mod token_url;

pub(crate) use body::read_body;
#[cfg(feature = "test-server")]
pub(crate) use body::too_large;
pub use body::MAX_RESPONSE_BYTES;
use failure::failure;
pub(crate) use quota::quota;
pub(crate) use token_url::check_token_url;

#[cfg(builtin_client)]
pub(crate) use builtin::Configure;
#[cfg(builtin_client)]
pub use identity::ClientIdentity;

/// Whether the built-in client can be built now: always, but under `rustls-no-provider`
/// before the app installed a provider.
#[cfg(all(builtin_client, feature = "test-server"))]
pub(crate) fn builtin_ready() -> bool {
    #[cfg(tls_provider = "installed")]
    return crate::tls::provider().is_ok();
    #[cfg(not(tls_provider = "installed"))]
    return true;
}
pub(crate) use service::TokenService;

/// A token endpoint's answer, its body not read yet.
pub(crate) type Answer = Response<UnsyncBoxBody<Bytes, BoxError>>;

/// How a source sends its token requests: the settings given to it, resolved into one client
/// when they are checked.
#[derive(Clone, Default)]
pub(crate) struct ClientSettings {
    /// `http_client`: changes to the built-in client.
    #[cfg(builtin_client)]
    pub(crate) configure: Option<Configure>,
    /// `client_identity`: the certificate the built-in client presents.
    #[cfg(builtin_client)]
    pub(crate) identity: Option<ClientIdentity>,
    /// `token_client`: the app's own service, in place of the built-in client.
    pub(crate) service: Option<TokenService>,
}

impl ClientSettings {
    /// Whether either setting was made.
    pub(crate) fn is_set(&self) -> bool {
        #[cfg(builtin_client)]
        if self.configure.is_some() || self.identity.is_some() {
            return true;
        }
        self.service.is_some()
    }

    /// Whether the built-in client presents a certificate of the crate's (`client_identity`).
    pub(crate) fn has_identity(&self) -> bool {
        #[cfg(builtin_client)]
        return self.identity.is_some();
        #[cfg(not(builtin_client))]
        return false;
    }

    /// The client these settings ask for, for requests to `url`; `InvalidConfig` when they
    /// contradict each other or ask for a client this build does not have.
    pub(crate) fn client(&self, url: &str) -> Result<TokenClient, Error> {
        #[cfg(builtin_client)]
        {
            match (&self.configure, &self.identity, &self.service) {
                (Some(_), _, Some(_)) => Err(Error::config(
                    "both http_client and token_client are set: http_client changes the \
                     built-in client, token_client replaces it; keep one",
                )),
                (_, Some(_), Some(_)) => Err(Error::config(
                    "both client_identity and token_client are set: client_identity is the \
                     built-in client's certificate, your token_client presents its own; keep \
                     one",
                )),
                (_, _, Some(service)) => Ok(TokenClient::Service(service.clone())),
                (configure, identity, None) => Ok(TokenClient::Builtin(builtin::Builtin::new(
                    url,
                    configure.clone(),
                    identity.clone(),
                ))),
            }
        }
        #[cfg(not(builtin_client))]
        {
            let _ = url;
            match &self.service {
                Some(service) => Ok(TokenClient::Service(service.clone())),
                None => Err(Error::config(
                    "no HTTP client for token requests: pass your own with token_client (a \
                     hyper-util Client<_, Full<Bytes>> or any tower HTTP service), or enable \
                     one of symbl-auth's features rustls, rustls-ring, rustls-no-provider or \
                     native-tls for the built-in one",
                )),
            }
        }
    }
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(builtin_client)]
        if self.configure.is_some() || self.identity.is_some() {
            return f
                .debug_struct("built-in")
                .field("http_client", &self.configure.as_ref().map(|_| "custom"))
                .field("client_identity", &self.identity)
                .finish();
        }
        match &self.service {
            Some(service) => fmt::Debug::fmt(service, f),
            None => f.write_str("built-in"),
        }
    }
}

/// The client of one source, for one token URL.
pub(crate) enum TokenClient {
    #[cfg(builtin_client)]
    Builtin(builtin::Builtin),
    Service(TokenService),
}

impl TokenClient {
    /// Checks what can be checked before the first request to `url`, so that `build`
    /// reports it.
    pub(crate) fn prepare(&self, url: &str) -> Result<(), Error> {
        match self {
            #[cfg(builtin_client)]
            Self::Builtin(builtin) => builtin.prepare(url),
            Self::Service(_) => {
                let _ = url; // an app's own client has no settings the crate can read
                Ok(())
            }
        }
    }

    /// Sends `request` and returns the answer, its body unread. A redirect is an error: the
    /// secret must not follow it, and a token URL that redirects is a wrong token URL.
    pub(crate) async fn send(&self, request: Request<Bytes>) -> Result<Answer, Error> {
        let url = redact_url(&request.uri().to_string()).into_owned();
        let answer = match self {
            #[cfg(builtin_client)]
            Self::Builtin(builtin) => builtin.send(request).await?,
            Self::Service(service) => service.send(request).await.map_err(failure)?,
        };
        if answer.status().is_redirection() {
            return Err(Error::rejected(answer.status()).with_reason(format!(
                "the token endpoint {url} answered with a redirect, which is never followed \
                 (it would carry the credentials along): set the token URL to the endpoint \
                 itself"
            )));
        }
        Ok(answer)
    }
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(builtin_client)]
            Self::Builtin(builtin) => fmt::Debug::fmt(builtin, f),
            Self::Service(service) => fmt::Debug::fmt(service, f),
        }
    }
}
