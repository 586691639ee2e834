//! [`RecordingServer`]: a real HTTP server on a loopback address of the test's choosing that
//! records every request and answers as the test says, for redirects across hosts and counted
//! sends.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::recording::{seen, Answer, Seen};

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
