//! Hand-written loopback peers for the token request's HTTP tests: a token endpoint (plain or
//! TLS) and a forward proxy, each recording what it sees so tests count exactly.
//!
//! Both serve until dropped (their accept task is aborted), connect only to 127.0.0.1, and
//! answer one request per connection (`connection: close`), so a count of connections is a
//! count of requests.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;

/// One request as it arrived: the request line, the head in lowercase, and the body.
#[derive(Clone, Debug)]
pub struct Seen {
    pub line: String,
    pub head: String,
    pub body: String,
}

/// A status, extra header lines and a body to answer with.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: &'static str,
    pub headers: Vec<String>,
    pub body: String,
    /// Sent with `transfer-encoding: chunked` (4 KiB chunks) instead of a `content-length`:
    /// a reader cannot tell its size before reading it.
    pub chunked: bool,
}

impl Reply {
    pub fn json(status: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec!["content-type: application/json".into()],
            body: body.into(),
            chunked: false,
        }
    }

    /// `200` with a Bearer token.
    pub fn token(token: &str, expires_in: u64) -> Self {
        Self::json(
            "200 OK",
            format!(
                r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{expires_in}}}"#
            ),
        )
    }

    pub fn header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }

    /// The same, its body sent chunked.
    pub fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }
}

/// A peer on 127.0.0.1 that accepts connections, holds them open and never answers.
pub struct SilentPeer {
    pub addr: std::net::SocketAddr,
    task: JoinHandle<()>,
}

impl SilentPeer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        Self { addr, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for SilentPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A token endpoint on 127.0.0.1 that answers every request with `reply`.
pub struct TokenEndpoint {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl TokenEndpoint {
    pub async fn start(reply: Reply) -> Self {
        Self::serve(reply, None).await
    }

    /// The same over TLS with `acceptor`'s certificate.
    pub async fn start_tls(reply: Reply, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        Self::serve(reply, Some(acceptor)).await
    }

    async fn serve(reply: Reply, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (reply, record, tls) = (reply.clone(), Arc::clone(&record), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        // A handshake the client refused ends here, unrecorded.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                answer(stream, &reply, &record).await;
                            }
                        }
                        None => answer(stream, &reply, &record).await,
                    }
                });
            }
        });
        Self { port, seen, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn requests(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer<S>(mut stream: S, reply: &Reply, record: &Mutex<Vec<Seen>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some((head, body)) = read_request(&mut stream).await else {
        return;
    };
    let line = head.lines().next().unwrap_or_default().to_owned();
    record.lock().expect("lock").push(Seen {
        line,
        head: head.to_ascii_lowercase(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let mut response = format!("HTTP/1.1 {}\r\nconnection: close\r\n", reply.status);
    for header in &reply.headers {
        response.push_str(header);
        response.push_str("\r\n");
    }
    if !reply.chunked {
        response.push_str(&format!("content-length: {}\r\n\r\n", reply.body.len()));
        response.push_str(&reply.body);
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let mut response = response.into_bytes();
    response.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    for chunk in reply.body.as_bytes().chunks(4096) {
        response.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        response.extend_from_slice(chunk);
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(b"0\r\n\r\n");
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// Reads one request: the head up to the blank line, then `content-length` bytes of body.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0; 4096];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buffer[end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((head, body))
}

/// A forward proxy on 127.0.0.1: `CONNECT host:port` tunnels, and absolute-form requests
/// (`POST http://host:port/path`) are forwarded. Whatever host is asked for, it connects to
/// 127.0.0.1 on the port asked for: nothing leaves the machine, and a test can use a host
/// name that only the proxy "resolves".
pub struct ForwardProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl ForwardProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(proxy(client, Arc::clone(&record)));
            }
        });
        Self { port, seen, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request line of each request proxied, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy(mut client: TcpStream, record: Arc<Mutex<Vec<String>>>) {
    let Some((head, body)) = read_request(&mut client).await else {
        return;
    };
    let line = head.lines().next().unwrap_or_default().to_owned();
    record.lock().expect("lock").push(line.clone());
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if method == "CONNECT" {
        let Some(port) = target
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
        else {
            return;
        };
        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return;
        };
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    // http://host:port/path → /path, sent to 127.0.0.1:port.
    let Some(rest) = target.strip_prefix("http://") else {
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(80);
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let path = if path.is_empty() { "/" } else { path };
    let rest_of_head = head.split_once("\r\n").map_or("", |(_, rest)| rest);
    let forwarded = format!("{method} {path} {version}\r\n{rest_of_head}\r\n\r\n");
    if upstream.write_all(forwarded.as_bytes()).await.is_err()
        || upstream.write_all(&body).await.is_err()
    {
        return;
    }
    // The endpoint answers once and closes; pass its answer back whole.
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer).await;
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
}

/// A self-signed certificate for `127.0.0.1` and `token.test`: the server's TLS acceptor, and
/// the certificate, to be added as a root by a client (`reqwest::Certificate::from_der`).
pub fn self_signed() -> (
    tokio_rustls::TlsAcceptor,
    rustls::pki_types::CertificateDer<'static>,
) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "token.test".to_owned()])
            .expect("certificate");
    let der = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .expect("server config");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), der)
}
