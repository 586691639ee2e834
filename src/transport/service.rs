//! The app's own tower HTTP service as a token client (`token_client`), with its type erased
//! once so that sources and builders stay non-generic.

use std::fmt;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Buf, Bytes};
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tower_service::Service;

use super::Answer;
use crate::BoxError;

type Sent = Pin<Box<dyn Future<Output = Result<Answer, BoxError>> + Send>>;

/// A tower service that takes `Request<Full<Bytes>>` (or any body made from one) and answers
/// `Response<impl Body>`, shared by every clone of the source that holds it.
#[derive(Clone)]
pub(crate) struct TokenService {
    inner: Arc<dyn DynClient + Send + Sync>,
}

/// What [`TokenService`] needs of the erased service.
trait DynClient {
    fn send(&self, request: Request<Full<Bytes>>) -> Sent;
    fn name(&self) -> &'static str;
}

/// The service, behind a mutex only so that it need not be `Sync` (a `BoxCloneService` is
/// not): each request clones it out, as tower's readiness contract asks, and drives the clone.
struct Erased<S, ReqBody> {
    service: Mutex<S>,
    _body: PhantomData<fn(ReqBody)>,
}

impl TokenService {
    pub(crate) fn new<S, ReqBody, ResBody>(service: S) -> Self
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        ReqBody: From<Full<Bytes>> + 'static,
        ResBody: Body + Send + 'static,
        ResBody::Data: Send,
        ResBody::Error: Into<BoxError>,
    {
        Self {
            inner: Arc::new(Erased {
                service: Mutex::new(service),
                _body: PhantomData,
            }),
        }
    }

    /// Sends one request: waits for the service to be ready, then calls it.
    pub(crate) async fn send(&self, request: Request<Bytes>) -> Result<Answer, BoxError> {
        self.inner.send(request.map(Full::new)).await
    }
}

impl<S, ReqBody, ResBody> DynClient for Erased<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ReqBody: From<Full<Bytes>> + 'static,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn send(&self, request: Request<Full<Bytes>>) -> Sent {
        // A panic while the lock was held cannot leave a half-made clone behind.
        let mut service = self
            .service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = service
                .call(request.map(ReqBody::from))
                .await
                .map_err(Into::into)?;
            Ok(response.map(|body| {
                body.map_frame(|frame| {
                    frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
                })
                .map_err(Into::into)
                .boxed_unsync()
            }))
        })
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<S>()
    }
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("token_client")
            .field(&self.inner.name())
            .finish()
    }
}
