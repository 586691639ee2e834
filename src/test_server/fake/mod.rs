//! [`FakeSymbl`]: Symbl's token and API semantics, with controls and counters, no network.
//!
//! This file holds the fake's state, its settings, controls and counters; its token endpoint
//! (and the faults it can show) is in `token_endpoint.rs`, its API in `api.rs`.

mod api;
mod token_endpoint;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;

pub use api::ApiService;
pub use token_endpoint::{TokenFault, TokenReply};

use crate::Credentials;

/// The app id [`FakeSymbl::new`] accepts.
pub const TEST_APP_ID: &str = "test-app-id";
/// The app secret [`FakeSymbl::new`] accepts.
pub const TEST_APP_SECRET: &str = "test-app-secret";

/// What the fake answers: a status, headers, and a body.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Symbl's API as the layer sees it, in memory.
///
/// - The token endpoint checks the JSON body and the credentials (`401` when wrong), and caches
///   the token server-side as Symbl does: until it has less than
///   [`reissue_before`](Self::reissue_before) left, asking again returns *the same token with
///   its remaining lifetime*.
/// - `/v1/...` endpoints answer `401` unless the bearer token is current.
/// - Controls revoke tokens, inject token endpoint faults and reject API calls; counters say
///   exactly how many requests of each kind arrived.
///
/// Served over HTTP by [`TestServer`](super::TestServer); also a
/// [`TokenSource`](crate::TokenSource) and (with [`api_service`](Self::api_service)) a tower
/// service, for tests on paused Tokio time where real sockets would not do.
#[derive(Clone)]
pub struct FakeSymbl {
    shared: Arc<Shared>,
}

struct Shared {
    /// Every credential accepted; the first is the one [`FakeSymbl::accepted_credentials`]
    /// gives and the fake's own `TokenSource` uses.
    credentials: Vec<Credentials>,
    lifetime: Duration,
    reissue_before: Duration,
    state: Mutex<State>,
    token_requests: AtomicUsize,
    api_requests: AtomicUsize,
    tokens_issued: AtomicUsize,
    #[cfg(feature = "websocket")]
    streaming: super::streaming::Streaming,
}

#[derive(Default)]
struct State {
    /// The token the server-side cache hands out per app id, and its expiry.
    cached: HashMap<String, (String, Instant)>,
    /// Every token that has not been revoked, with its expiry.
    valid: HashMap<String, Instant>,
    /// The app id each token was issued to, revoked tokens included.
    issued_to: HashMap<String, String>,
    faults: VecDeque<TokenFault>,
    rejections: usize,
    reject_before_body: bool,
    bodies: Vec<Bytes>,
}

impl Default for FakeSymbl {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeSymbl {
    /// A fake that accepts [`TEST_APP_ID`] / [`TEST_APP_SECRET`] and grants 86,400 s tokens,
    /// re-serving each until it has less than 60 s left.
    pub fn new() -> Self {
        Self::with_settings(
            vec![Credentials::new(TEST_APP_ID, TEST_APP_SECRET)],
            Duration::from_secs(86_400),
            Duration::from_secs(60),
        )
    }

    fn with_settings(
        credentials: Vec<Credentials>,
        lifetime: Duration,
        reissue_before: Duration,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                credentials,
                lifetime,
                reissue_before,
                state: Mutex::default(),
                token_requests: AtomicUsize::new(0),
                api_requests: AtomicUsize::new(0),
                tokens_issued: AtomicUsize::new(0),
                #[cfg(feature = "websocket")]
                streaming: Default::default(),
            }),
        }
    }

    /// The same fake, accepting other credentials (in place of all it accepted).
    pub fn credentials(self, credentials: Credentials) -> Self {
        let shared = &self.shared;
        Self::with_settings(vec![credentials], shared.lifetime, shared.reissue_before)
    }

    /// The same fake, accepting `credentials` too: for a keyed layer's tests, one per tenant.
    /// Each app id has its own server-side token cache, and
    /// [`issued_to`](Self::issued_to) tells which app a token was issued to.
    pub fn accept(self, credentials: Credentials) -> Self {
        let shared = &self.shared;
        let mut accepted = shared.credentials.clone();
        accepted.push(credentials);
        Self::with_settings(accepted, shared.lifetime, shared.reissue_before)
    }

    /// The same fake, granting tokens of another lifetime.
    pub fn token_lifetime(self, lifetime: Duration) -> Self {
        let shared = &self.shared;
        Self::with_settings(shared.credentials.clone(), lifetime, shared.reissue_before)
    }

    /// The same fake, re-serving its cached token until it has less than `left` to live.
    /// `Duration::ZERO` re-serves it until it expires.
    pub fn reissue_before(self, left: Duration) -> Self {
        let shared = &self.shared;
        Self::with_settings(shared.credentials.clone(), shared.lifetime, left)
    }

    /// Credentials this fake accepts.
    pub fn accepted_credentials(&self) -> Credentials {
        self.shared.credentials[0].clone()
    }

    /// The app id `token` (the raw token, or a `Bearer` header value) was issued to, revoked
    /// or not; `None` for a token this fake never issued. For tests that check each request
    /// carried the token of the credential it named.
    pub fn issued_to(&self, token: &str) -> Option<String> {
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        self.lock().issued_to.get(token).cloned()
    }

    /// Token requests received, faults included.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Distinct tokens issued (a re-served token counts once).
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// API (`/v1/...`) requests received.
    pub fn api_requests(&self) -> usize {
        self.shared.api_requests.load(Ordering::SeqCst)
    }

    /// The bodies of API requests that were read, in order of arrival.
    pub fn received_bodies(&self) -> Vec<Bytes> {
        self.lock().bodies.clone()
    }

    /// Revokes every token: the API rejects them, and the next token request issues a new one.
    pub fn revoke_tokens(&self) {
        let mut state = self.lock();
        state.valid.clear();
        state.cached.clear();
    }

    /// Revokes the tokens issued to `app_id` only: the API rejects them, and its next token
    /// request issues a new one. Other apps' tokens stay valid.
    pub fn revoke_tokens_of(&self, app_id: &str) {
        let mut state = self.lock();
        let State {
            valid, issued_to, ..
        } = &mut *state;
        valid.retain(|token, _| issued_to.get(token).map(String::as_str) != Some(app_id));
        state.cached.remove(app_id);
    }

    /// The next `times` token requests show `fault`, after any faults already queued.
    pub fn fail_token_requests(&self, fault: TokenFault, times: usize) {
        let mut state = self.lock();
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Forgets queued token faults: the endpoint heals.
    pub fn heal(&self) {
        self.lock().faults.clear();
    }

    /// The next `times` API requests get `401` whatever token they carry.
    pub fn reject_api_requests(&self, times: usize) {
        self.lock().rejections += times;
    }

    /// When set, an API request with a bad token gets its `401` before its body is read, as
    /// servers that check auth first do (a streaming upload is then cut short).
    pub fn reject_before_body(&self, reject: bool) {
        self.lock().reject_before_body = reject;
    }

    /// The streaming endpoint's controls and counters.
    #[cfg(feature = "websocket")]
    pub(super) fn streaming(&self) -> &super::streaming::Streaming {
        &self.shared.streaming
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Answer {
    /// As an `http::Response`.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

impl fmt::Debug for FakeSymbl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSymbl")
            .field("lifetime", &self.shared.lifetime)
            .field("reissue_before", &self.shared.reissue_before)
            .field("token_requests", &self.token_requests())
            .field("api_requests", &self.api_requests())
            .finish_non_exhaustive()
    }
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    Answer {
        status,
        headers: json_headers(),
        body: body.into(),
    }
}
