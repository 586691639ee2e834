//! [`RecordingServer`]: a real HTTP server on a loopback address of the test's choosing that
//! records every request and answers as the test says, for redirects across hosts and counted
//! sends.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::recording::{redirect, seen, status, Answer, Seen};

pub struct RecordingServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    accept: JoinHandle<()>,
}

impl RecordingServer {
    /// Serves HTTP/1.1 and h2c on `ip` (a loopback address), answering each request with
    /// `answer`.
    pub async fn start(
        ip: [u8; 4],
        answer: impl Fn(&Seen) -> Response<Full<Bytes>> + Send + Sync + 'static,
    ) -> Self {
        let ip = IpAddr::from(ip);
        assert!(ip.is_loopback(), "tests bind loopback only");
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .unwrap_or_else(|error| panic!("binding {ip}: {error}"));
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let accept = tokio::spawn(accept(listener, Arc::clone(&seen), answer));
        Self { addr, seen, accept }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request so far, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept(listener: TcpListener, record: Arc<Mutex<Vec<Seen>>>, answer: Arc<Answer>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let (record, answer) = (Arc::clone(&record), Arc::clone(&answer));
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (record, answer) = (Arc::clone(&record), Arc::clone(&answer));
                async move {
                    let seen = seen(request).await;
                    let response = answer(&seen);
                    record.lock().expect("lock").push(seen);
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A redirect across hosts on loopback: `127.0.0.1` redirects every request to `127.0.0.2`,
/// which answers `401` to everything. A layer whose token goes to `127.0.0.1` (a test
/// server's) must not take that 401 for its own.
pub struct CrossHostRedirect {
    pub redirecting: RecordingServer,
    pub elsewhere: RecordingServer,
}

impl CrossHostRedirect {
    pub async fn start() -> Self {
        let elsewhere =
            RecordingServer::start([127, 0, 0, 2], |_| status(StatusCode::UNAUTHORIZED)).await;
        let target = elsewhere.url("/landing");
        let redirecting = RecordingServer::start([127, 0, 0, 1], move |_| redirect(&target)).await;
        Self {
            redirecting,
            elsewhere,
        }
    }

    /// Where the redirect starts.
    pub fn url(&self) -> String {
        self.redirecting.url("/start")
    }

    /// The token went to `127.0.0.1`; `127.0.0.2` was asked once, and never saw it.
    pub fn assert_the_token_stayed_on_the_first_host(&self) {
        let (first, second) = (self.redirecting.seen(), self.elsewhere.seen());
        assert!(
            first[0].authorization.is_some(),
            "the token went to 127.0.0.1"
        );
        assert_eq!(second.len(), 1, "127.0.0.2 was asked once");
        assert!(second[0].authorization.is_none(), "and never saw the token");
    }
}
