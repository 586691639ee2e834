//! A Symbl-like server for the consumer apps, one request per connection over whatever stream
//! the app accepted (plain TCP or its own TLS): `POST /oauth2/token:generate` with the apps'
//! credentials answers a token, `GET /v1/conversations` answers 200 with that token as a Bearer
//! and 401 without. It counts what it served. Each app uses what it needs of this file.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const APP_ID: &str = "consumer-app";
pub const APP_SECRET: &str = "consumer-secret";
pub const TOKEN: &str = "consumer-token-1";
/// The self-signed certificate (for 127.0.0.1 and localhost, CA:FALSE) and key of the apps'
/// TLS endpoints, read at run time.
pub const CERT_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../common/loopback.cert.pem");
pub const KEY_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../common/loopback.key.pem");

/// What the server answered.
#[derive(Debug, Default)]
pub struct Served {
    pub tokens: AtomicUsize,
    pub api_ok: AtomicUsize,
    pub api_unauthorized: AtomicUsize,
}

impl Served {
    pub fn tokens(&self) -> usize {
        self.tokens.load(Ordering::SeqCst)
    }
    pub fn api_ok(&self) -> usize {
        self.api_ok.load(Ordering::SeqCst)
    }
    pub fn api_unauthorized(&self) -> usize {
        self.api_unauthorized.load(Ordering::SeqCst)
    }
}

/// Reads one request from `stream`, answers it and closes.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, served: &Served) {
    let Some((head, body)) = read_request(&mut stream).await else {
        return;
    };
    let credentials = format!(r#""appId":"{APP_ID}","appSecret":"{APP_SECRET}""#);
    let bearer = format!("authorization: bearer {TOKEN}");
    let (status, body) = if head.starts_with("post /oauth2/token:generate ") {
        if body.contains(&credentials) {
            served.tokens.fetch_add(1, Ordering::SeqCst);
            (
                "200 OK",
                format!(r#"{{"accessToken":"{TOKEN}","expiresIn":3600}}"#),
            )
        } else {
            (
                "401 Unauthorized",
                r#"{"message":"bad credentials"}"#.to_owned(),
            )
        }
    } else if head.starts_with("get /v1/conversations ") {
        if head.lines().any(|line| line == bearer.to_ascii_lowercase()) {
            served.api_ok.fetch_add(1, Ordering::SeqCst);
            ("200 OK", r#"{"conversations":[]}"#.to_owned())
        } else {
            served.api_unauthorized.fetch_add(1, Ordering::SeqCst);
            ("401 Unauthorized", "{}".to_owned())
        }
    } else {
        ("404 Not Found", "{}".to_owned())
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The head (in lowercase) and the body of one request.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, String)> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..read]);
        if let Some(at) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
    let body = String::from_utf8_lossy(&bytes[head_end..]).into_owned();
    Some((head, body))
}

/// Fails the app with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl std::fmt::Display) -> Result<(), Failure> {
    if condition {
        println!("ok: {message}");
        Ok(())
    } else {
        Err(format!("FAILED: {message}").into())
    }
}

/// Why an app failed.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Serves `listener` on plain TCP, one task per connection.
pub fn serve_plain(listener: tokio::net::TcpListener, served: std::sync::Arc<Served>) {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let served = std::sync::Arc::clone(&served);
            tokio::spawn(async move { answer(stream, &served).await });
        }
    });
}
