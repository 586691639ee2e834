//! [`SymblAuth`]: the service that attaches the token.

use std::fmt;
use std::sync::Arc;
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
    shared: Arc<Shared>,
}

impl<S> SymblAuth<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
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
        // Call the instance that was polled ready; keep a fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        match self.shared.scope.decide(request.uri(), request.headers()) {
            Decision::Attach => ResponseFuture::authenticate(inner, request, &self.shared),
            Decision::PassThrough => {
                ResponseFuture::pass_through(inner.call(request.map(ReplayBody::once)))
            }
            Decision::Refuse(error) => ResponseFuture::failed(error),
        }
    }
}

impl<S: Clone> Clone for SymblAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SymblAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuth")
            .field("inner", &self.inner)
            .field("allowed_hosts", &self.shared.scope.hosts())
            .finish_non_exhaustive()
    }
}
