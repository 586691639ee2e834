//! [`RawPeer`]: a TCP peer on loopback that reads each request head and answers as scripted,
//! with raw bytes or not at all: for what a client puts on the wire, and for a peer that
//! accepts a connection and never answers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the peer answers one connection.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    /// These bytes once the request head is in; then it closes.
    Raw(&'static str),
    /// Nothing: it reads the head and holds the connection open.
    Silent,
}

/// `HTTP/1.1 <status>` with no body, closing the connection.
pub const ANSWER_401: &str =
    "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
pub const ANSWER_503: &str =
    "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
pub const ANSWER_200: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// A scripted peer on `127.0.0.1`; dropping it closes every connection.
pub struct RawPeer {
    addr: SocketAddr,
    record: Arc<Record>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Record {
    connections: Mutex<usize>,
    heads: Mutex<Vec<String>>,
}

impl RawPeer {
    /// Answers the n-th connection with `replies[n]`; those past the list get [`Reply::Silent`].
    pub async fn start(replies: &[Reply]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let record = Arc::new(Record::default());
        let accept = tokio::spawn(accept(listener, replies.to_vec(), Arc::clone(&record)));
        Self {
            addr,
            record,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `scheme://127.0.0.1:<port>path`.
    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        *self.record.connections.lock().expect("lock")
    }

    /// Every complete request head read so far, in order of arrival.
    pub fn heads(&self) -> Vec<String> {
        self.record.heads.lock().expect("lock").clone()
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept(listener: TcpListener, replies: Vec<Reply>, record: Arc<Record>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let index = {
            let mut count = record.connections.lock().expect("lock");
            *count += 1;
            *count - 1
        };
        let reply = replies.get(index).copied().unwrap_or(Reply::Silent);
        connections.spawn(serve(stream, reply, Arc::clone(&record)));
    }
}

async fn serve(mut stream: TcpStream, reply: Reply, record: Arc<Record>) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    record.heads.lock().expect("lock").push(head);
    match reply {
        Reply::Raw(answer) => {
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Reply::Silent => std::future::pending::<()>().await,
    }
}

/// The values of header `name` (any case) in a raw request `head`, in order.
pub fn header_values<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect()
}
