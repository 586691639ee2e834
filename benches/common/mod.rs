//! The contenders every benchmark compares, and the no-op inner service.
//!
//! - **bare**: the inner service, no layer.
//! - **lower bound**: tower-http's `AddAuthorization::bearer` with a fixed token.
//! - **usual design**: [`UsualAuth`], written here as the baseline: the shape of azure_core's
//!   bearer policy and gcp_auth (an `Arc<tokio::sync::RwLock<Option<Token>>>` read on every
//!   request, inside a boxed async future). It is not part of symbl-auth.
//! - **symbl-auth**: `SymblAuthLayer` with a warm cache.
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
use http_body_util::Empty;
use symbl_auth::{AccessToken, BoxError, SymblAuthLayer, TokenFuture, TokenSource};
use tokio::sync::RwLock;
use tokio::time::Instant;
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

/// The inner service of the hot-path benchmarks: reads the body to its end, as a transport
/// would (so a recording body does its work), and answers at once: `204` when the request
/// carries a bearer token, `200` otherwise.
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
            *response.status_mut() = StatusCode::NO_CONTENT;
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

struct UsualToken {
    header: HeaderValue,
    expires_at: Instant,
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
                if Instant::now() < token.expires_at {
                    return Ok(token.header.clone());
                }
            }
        }
        let mut guard = self.token.write().await;
        if let Some(token) = &*guard {
            if Instant::now() < token.expires_at {
                return Ok(token.header.clone());
            }
        }
        let sent_at = Instant::now();
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
