//! Real hyper-util clients, and the layers the tests put around them or around the fake in
//! memory.

use bytes::Bytes;
use http_body::Body;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::TestServer;
use symbl_auth::{BoxError, ReplayBody, SymblAuth, SymblAuthLayer, TokenSource};
use tower::Layer;

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

/// A layer over a token source in memory (no sockets) that sends the token to
/// `api.symbl.ai`, for tests on paused time.
pub fn in_memory_layer(source: impl TokenSource) -> SymblAuthLayer {
    SymblAuthLayer::from_source(source)
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer")
}
