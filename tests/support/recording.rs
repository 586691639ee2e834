//! A real HTTP server on a loopback address of the test's choosing that records every request
//! (and answers as the test says), for redirects across hosts and counted sends.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<HeaderValue>,
    pub body: Bytes,
}

type Answer = dyn Fn(&Seen) -> Response<Full<Bytes>> + Send + Sync;

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

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept(listener: TcpListener, seen: Arc<Mutex<Vec<Seen>>>, answer: Arc<Answer>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
                async move {
                    let (parts, body) = request.into_parts();
                    let body = match Limited::new(body, 1 << 20).collect().await {
                        Ok(body) => body.to_bytes(),
                        Err(_) => Bytes::new(),
                    };
                    let request = Seen {
                        path: parts.uri.path().to_owned(),
                        authorization: parts.headers.get(http::header::AUTHORIZATION).cloned(),
                        body,
                    };
                    let response = answer(&request);
                    seen.lock().expect("lock").push(request);
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// An answer with this status and no body.
pub fn status(status: http::StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// A `307` to `location`.
pub fn redirect(location: &str) -> Response<Full<Bytes>> {
    let mut response = status(http::StatusCode::TEMPORARY_REDIRECT);
    let location = HeaderValue::from_str(location).expect("location");
    response
        .headers_mut()
        .insert(http::header::LOCATION, location);
    response
}
