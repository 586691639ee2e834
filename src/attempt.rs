//! One attempt at a token source, and who bounds it: the layer that runs it (with its own
//! per-attempt limit), or, for a source used on its own, the source itself.
//!
//! The cache marks the attempts it runs ([`bounded_by_layer`]); a built-in source wraps each
//! `fetch_token` in [`attempt`], which adds the default limit only where no layer bounds it, and
//! turns a missing runtime into an error instead of a panic in the transport.

use std::future::Future;
use std::time::Duration;

use crate::{AccessToken, Error};

/// The limit on one token request when nothing else sets one: a layer's default
/// (`SymblAuthLayerBuilder::DEFAULT_TOKEN_REQUEST_TIMEOUT`) and a source used on its own.
pub(crate) const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

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
/// transport, and when no layer bounds it (a source used on its own) it is limited to
/// [`DEFAULT_ATTEMPT_TIMEOUT`].
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
    let limit = DEFAULT_ATTEMPT_TIMEOUT;
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
