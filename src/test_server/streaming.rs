//! The streaming endpoint of [`TestServer`], shaped like Symbl's Streaming API (features
//! `test-server` and `websocket`).
//!
//! `ws://127.0.0.1:<port>/v1/streaming/{connectionId}`, on the server's one port:
//!
//! - The handshake needs a current token in `X-API-KEY` (as Symbl's SDKs send it); otherwise,
//!   or while [`FakeSymbl::reject_handshakes`] has rejections queued, it is answered `401`.
//! - `{"type":"start_request",…}` is answered
//!   `{"type":"message","message":{"type":"started","data":{"conversationId":"…"}}}`.
//! - Binary frames are audio: accepted and counted ([`FakeSymbl::audio_bytes_received`]).
//! - `{"type":"stop_request"}` is answered
//!   `{"type":"message","message":{"type":"conversation_completed","data":{…}}}`, and the
//!   server closes the connection.
//! - Any other text is answered `{"type":"error","details":"…"}`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{FakeSymbl, TestServer};

/// The path of the streaming endpoint, followed by a connection id, as on `api.symbl.ai`.
pub const STREAMING_PATH: &str = "/v1/streaming/";

/// The streaming endpoint's controls and counters, kept in the [`FakeSymbl`].
#[derive(Debug, Default)]
pub(super) struct Streaming {
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    audio_bytes: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    rejections: usize,
    targets: Vec<String>,
}

impl Streaming {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The streaming endpoint's side of [`FakeSymbl`].
impl FakeSymbl {
    /// Streaming handshakes accepted (answered `101`).
    pub fn handshakes_accepted(&self) -> usize {
        self.streaming().accepted.load(Ordering::SeqCst)
    }

    /// Streaming handshakes rejected with `401` (no current token, or a queued rejection).
    pub fn handshakes_rejected(&self) -> usize {
        self.streaming().rejected.load(Ordering::SeqCst)
    }

    /// The next `times` streaming handshakes get `401` whatever token they carry.
    pub fn reject_handshakes(&self, times: usize) {
        self.streaming().lock().rejections += times;
    }

    /// Audio bytes (binary frames) received on all streaming connections.
    pub fn audio_bytes_received(&self) -> u64 {
        self.streaming().audio_bytes.load(Ordering::SeqCst)
    }

    /// The request target (path and query) of each streaming handshake, accepted or not, in
    /// order of arrival: to check that no token travels in a URL.
    pub fn handshake_targets(&self) -> Vec<String> {
        self.streaming().lock().targets.clone()
    }

    /// Whether `api_key` (an `X-API-KEY` header) is a current token: [`is_authorized`]'s rule
    /// for the header Symbl's streaming handshake carries.
    ///
    /// [`is_authorized`]: FakeSymbl::is_authorized
    pub fn is_api_key_authorized(&self, api_key: Option<&HeaderValue>) -> bool {
        api_key
            .and_then(|value| value.to_str().ok())
            .is_some_and(|token| self.is_current(token))
    }
}

impl TestServer {
    /// `ws://127.0.0.1:<port>/v1/streaming/{connection_id}`: the streaming endpoint.
    pub fn streaming_url(&self, connection_id: &str) -> String {
        format!("ws://{}{STREAMING_PATH}{connection_id}", self.addr)
    }
}

type Session = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The streaming session a connection runs once hyper hands its socket over after a `101`.
#[derive(Clone, Default)]
pub(super) struct Handover(Arc<Mutex<Option<Session>>>);

impl Handover {
    /// Runs the session, if a handshake on this connection was accepted.
    pub(super) async fn run(self) {
        let session = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(session) = session {
            session.await;
        }
    }
}

/// Answers a request to [`STREAMING_PATH`]: `400` unless it is a WebSocket handshake, `401`
/// unless it carries a current token, else `101`, with the session handed to `handover`.
pub(super) fn handshake<B>(
    symbl: &FakeSymbl,
    mut request: Request<B>,
    handover: &Handover,
) -> Response<Full<Bytes>> {
    let Some(key) = websocket_key(request.method(), request.headers()) else {
        return answer(StatusCode::BAD_REQUEST, "expected a WebSocket handshake");
    };
    let streaming = symbl.streaming();
    let forced = {
        let mut state = streaming.lock();
        let target = request.uri().path_and_query().map(|p| p.as_str());
        state.targets.push(target.unwrap_or_default().to_owned());
        let forced = state.rejections > 0;
        state.rejections = state.rejections.saturating_sub(1);
        forced
    };
    let api_key = request.headers().get("x-api-key");
    if forced || !symbl.is_api_key_authorized(api_key) {
        streaming.rejected.fetch_add(1, Ordering::SeqCst);
        return answer(
            StatusCode::UNAUTHORIZED,
            "Unauthorized. Please generate a new access token.",
        );
    }
    let id = streaming.accepted.fetch_add(1, Ordering::SeqCst) + 1;
    let upgrade = hyper::upgrade::on(&mut request);
    let session = session(symbl.clone(), upgrade, format!("fake-conversation-{id}"));
    *handover.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::pin(session));

    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The `Sec-WebSocket-Key` of a well-formed WebSocket handshake (RFC 6455 §4.2.1).
fn websocket_key(method: &Method, headers: &HeaderMap) -> Option<HeaderValue> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    let well_formed = method == Method::GET
        && has_token(header::UPGRADE, "websocket")
        && has_token(header::CONNECTION, "upgrade")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|version| version == "13");
    well_formed
        .then(|| headers.get(header::SEC_WEBSOCKET_KEY).cloned())
        .flatten()
}

fn answer(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// One conversation: Symbl's messages in answer to the client's, until either side closes.
async fn session(symbl: FakeSymbl, upgrade: OnUpgrade, conversation_id: String) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let io = TokioIo::new(upgraded);
    let mut socket = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
    let mut audio_bytes = 0u64;
    // Ends when the client closes (the close reply is sent on the way) or the socket fails.
    while let Some(Ok(received)) = socket.next().await {
        let text = match received {
            Message::Text(text) => text,
            Message::Binary(audio) => {
                let len = audio.len() as u64;
                audio_bytes += len;
                symbl
                    .streaming()
                    .audio_bytes
                    .fetch_add(len, Ordering::SeqCst);
                continue;
            }
            _ => continue,
        };
        let request: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let reply = match request["type"].as_str() {
            Some("start_request") => symbl_message("started", &conversation_id, None),
            Some("stop_request") => symbl_message(
                "conversation_completed",
                &conversation_id,
                Some(audio_bytes),
            ),
            _ => r#"{"type":"error","details":"expected start_request, stop_request or audio"}"#
                .to_owned(),
        };
        if socket.send(Message::text(reply)).await.is_err() {
            return;
        }
        if request["type"] == "stop_request" && socket.close(None).await.is_err() {
            return;
        }
    }
}

/// `{"type":"message","message":{"type":kind,"data":{…}}}`, in Symbl's key order.
fn symbl_message(kind: &str, conversation_id: &str, audio_bytes: Option<u64>) -> String {
    let mut data = serde_json::json!({ "conversationId": conversation_id });
    if let Some(bytes) = audio_bytes {
        data["audioBytesReceived"] = bytes.into();
    }
    format!(r#"{{"type":"message","message":{{"type":"{kind}","data":{data}}}}}"#)
}
