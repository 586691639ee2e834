//! The HTTP client a built-in source sends its token requests with: the built-in one (reqwest,
//! features `rustls`, `rustls-ring`, `rustls-no-provider`, `native-tls`) or the app's own tower
//! service (`token_client`). The crate's rules are applied here, the same for both: no
//! redirect followed, the body read under a size cap, a timeout when no layer bounds the
//! attempt, one sorting of failures into permanent and transient, and no URL in any error.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;

use super::MAX_RESPONSE_BYTES;
use crate::redact::{redact_url, RedactedError};
use crate::{AccessToken, BoxError, Error, SymblAuthLayerBuilder};

#[cfg(builtin_client)]
mod builtin;
mod service;

#[cfg(builtin_client)]
pub(crate) use builtin::Configure;

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

tokio::task_local! {
    /// Set while a layer runs an attempt: the layer's own per-attempt limit bounds it, so the
    /// source adds none of its own (which would cut a layer with a longer limit short).
    static BOUNDED_BY_LAYER: ();
}

/// Runs one attempt of a layer's fetch, bounded by the layer (see [`attempt`]).
pub(crate) fn bounded_by_layer<F: Future>(attempt: F) -> impl Future<Output = F::Output> {
    BOUNDED_BY_LAYER.scope((), attempt)
}

/// One token request of a built-in source, as `fetch_token` runs it: outside a Tokio runtime,
/// or in one without timers, it fails with [`Error::NoRuntime`] instead of panicking in the
/// transport, and when no layer
/// bounds it (a source used on its own) it is limited to
/// [`DEFAULT_TOKEN_REQUEST_TIMEOUT`](SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT).
pub(crate) async fn attempt<F>(fetch: F) -> Result<AccessToken, Error>
where
    F: Future<Output = Result<AccessToken, Error>>,
{
    crate::runtime::with_timers(
        "a token request needs a Tokio runtime (with its time and I/O drivers): call \
         fetch_token inside one",
    )?;
    if BOUNDED_BY_LAYER.try_with(|_| ()).is_ok() {
        return fetch.await;
    }
    let limit = SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT;
    tokio::time::timeout(limit, fetch)
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)))
}

fn timed_out(limit: Duration) -> Error {
    Error::unavailable(
        format!("the token request got no answer within {limit:?}"),
        None,
    )
}

/// How a source sends its token requests: the settings given to it, resolved into one client
/// when they are checked.
#[derive(Clone, Default)]
pub(crate) struct ClientSettings {
    /// `http_client`: changes to the built-in client.
    #[cfg(builtin_client)]
    pub(crate) configure: Option<Configure>,
    /// `token_client`: the app's own service, in place of the built-in client.
    pub(crate) service: Option<TokenService>,
}

impl ClientSettings {
    /// Whether either setting was made.
    pub(crate) fn is_set(&self) -> bool {
        #[cfg(builtin_client)]
        if self.configure.is_some() {
            return true;
        }
        self.service.is_some()
    }

    /// The client these settings ask for, for requests to `url`; `InvalidConfig` when they
    /// contradict each other or ask for a client this build does not have.
    pub(crate) fn client(&self, url: &str) -> Result<TokenClient, Error> {
        #[cfg(builtin_client)]
        {
            match (&self.configure, &self.service) {
                (Some(_), Some(_)) => Err(Error::config(
                    "both http_client and token_client are set: http_client changes the \
                     built-in client, token_client replaces it; keep one",
                )),
                (_, Some(service)) => Ok(TokenClient::Service(service.clone())),
                (configure, None) => Ok(TokenClient::Builtin(builtin::Builtin::new(
                    url,
                    configure.clone(),
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
        if self.configure.is_some() {
            return f.write_str("http_client(custom)");
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

/// The whole body, up to [`MAX_RESPONSE_BYTES`]: a larger one is a broken endpoint, and reading
/// it whole would let it exhaust memory.
pub(crate) async fn read_body(answer: Answer) -> Result<Vec<u8>, Error> {
    let mut body = answer.into_body();
    if http_body::Body::size_hint(&body).lower() > MAX_RESPONSE_BYTES as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            failure_with(
                err,
                "the connection failed while reading the token response",
            )
        })?;
        if let Ok(chunk) = frame.into_data() {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
    }
    Ok(bytes)
}

pub(crate) fn too_large() -> Error {
    Error::bad_token_response(format!(
        "the body is larger than {MAX_RESPONSE_BYTES} bytes"
    ))
}

/// A request that got no answer, sorted: a refused certificate is permanent (no retry
/// changes it); anything else at the transport is transient. Its text keeps no URL.
fn failure(error: BoxError) -> Error {
    let message = if causes(&*error).any(|cause| cause.to_string().contains("timed out")) {
        "the token request timed out"
    } else if causes(&*error).any(is_connect) {
        "could not connect to the token endpoint"
    } else {
        "the token request failed"
    };
    failure_with(error, message)
}

/// [`failure`], with `message` for a transient one.
fn failure_with(error: impl Into<BoxError>, message: &'static str) -> Error {
    let error = error.into();
    let redacted = RedactedError::new(&*error);
    match certificate_problem(&*error) {
        Some(problem) => Error::untrusted(format!(
            "the token endpoint's TLS certificate was refused ({problem}): if it is signed \
             by a private CA, add that root to the token client's settings"
        ))
        .with_source(redacted),
        None => Error::unavailable(message, None).with_source(redacted),
    }
}

/// What is wrong with the endpoint's certificate, if the failure is a refused certificate
/// (rustls: "invalid peer certificate: UnknownIssuer"; OpenSSL: "certificate verify failed").
fn certificate_problem(error: &(dyn StdError + 'static)) -> Option<String> {
    causes(error)
        .map(|cause| cause.to_string())
        .filter(|text| text.to_ascii_lowercase().contains("certificate"))
        .last()
        .map(|text| redact_text(&text))
}

fn is_connect(cause: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind::*;
    cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
        matches!(
            io.kind(),
            ConnectionRefused
                | ConnectionReset
                | ConnectionAborted
                | NotConnected
                | AddrNotAvailable
                | HostUnreachable
                | NetworkUnreachable
        )
    })
}

/// `error` and its causes, including what an `io::Error` wraps (whose `source()` skips it).
pub(crate) fn causes<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static));
        next = wrapped.or_else(|| current.source());
        Some(current)
    })
}

/// `text` with every URL in it redacted.
fn redact_text(text: &str) -> String {
    crate::redact::redact_urls_in(text).into_owned()
}
