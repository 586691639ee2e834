//! The built-in token client: reqwest, on the TLS the crate's features choose, with the
//! user's `http_client` settings and the crate's own forced over them.

use std::fmt;
use std::sync::{Arc, OnceLock};

use std::future::Future;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;

use super::failure::failure_with;
use super::{Answer, ClientIdentity};
use crate::cleartext::is_loopback;
use crate::Error;

/// The user's changes to the built-in client: a proxy, root certificates.
pub(crate) type Configure =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;

/// The settings of one source's client, and the client built from them once.
pub(crate) struct Builtin {
    configure: Option<Configure>,
    /// The certificate to present (`client_identity`), forced over the settings.
    identity: Option<ClientIdentity>,
    /// The token URL is on loopback: no proxy may see the request (it may be plain http, and
    /// nothing needs to leave the machine), whatever the environment or the settings say.
    direct: bool,
    /// The token URL is plain http: TLS is not needed (but for an https proxy), so the crate's
    /// own config is used, which reads the CA store only at a first handshake.
    plain_http: bool,
    client: OnceLock<reqwest::Client>,
}

impl Builtin {
    pub(super) fn new(
        url: &str,
        configure: Option<Configure>,
        identity: Option<ClientIdentity>,
    ) -> Self {
        let uri = url.parse::<http::Uri>().ok();
        let uri = uri.as_ref();
        Self {
            direct: uri.and_then(http::Uri::host).is_some_and(is_loopback),
            // With a certificate to present, TLS is meant: a plain-http issuer's metadata
            // sends the token requests to its https mTLS alias (RFC 8705 §5).
            plain_http: uri.and_then(http::Uri::scheme_str) == Some("http") && identity.is_none(),
            configure,
            identity,
            client: OnceLock::new(),
        }
    }

    /// Checks the settings where that costs little: a client with the user's settings or a
    /// client identity is built now, to report their errors; the default one on first use
    /// (building it reads the system's CA store, which a host without TLS need not have).
    pub(super) fn prepare(&self, url: &str) -> Result<(), Error> {
        if let Some(configure) = &self.configure {
            if self.plain_http {
                self.refused_by_settings(configure, url)?;
            }
        }
        if self.configure.is_some() || self.identity.is_some() {
            return self.client().map(drop);
        }
        #[cfg(tls_provider = "installed")]
        crate::tls::provider()?;
        Ok(())
    }

    /// The client, built on first use. A build that fails is returned and not kept: the next
    /// call tries again.
    pub(super) fn client(&self) -> Result<&reqwest::Client, Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = if self.configure.is_some() || self.identity.is_some() {
            self.build()?
        } else {
            self.shared()?
        };
        Ok(self.client.get_or_init(|| client))
    }

    /// The client without user settings, which is the same for every source whose token URL
    /// is alike (on loopback or not, plain http or not): built once per process and shared,
    /// as reqwest advises (with no idle connections: see `builder`). Each build reads the system's CA store (tens of
    /// milliseconds), on whichever runtime thread asks first.
    fn shared(&self) -> Result<reqwest::Client, Error> {
        static SHARED: [OnceLock<reqwest::Client>; 4] = [const { OnceLock::new() }; 4];
        let slot = &SHARED[usize::from(self.direct) * 2 + usize::from(self.plain_http)];
        if let Some(client) = slot.get() {
            return Ok(client.clone());
        }
        let client = self.build()?;
        Ok(slot.get_or_init(|| client).clone())
    }

    fn build(&self) -> Result<reqwest::Client, Error> {
        self.builder(self.configure.as_ref())?
            .build()
            .map_err(|err| {
                Error::config("could not build the token request's HTTP client from its settings")
                    .with_source(err.without_url())
            })
    }

    /// A builder with `configure` (the user's settings), and the crate's forced over them.
    fn builder(&self, configure: Option<&Configure>) -> Result<reqwest::ClientBuilder, Error> {
        let mut builder = tls_backend(
            reqwest::Client::builder()
                .user_agent(concat!("symbl-auth/", env!("CARGO_PKG_VERSION"))),
        )?;
        if let Some(configure) = configure {
            builder = configure(builder);
        }
        // Forced after the user's settings, whatever they say: the secret never follows a
        // redirect, and reqwest never logs the bytes it sends. No timeout here: a layer bounds
        // each attempt with its own limit, and a source used alone with its default one.
        //
        // No idle connection is kept either. A kept connection is driven by a task of the
        // runtime that opened it, and the client is shared by every runtime of the process
        // (and a layer in a `static` by every `#[tokio::test]`): once that runtime ends, the
        // next token request that picks the connection fails ("dispatch task is gone",
        // reqwest #1148, #2501). A client per runtime would need a registry of runtimes; a
        // token request comes once per token lifetime (an hour, a day), so a pool saves one
        // connection setup per lifetime and costs nothing to give up.
        builder = forced_tls(builder, self.plain_http, self.identity.as_ref())?
            .redirect(reqwest::redirect::Policy::none())
            .connection_verbose(false)
            .pool_max_idle_per_host(0);
        if self.direct {
            builder = builder.no_proxy();
        }
        Ok(builder)
    }

    /// Fails if the user's settings refuse every request to `url` before sending anything
    /// (`https_only` with a plain-http token URL), so that `build` says so rather than each
    /// fetch. reqwest has no getter for it: a throwaway client with the same settings, whose
    /// connector fails at once, is asked to send one request and polled once. A refusal by
    /// the settings is ready at once; any other request reaches the failing connector, so
    /// nothing leaves the process.
    ///
    /// The request is made and polled in a Tokio runtime of its own (current-thread, timers
    /// only, no thread started): with a timeout among the settings reqwest makes a timer for
    /// the request, which panics outside a runtime or in one without timers, and `build` may
    /// be called from either. Entering it from inside another runtime is allowed, and it is
    /// shut down without waiting, which is allowed there too.
    fn refused_by_settings(&self, configure: &Configure, url: &str) -> Result<(), Error> {
        let Ok(probe) = self
            .builder(Some(configure))?
            .connector_layer(Unreachable)
            .build()
        else {
            return Ok(()); // reported by the real build, next
        };
        let Ok(request) = probe.post(url).build() else {
            return Ok(());
        };
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            return Ok(()); // the first fetch reports a refusal as well (`network_error`)
        };
        let refused = {
            let _context = runtime.enter();
            let mut sent = std::pin::pin!(probe.execute(request));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match sent.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(Err(err)) if err.is_builder() => Some(err),
                _ => None,
            }
        };
        runtime.shutdown_background();
        match refused {
            Some(err) => Err(Error::config(
                "the http_client settings refuse every request to the token URL (https_only \
                 with a plain-http token URL?)",
            )
            .with_source(err.without_url())),
            None => Ok(()),
        }
    }

    pub(super) async fn send(&self, request: Request<Bytes>) -> Result<Answer, Error> {
        let client = self.client()?;
        crate::runtime::check_io()?;
        let request = reqwest::Request::try_from(request).map_err(|err| {
            Error::config("the token URL is not a URL the token request can be sent to")
                .with_source(err.without_url())
        })?;
        let response = client.execute(request).await.map_err(network_error)?;
        Ok(http::Response::from(response).map(|body| body.map_err(Into::into).boxed_unsync()))
    }
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("reqwest")
            .field("tls", &TLS)
            .field(
                "settings",
                &if self.configure.is_some() {
                    "custom"
                } else {
                    "default"
                },
            )
            .field("client_identity", &self.identity)
            .finish()
    }
}

/// A connector layer whose service fails every connection at once, for the probe above.
#[derive(Clone, Copy)]
struct Unreachable;

impl<S> tower_layer::Layer<S> for Unreachable {
    type Service = UnreachableService<S>;

    fn layer(&self, _inner: S) -> Self::Service {
        UnreachableService(std::marker::PhantomData)
    }
}

/// Answers like the connector it replaces (`S`), but only with an error.
struct UnreachableService<S>(std::marker::PhantomData<fn() -> S>);

impl<S> Clone for UnreachableService<S> {
    fn clone(&self) -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<S, R> tower_service::Service<R> for UnreachableService<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = std::future::Ready<Result<S::Response, crate::BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: R) -> Self::Future {
        std::future::ready(Err("the settings probe connects nowhere".into()))
    }
}

fn network_error(err: reqwest::Error) -> Error {
    if err.is_builder() {
        // Made before anything was sent: the settings themselves refuse the request (such
        // as `https_only` with a plain-http token URL). No retry changes that.
        return Error::config(
            "the http_client settings refuse the token request (https_only with an http token \
             URL?)",
        )
        .with_source(err.without_url());
    }
    let message = if err.is_timeout() {
        "the token request timed out"
    } else if err.is_connect() {
        "could not connect to the token endpoint"
    } else if err.is_body() || err.is_decode() {
        "the connection failed while reading the token response"
    } else {
        "the token request failed"
    };
    // `without_url` keeps the URL (which may carry userinfo) out of every message.
    failure_with(err.without_url(), message)
}

/// The TLS the features choose, for `Debug`.
const TLS: &str = if cfg!(tls_provider = "aws-lc-rs") {
    "rustls (aws-lc-rs)"
} else if cfg!(tls_provider = "ring") {
    "rustls (ring)"
} else if cfg!(tls_provider = "installed") {
    "rustls (the installed provider)"
} else {
    "native-tls"
};

/// Picks the backend before the user's settings, so that reqwest's own TLS settings made there
/// (roots, versions, identity) apply to it.
fn tls_backend(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, Error> {
    #[cfg(tls_provider = "installed")]
    // reqwest would panic at build without one.
    crate::tls::provider()?;
    #[cfg(tls_rustls)]
    return Ok(builder.tls_backend_rustls());
    #[cfg(not(tls_rustls))]
    return Ok(builder.tls_backend_native());
}

/// The crate's own rustls config, where reqwest's would not do: with ring, reqwest cannot be
/// handed the provider but in a whole config; for a plain-http token URL, reqwest's would read
/// the system's CA store at build, for nothing. A whole config makes reqwest ignore its own TLS
/// settings, so this is forced after the user's (documented on `http_client`). Otherwise
/// (aws-lc-rs, reqwest's own default, or an installed provider, which reqwest finds itself;
/// native-tls) reqwest builds its config from the user's settings.
///
/// The client identity goes into whichever config is used: the crate's (with the same
/// provider and verifier), or reqwest's as a `reqwest::Identity`, forced over any identity in
/// the user's settings, so that the user's roots keep working beside it. Under rustls the key
/// is checked against the certificate by the crate first, for a clear error.
fn forced_tls(
    builder: reqwest::ClientBuilder,
    plain_http: bool,
    identity: Option<&ClientIdentity>,
) -> Result<reqwest::ClientBuilder, Error> {
    #[cfg(tls_rustls)]
    {
        let config = match identity {
            Some(identity) => Some(identity.rustls_config()?),
            None => None,
        };
        if plain_http || cfg!(tls_provider = "ring") {
            let config = match config {
                Some(config) => config,
                None => crate::tls::client_config()?,
            };
            return Ok(builder.tls_backend_preconfigured(config));
        }
    }
    let _ = plain_http;
    match identity {
        Some(identity) => Ok(builder.identity(identity.reqwest()?)),
        None => Ok(builder),
    }
}
