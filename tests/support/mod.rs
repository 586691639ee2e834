//! Shared pieces of the end-to-end tests: real clients, layered services, gated sources.
#![allow(dead_code, unreachable_pub)]

mod recording;
#[allow(
    unused_imports,
    reason = "each test binary uses its own part of the support"
)]
pub use recording::{redirect, status, RecordingServer, Seen};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{BoxError, ReplayBody, SymblAuth, SymblAuthLayer, TokenFuture, TokenSource};
use tokio::sync::Semaphore;
use tower::{Layer, ServiceExt};

pub type HttpClient<B = Full<Bytes>> = Client<HttpConnector, ReplayBody<B>>;

/// A real hyper-util client speaking HTTP/1.1.
pub fn http1_client<B>() -> HttpClient<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A real hyper-util client speaking HTTP/2 only: one connection, many streams, so herds of
/// thousands of requests do not need thousands of sockets.
pub fn http2_client<B>() -> HttpClient<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new())
}

/// The test server's layer around an HTTP/1.1 client.
pub fn authed_http1(server: &TestServer) -> SymblAuth<HttpClient> {
    server.layer().layer(http1_client())
}

pub fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).expect("request")
}

pub fn post(url: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(url)
        .body(Full::new(body.into()))
        .expect("request")
}

/// Sends one request through a clone of `service` and returns the status.
pub async fn status_of<S, B, R>(service: &S, request: Request<B>) -> Result<StatusCode, BoxError>
where
    S: tower::Service<Request<B>, Response = Response<R>, Error = BoxError> + Clone,
{
    let response = service.clone().oneshot(request).await?;
    Ok(response.status())
}

pub async fn body_text<B>(response: Response<B>) -> String
where
    B: Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The auth error inside a service error, or a panic that shows what came instead.
pub fn auth_error(error: &BoxError) -> &symbl_auth::Error {
    error
        .downcast_ref::<symbl_auth::Error>()
        .unwrap_or_else(|| panic!("expected a symbl_auth::Error, got {error:?}"))
}

/// A token source that holds each fetch until the test opens the gate, and counts fetches.
#[derive(Debug, Clone)]
pub struct GatedSource {
    pub fake: FakeSymbl,
    pub gate: Arc<Semaphore>,
    pub started: Arc<AtomicUsize>,
}

impl GatedSource {
    pub fn new(fake: FakeSymbl) -> Self {
        Self {
            fake,
            gate: Arc::new(Semaphore::new(0)),
            started: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    pub fn open(&self, fetches: usize) {
        self.gate.add_permits(fetches);
    }
}

impl TokenSource for GatedSource {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.expect("gate open").forget();
            self.fake.fetch_token().await
        })
    }
}

/// A layer over the fake in memory (no sockets), for tests on paused time.
pub fn in_memory_layer(source: impl TokenSource) -> SymblAuthLayer {
    SymblAuthLayer::from_source(source)
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer")
}

/// `https://api.symbl.ai{path}`: in-memory services never connect, so the real host is fine.
pub fn symbl_url(path: &str) -> String {
    format!("https://api.symbl.ai{path}")
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Installs a process-wide TRACE subscriber writing here. Once per test binary.
    pub fn install() -> Self {
        let captured = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}
