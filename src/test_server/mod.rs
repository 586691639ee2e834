//! A Symbl-compatible server on loopback, for tests and examples (feature `test-server`).
//!
//! [`TestServer`] serves a [`FakeSymbl`] over real HTTP/1.1 and HTTP/2 (cleartext) on
//! `127.0.0.1`, so your own tests can run the real layer and the real client against it:
//!
//! ```
//! use symbl_auth::test_server::TestServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = TestServer::start().await?;
//! let layer = server.layer(); // token URL and credentials point at the server
//! // ... send requests to `server.url("/v1/conversations")` through the layer ...
//! assert_eq!(server.symbl().token_requests(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! The server stops when the `TestServer` is dropped.
//!
//! With feature `websocket` on too, the same port also serves a streaming endpoint shaped like
//! Symbl's, `ws://127.0.0.1:<port>/v1/streaming/{id}` ([`TestServer::streaming_url`]): see
//! [`STREAMING_PATH`] for what it answers.

mod fake;
#[cfg(feature = "websocket")]
mod streaming;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub use fake::{
    Answer, ApiService, FakeSymbl, TokenFault, TokenReply, TEST_APP_ID, TEST_APP_SECRET,
};
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub use streaming::STREAMING_PATH;

use crate::{Credentials, SymblAuthLayer, SymblTokenSource};

/// The token endpoint's path, as on `api.symbl.ai`.
pub const TOKEN_PATH: &str = "/oauth2/token:generate";

/// A [`FakeSymbl`] served over HTTP on a free loopback port.
pub struct TestServer {
    addr: SocketAddr,
    symbl: FakeSymbl,
    accept_loop: JoinHandle<()>,
}

impl TestServer {
    /// Serves a [`FakeSymbl::new`] on `127.0.0.1`.
    pub async fn start() -> std::io::Result<Self> {
        Self::serve(FakeSymbl::new()).await
    }

    /// Serves `symbl` on `127.0.0.1`.
    pub async fn serve(symbl: FakeSymbl) -> std::io::Result<Self> {
        Self::serve_at(symbl, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves `symbl` at `addr` (port 0 picks a free one): for example where an earlier
    /// server stopped, to show a client recovering once "connection refused" ends.
    pub async fn serve_at(symbl: FakeSymbl, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept(listener, symbl.clone()));
        Ok(Self {
            addr,
            symbl,
            accept_loop,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        self.url(TOKEN_PATH)
    }

    /// The fake behind the server: its controls and counters.
    pub fn symbl(&self) -> &FakeSymbl {
        &self.symbl
    }

    /// A layer with this server's token URL and accepted credentials, otherwise default.
    pub fn layer(&self) -> SymblAuthLayer {
        self.layer_builder()
            .build()
            .unwrap_or_else(|err| panic!("the test server's layer cannot be built: {err}"))
    }

    /// A builder with this server's token URL and accepted credentials, to change further.
    ///
    /// Token requests go through the built-in client; in a build without one, through a plain
    /// hyper-util client (`token_client`), since the server is plain http on loopback.
    pub fn layer_builder(&self) -> crate::SymblAuthLayerBuilder {
        let builder =
            SymblAuthLayer::builder(self.symbl.accepted_credentials()).token_url(self.token_url());
        // Without a built-in client, or under `rustls-no-provider` before the app installed a
        // provider, the built-in one cannot be used: a plain hyper-util client stands in.
        #[cfg(builtin_client)]
        if !cfg!(tls_provider = "installed") || crate::transport::builtin_ready() {
            return builder;
        }
        builder.token_client(
            hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build_http::<Full<Bytes>>(),
        )
    }
}

impl TestServer {
    /// A token source for this server's token endpoint with `credentials` (accepted with
    /// [`FakeSymbl::accept`], or not): what a keyed layer's `make` returns in a test.
    ///
    /// ```
    /// use symbl_auth::test_server::{FakeSymbl, TestServer};
    /// use symbl_auth::{CredentialKey, Credentials, SymblAuthLayer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), symbl_auth::BoxError> {
    /// let symbl = FakeSymbl::new().accept(Credentials::new("tenant-a", "secret-a"));
    /// let server = std::sync::Arc::new(TestServer::serve(symbl).await?);
    /// let tokens = server.clone();
    /// let layer = SymblAuthLayer::keyed(move |key: &CredentialKey| {
    ///     tokens.token_source(Credentials::new(key.as_str(), "secret-a"))
    /// })
    /// .allow_host("127.0.0.1")
    /// .build()?;
    /// let token = layer.access_token_for(&CredentialKey::new("tenant-a")).await?;
    /// assert_eq!(server.symbl().issued_to(token.secret()).as_deref(), Some("tenant-a"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn token_source(&self, credentials: Credentials) -> SymblTokenSource {
        let source = SymblTokenSource::new(self.token_url(), credentials);
        #[cfg(builtin_client)]
        if !cfg!(tls_provider = "installed") || crate::transport::builtin_ready() {
            return source;
        }
        source.token_client(
            hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build_http::<Full<Bytes>>(),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Dropping the accept loop drops its `JoinSet`, which aborts every connection.
        self.accept_loop.abort();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("symbl", &self.symbl)
            .finish()
    }
}

async fn accept(listener: TcpListener, symbl: FakeSymbl) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Forget connections that have ended, so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(stream, symbl.clone()));
    }
}

/// One connection: its requests, and then the streaming session a WebSocket handshake handed
/// it to, if any. Both run in the connection's task, so dropping the server ends them.
async fn serve(stream: TcpStream, symbl: FakeSymbl) {
    #[cfg(feature = "websocket")]
    let handover = streaming::Handover::default();
    #[cfg(feature = "websocket")]
    let session = handover.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let symbl = symbl.clone();
        #[cfg(feature = "websocket")]
        let handover = handover.clone();
        async move {
            #[cfg(feature = "websocket")]
            if request.uri().path().starts_with(streaming::STREAMING_PATH) {
                return Ok(whole(streaming::handshake(&symbl, request, &handover)));
            }
            Ok::<_, Infallible>(answer(&symbl, request).await)
        }
    });
    // A connection error (client gone, reset) only ends that connection.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(stream), service)
        .await;
    #[cfg(feature = "websocket")]
    session.run().await;
}

type AnswerBody = BoxBody<Bytes, std::io::Error>;

async fn answer(symbl: &FakeSymbl, request: Request<Incoming>) -> Response<AnswerBody> {
    if request.uri().path().starts_with("/v1/") {
        return whole(symbl.api_answer(request).await.into_response());
    }
    if request.uri().path() != TOKEN_PATH {
        return status(StatusCode::NOT_FOUND);
    }
    if request.method() != Method::POST {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Ok(body) = Limited::new(request.into_body(), 64 * 1024).collect().await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    match symbl.token_reply(&body.to_bytes()) {
        TokenReply::Answer(answer) => whole(answer.into_response()),
        TokenReply::ResetMidBody(answer) => faulty(answer, Delivery::Reset),
        TokenReply::Drip { answer, interval } => faulty(answer, Delivery::Drip(interval)),
        TokenReply::Hang => std::future::pending().await,
    }
}

fn whole(response: Response<Full<Bytes>>) -> Response<AnswerBody> {
    response.map(|body| body.map_err(|never| match never {}).boxed())
}

fn status(status: StatusCode) -> Response<AnswerBody> {
    let mut response = whole(Response::new(Full::default()));
    *response.status_mut() = status;
    response
}

/// An answer whose `content-length` promises the whole body but whose body arrives badly.
fn faulty(answer: Answer, delivery: Delivery) -> Response<AnswerBody> {
    let mut response = Response::new(
        Faulty {
            rest: answer.body,
            delivery,
            pause: None,
        }
        .boxed(),
    );
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response
}

enum Delivery {
    /// Half the body, then an error: hyper drops the connection.
    Reset,
    /// The error, after the first half.
    Fail,
    /// One byte per interval.
    Drip(Duration),
}

struct Faulty {
    rest: Bytes,
    delivery: Delivery,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for Faulty {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if this.rest.is_empty() {
            return Poll::Ready(None);
        }
        match this.delivery {
            Delivery::Reset => {
                this.delivery = Delivery::Fail;
                let half = this.rest.split_to(this.rest.len() / 2);
                Poll::Ready(Some(Ok(Frame::data(half))))
            }
            Delivery::Fail => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "test server: connection reset mid-body",
            )))),
            Delivery::Drip(interval) => {
                let pause = this
                    .pause
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
                ready!(pause.as_mut().poll(cx));
                this.pause = None;
                Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(1)))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        // Promise the whole body, so the client knows it was cut short.
        SizeHint::with_exact(self.rest.len() as u64)
    }
}
