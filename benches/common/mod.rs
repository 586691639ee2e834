//! The contenders every benchmark compares, the request shapes, and the no-op inner service.
//!
//! - **bare**: the inner service, no layer.
//! - **lower bound**: tower-http's `AddAuthorization::bearer` with a fixed token.
//! - **peer**: [`Peer`], what a tower user would write by hand for the same job: the token in
//!   an `Arc<tokio::sync::RwLock<Option<HeaderValue>>>` read per request in a boxed future
//!   (cloning the inner service with `mem::replace`), under `tower::retry::Retry` with a policy
//!   whose `clone_request` copies method, URI, version, headers and body, retrying once on 401.
//! - **usual design**: [`UsualAuth`], the shape of azure_core's bearer policy and gcp_auth (an
//!   `Arc<tokio::sync::RwLock<Option<Token>>>` with an expiry, read per request in a boxed
//!   future), without a retry.
//! - **symbl-auth**: `SymblAuthLayer` with a warm cache.
//!
//! None but the last is part of symbl-auth.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{Empty, Full};
use symbl_auth::{AccessToken, BoxError, SymblAuthLayer, TokenFuture, TokenSource};
use tokio::sync::RwLock;
use tower::retry::{Policy, Retry};
use tower::Service;

/// A token of Symbl's usual size (about 1 KiB, a JWT).
pub fn token() -> String {
    let mut token = String::from("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.");
    while token.len() < 1000 {
        token.push_str("eyJzdWIiOiJiZW5jaCIsImF1ZCI6InN5bWJsIn0");
    }
    token
}

/// A token source that always grants [`token`] for a day, in memory.
#[derive(Debug, Clone, Copy)]
pub struct FixedSource;

impl TokenSource for FixedSource {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async { AccessToken::new(&token(), Duration::from_secs(86_400)) })
    }
}

/// symbl-auth over [`FixedSource`], for `https://api.symbl.ai` and `127.0.0.1`.
pub fn symbl_layer() -> SymblAuthLayer {
    SymblAuthLayer::from_source(FixedSource)
        .allow_host("api.symbl.ai")
        .allow_host("127.0.0.1")
        .build()
        .expect("layer")
}

// The request shapes, production-like, to Symbl's API host.

/// `POST /v1/process/text` with an empty body and no headers.
pub fn empty_post() -> Request<Full<Bytes>> {
    Request::post("https://api.symbl.ai/v1/process/text")
        .body(Full::default())
        .expect("request")
}

/// `POST /v1/process/text` with a 1 KiB JSON body in a `Bytes` that is already shared, as
/// `Bytes::from(serde_json::to_vec(..))` leaves it (a `Vec` with spare capacity): its clones
/// are reference counts.
pub fn post_1k() -> Request<Full<Bytes>> {
    let mut json = Vec::with_capacity(2048);
    json.extend_from_slice(br#"{"messages":[{"payload":{"content":""#);
    json.resize(1022, b'x');
    json.extend_from_slice(br#""}}]}"#);
    Request::post("https://api.symbl.ai/v1/process/text")
        .body(Full::new(Bytes::from(json)))
        .expect("request")
}

/// The same body in a `Bytes` that owns its buffer alone (`Bytes::from(vec)` with the length
/// equal to the capacity, or `Bytes::copy_from_slice`): its first clone allocates the shared
/// form, in `bytes`.
pub fn post_1k_unique() -> Request<Full<Bytes>> {
    let body: Vec<u8> = post_1k_body().to_vec();
    Request::post("https://api.symbl.ai/v1/process/text")
        .body(Full::new(Bytes::from(body)))
        .expect("request")
}

fn post_1k_body() -> Bytes {
    let (_, body) = post_1k().into_parts();
    let mut body = pin!(body);
    match body
        .as_mut()
        .poll_frame(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().expect("data"),
        _ => unreachable!("a full body"),
    }
}

/// `GET /v1/conversations` with three headers: two static, one built at run time.
pub fn get_3_headers() -> Request<Full<Bytes>> {
    let request_id = HeaderValue::from_str(&format!("req-{:08x}", 0x5eed_u32)).expect("value");
    Request::get("https://api.symbl.ai/v1/conversations")
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .header(header::USER_AGENT, HeaderValue::from_static("my-app/1.0"))
        .header("x-request-id", request_id)
        .body(Full::default())
        .expect("request")
}

/// Makes one request of a shape.
pub type Shape = fn() -> Request<Full<Bytes>>;

/// The shapes, by name.
pub const SHAPES: [(&str, Shape); 3] = [
    ("empty_post", empty_post),
    ("post_1k", post_1k),
    ("get_3_headers", get_3_headers),
];

/// The inner service of the hot-path benchmarks: reads the body to its end, as a transport
/// would (so a recording body does its work), and answers at once as an API does: `200` with
/// a `content-type` when the request carries a bearer token, `400` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Noop;

impl<B: Body> Service<Request<B>> for Noop {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let authorized = request.headers().contains_key(header::AUTHORIZATION);
        drain(request.into_body());
        let mut response = Response::new(Empty::new());
        if authorized {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        } else {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        std::future::ready(Ok(response))
    }
}

/// Polls a body to its end, stopping as hyper does once `is_end_stream` is true.
fn drain<B: Body>(body: B) {
    let mut body = pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    while !body.is_end_stream() {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => drop(std::hint::black_box(frame)),
            _ => break,
        }
    }
}

/// Polls a future once; the hot path must never wait.
pub fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the hot path waited"),
    }
}

/// One request through `service` with the tower contract (ready, then call), polled once.
pub fn send_now<S, B>(service: &mut S, request: Request<B>) -> S::Response
where
    S: Service<Request<B>>,
    S::Error: std::fmt::Debug,
{
    now(std::future::poll_fn(|cx| service.poll_ready(cx))).expect("ready");
    now(service.call(request)).expect("response")
}

/// The peer's token: read per request, written on a miss.
pub type PeerToken = Arc<RwLock<Option<HeaderValue>>>;

/// The peer: [`PeerAuth`] under `tower::retry::Retry` with [`RetryOnce401`].
pub type Peer<S> = Retry<RetryOnce401, PeerAuth<S>>;

pub fn peer<S>(inner: S) -> Peer<S> {
    let token = PeerToken::default();
    let auth = PeerAuth {
        inner,
        token: Arc::clone(&token),
        source: Arc::new(FixedSource),
    };
    Retry::new(
        RetryOnce401 {
            retried: false,
            token,
        },
        auth,
    )
}

/// The peer's authentication: a read lock per request in a boxed future; on a miss, the write
/// lock, a second look, and a fetch.
#[derive(Clone)]
pub struct PeerAuth<S> {
    inner: S,
    token: PeerToken,
    source: Arc<dyn TokenSource>,
}

impl<S, B> Service<Request<B>> for PeerAuth<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (token, source) = (Arc::clone(&self.token), Arc::clone(&self.source));
        Box::pin(async move {
            let cached = token.read().await.clone();
            let header = match cached {
                Some(header) => header,
                None => {
                    let mut slot = token.write().await;
                    match &*slot {
                        Some(header) => header.clone(),
                        None => {
                            let fetched = source.fetch_token().await?;
                            let header = fetched.header_value().clone();
                            *slot = Some(header.clone());
                            header
                        }
                    }
                }
            };
            request.headers_mut().insert(header::AUTHORIZATION, header);
            inner.call(request).await.map_err(Into::into)
        })
    }
}

/// The peer's retry policy: once, on a 401, after dropping the token.
#[derive(Clone)]
pub struct RetryOnce401 {
    retried: bool,
    token: PeerToken,
}

impl<B: Clone, R> Policy<Request<B>, Response<R>, BoxError> for RetryOnce401 {
    type Future = Ready<()>;

    fn retry(
        &mut self,
        _request: &mut Request<B>,
        result: &mut Result<Response<R>, BoxError>,
    ) -> Option<Self::Future> {
        match result {
            Ok(response) if response.status() == StatusCode::UNAUTHORIZED && !self.retried => {
                self.retried = true;
                if let Ok(mut slot) = self.token.try_write() {
                    *slot = None;
                }
                Some(std::future::ready(()))
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        let mut clone = Request::new(request.body().clone());
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.version_mut() = request.version();
        *clone.headers_mut() = request.headers().clone();
        Some(clone)
    }
}

/// The usual hand-written design, as the baseline. Not symbl-auth.
#[derive(Clone)]
pub struct UsualAuth<S> {
    inner: S,
    cache: Arc<UsualCache>,
}

pub struct UsualCache {
    token: RwLock<Option<UsualToken>>,
    source: Arc<dyn TokenSource>,
}

/// Expiry on the standard clock, as an application built without tokio's `test-util` reads it
/// (the benches are built with it, which puts a lock in `tokio::time::Instant::now`).
#[allow(clippy::disallowed_types)]
type Clock = std::time::Instant;

struct UsualToken {
    header: HeaderValue,
    expires_at: Clock,
}

impl UsualCache {
    pub fn new(source: impl TokenSource) -> Arc<Self> {
        Arc::new(Self {
            token: RwLock::new(None),
            source: Arc::new(source),
        })
    }

    /// Read lock on every request; on a miss, the write lock, a second look, and a fetch.
    async fn header(&self) -> Result<HeaderValue, BoxError> {
        {
            let guard = self.token.read().await;
            if let Some(token) = &*guard {
                if Clock::now() < token.expires_at {
                    return Ok(token.header.clone());
                }
            }
        }
        let mut guard = self.token.write().await;
        if let Some(token) = &*guard {
            if Clock::now() < token.expires_at {
                return Ok(token.header.clone());
            }
        }
        let sent_at = Clock::now();
        let token = self.source.fetch_token().await?;
        let header = token.header_value().clone();
        *guard = Some(UsualToken {
            header: header.clone(),
            expires_at: sent_at + token.expires_in(),
        });
        Ok(header)
    }
}

impl<S> UsualAuth<S> {
    pub fn new(inner: S, cache: Arc<UsualCache>) -> Self {
        Self { inner, cache }
    }
}

impl<S, B> Service<Request<B>> for UsualAuth<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cache = Arc::clone(&self.cache);
        Box::pin(async move {
            let header = cache.header().await?;
            request.headers_mut().insert(header::AUTHORIZATION, header);
            inner.call(request).await.map_err(Into::into)
        })
    }
}

/// A token source that answers `latency` after being asked, like an endpoint on a real network.
#[derive(Debug, Clone)]
pub struct Delayed<T> {
    pub inner: T,
    pub latency: Duration,
}

impl<T: TokenSource + Clone> TokenSource for Delayed<T> {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            self.inner.fetch_token().await
        })
    }
}

/// The median of some figures.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}
