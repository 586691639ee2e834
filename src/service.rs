//! [`SymblAuth`]: the service that attaches the token.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::scope::Decision;
use crate::{BoxError, ReplayBody};

/// Adds `Authorization: Bearer <token>` to requests for Symbl and retries once after a 401.
///
/// Made by [`SymblAuthLayer`](crate::SymblAuthLayer). It takes requests with any body `B` and
/// hands the inner service a [`ReplayBody<B>`]; the response is the inner service's, unchanged.
/// Errors are a [`BoxError`]: the inner service's error, or a [`crate::Error`] to downcast.
pub struct SymblAuth<S> {
    inner: S,
    state: Arc<ServiceState<S>>,
}

/// What a service and its clones share: the layer's state, and a spare of the inner service
/// that a retry after a 401 clones, so that no request carries a clone of its own.
pub(crate) struct ServiceState<S> {
    pub(crate) shared: Arc<Shared>,
    spare: OnceLock<Mutex<S>>,
}

impl<S: Clone> ServiceState<S> {
    /// A new instance of the inner service for a retry; it must be polled ready.
    pub(crate) fn spare(&self) -> S {
        let spare = self
            .spare
            .get()
            .expect("the spare is set before the first authenticated request");
        // A clone cannot leave the service half-changed, so a poisoned lock is still usable.
        spare.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl<S> SymblAuth<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        let state = Arc::new(ServiceState {
            shared,
            spare: OnceLock::new(),
        });
        Self { inner, state }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    ///
    /// Retries after a 401 are sent on a clone of the instance seen at the first
    /// authenticated call, so a change made here later does not reach them.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for SymblAuth<S>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // `self.inner` was polled ready and is called here; only a request that must wait for
        // a token takes it along (leaving a clone), so the hot path clones nothing.
        let scope = &self.state.shared.scope;
        match scope.decide(request.uri(), request.headers()) {
            Decision::Attach => {
                let inner = &self.inner;
                self.state.spare.get_or_init(|| Mutex::new(inner.clone()));
                ResponseFuture::authenticate(&mut self.inner, request, &self.state)
            }
            Decision::PassThrough => {
                ResponseFuture::pass_through(self.inner.call(request.map(ReplayBody::once)))
            }
            Decision::Refuse(error) => ResponseFuture::failed(error),
        }
    }
}

impl<S: Clone> Clone for SymblAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SymblAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuth")
            .field("inner", &self.inner)
            .field("allowed_hosts", &self.state.shared.scope.hosts())
            .finish_non_exhaustive()
    }
}
