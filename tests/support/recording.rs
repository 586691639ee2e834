//! Doubles that record every request they get and answer as the test says: [`RecordingService`]
//! in memory, and [`RecordingServer`](super::RecordingServer) over real HTTP on loopback. Both
//! keep a [`Seen`] per request; [`status`] and [`redirect`] build their answers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use symbl_auth::BoxError;

/// One request as a recording double saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// As sent: absolute in memory, the path and query over HTTP.
    pub uri: Uri,
    pub authorization: Option<HeaderValue>,
    pub body: Bytes,
}

/// How a recording double answers a request.
pub type Answer = dyn Fn(&Seen) -> Response<Full<Bytes>> + Send + Sync;

/// An answer with this status and no body.
pub fn status(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// A `307` to `location`.
pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut response = status(StatusCode::TEMPORARY_REDIRECT);
    let location = HeaderValue::from_str(location).expect("location");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// Reads a request into a [`Seen`] (a body that fails or passes 1 MiB is kept empty).
pub(super) async fn seen<B>(request: Request<B>) -> Seen
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    Seen {
        uri: parts.uri,
        authorization: parts.headers.get(header::AUTHORIZATION).cloned(),
        body,
    }
}

/// An inner service in memory that records every request and answers as the test says; always
/// ready. Clones share the record.
#[derive(Clone)]
pub struct RecordingService {
    answer: Arc<Answer>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingService {
    pub fn new(answer: impl Fn(&Seen) -> Response<Full<Bytes>> + Send + Sync + 'static) -> Self {
        Self {
            answer: Arc::new(answer),
            seen: Arc::default(),
        }
    }

    /// Answers `200` to everything.
    pub fn ok() -> Self {
        Self::new(|_| status(StatusCode::OK))
    }

    /// Redirects requests for `path` to `location`, and answers `200` to the rest.
    pub fn redirecting(path: &'static str, location: &'static str) -> Self {
        Self::new(move |seen| {
            if seen.uri.path() == path {
                redirect(location)
            } else {
                status(StatusCode::OK)
            }
        })
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Each request's URI, and whether it carried an `Authorization`.
    pub fn hops(&self) -> Vec<(String, bool)> {
        let hop = |seen: &Seen| (seen.uri.to_string(), seen.authorization.is_some());
        self.seen().iter().map(hop).collect()
    }
}

impl<B> tower::Service<Request<B>> for RecordingService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (answer, record) = (Arc::clone(&self.answer), Arc::clone(&self.seen));
        Box::pin(async move {
            let seen = seen(request).await;
            let response = answer(&seen);
            record.lock().expect("lock").push(seen);
            Ok(response)
        })
    }
}
