//! [`FakeSymbl`]: Symbl's token and API semantics, with controls and counters, no network.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tokio::time::Instant;
use tower_service::Service;

use crate::token_endpoint::token_from_answer;
use crate::{BoxError, Credentials, Error, TokenFuture, TokenSource};

/// The app id [`FakeSymbl::new`] accepts.
pub const TEST_APP_ID: &str = "test-app-id";
/// The app secret [`FakeSymbl::new`] accepts.
pub const TEST_APP_SECRET: &str = "test-app-secret";

/// A fault the token endpoint shows instead of answering normally.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TokenFault {
    /// Answer with this status and a small JSON error body.
    Status(StatusCode),
    /// Answer `429 Too Many Requests` with this `Retry-After` value.
    TooManyRequests {
        /// The `Retry-After` header, in seconds or as an HTTP date.
        retry_after: String,
    },
    /// Answer `200` with this body instead of a token.
    Body(Bytes),
    /// Answer `200` with this body and this `content-type` instead of a token.
    Typed {
        /// The `content-type` header (a valid header value, such as `"text/html"`).
        content_type: &'static str,
        /// The body.
        body: Bytes,
    },
    /// Grant a token as usual, but with this raw JSON text as `expiresIn` (`"0"`, `"-5"`,
    /// `"1.5"`, `"1e300"`, `"\"86400\""`).
    ExpiresIn(&'static str),
    /// Never answer.
    Hang,
    /// Grant a token as usual, but drop the connection halfway through the body (over HTTP;
    /// in memory, a network error).
    ResetMidBody,
    /// Grant a token as usual, but send its body one byte every `interval` (in memory, the
    /// whole answer arrives after that long per byte).
    SlowDrip {
        /// The pause before each byte.
        interval: Duration,
    },
}

/// How the fake's token endpoint answers one request, made by [`FakeSymbl::token_reply`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TokenReply {
    /// The whole answer at once.
    Answer(Answer),
    /// The status, headers and first half of the body of this answer; then the connection
    /// drops.
    ResetMidBody(Answer),
    /// This answer, its body one byte every `interval`.
    Drip {
        /// The answer.
        answer: Answer,
        /// The pause before each byte.
        interval: Duration,
    },
    /// No answer, ever.
    Hang,
}

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
/// Served over HTTP by [`TestServer`](super::TestServer); also a [`TokenSource`] and (with
/// [`api_service`](Self::api_service)) a tower service, for tests on paused Tokio time where
/// real sockets would not do.
#[derive(Clone)]
pub struct FakeSymbl {
    shared: Arc<Shared>,
}

struct Shared {
    credentials: Credentials,
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
    /// The token the server-side cache hands out, and its expiry.
    cached: Option<(String, Instant)>,
    /// Every token that has not been revoked, with its expiry.
    valid: HashMap<String, Instant>,
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
            Credentials::new(TEST_APP_ID, TEST_APP_SECRET),
            Duration::from_secs(86_400),
            Duration::from_secs(60),
        )
    }

    fn with_settings(
        credentials: Credentials,
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

    /// The same fake, accepting other credentials.
    pub fn credentials(self, credentials: Credentials) -> Self {
        let shared = &self.shared;
        Self::with_settings(credentials, shared.lifetime, shared.reissue_before)
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
        self.shared.credentials.clone()
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
        state.cached = None;
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

    /// The token endpoint's answer to a request with this `body`: the next queued fault, or
    /// Symbl's answer.
    pub fn token_reply(&self, body: &[u8]) -> TokenReply {
        self.shared.token_requests.fetch_add(1, Ordering::SeqCst);
        let fault = self.lock().faults.pop_front();
        let Some(fault) = fault else {
            return TokenReply::Answer(self.grant(body));
        };
        TokenReply::Answer(match fault {
            TokenFault::Status(status) => json(status, r#"{"message":"fault"}"#),
            TokenFault::TooManyRequests { retry_after } => {
                let mut answer = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"message":"Maximum number of concurrent jobs reached."}"#,
                );
                if let Ok(value) = retry_after.parse() {
                    answer.headers.insert(header::RETRY_AFTER, value);
                }
                answer
            }
            TokenFault::Body(body) => json(StatusCode::OK, body),
            TokenFault::Typed { content_type, body } => {
                let mut answer = json(StatusCode::OK, body);
                answer.headers.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(content_type),
                );
                answer
            }
            TokenFault::ExpiresIn(raw) => {
                let mut answer = self.grant(body);
                if answer.status == StatusCode::OK {
                    let granted: serde_json::Value =
                        serde_json::from_slice(&answer.body).unwrap_or_default();
                    let token = granted["accessToken"].to_string();
                    answer.body = format!(r#"{{"accessToken":{token},"expiresIn":{raw}}}"#).into();
                }
                answer
            }
            TokenFault::Hang => return TokenReply::Hang,
            TokenFault::ResetMidBody => return TokenReply::ResetMidBody(self.grant(body)),
            TokenFault::SlowDrip { interval } => {
                return TokenReply::Drip {
                    answer: self.grant(body),
                    interval,
                }
            }
        })
    }

    /// Symbl's answer to a token request: check the request, then issue or re-serve a token.
    fn grant(&self, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
            return json(StatusCode::BAD_REQUEST, r#"{"message":"Bad Request"}"#);
        };
        let field = |name: &str| request.get(name).and_then(|value| value.as_str());
        if field("type") != Some("application") {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"message":"type must be application"}"#,
            );
        }
        let credentials = &self.shared.credentials;
        if field("appId") != Some(credentials.app_id())
            || field("appSecret") != Some(credentials.app_secret())
        {
            return json(StatusCode::UNAUTHORIZED, r#"{"message":"Unauthorized"}"#);
        }
        let mut state = self.lock();
        let now = Instant::now();
        let (token, expires_at) = match &state.cached {
            // Like Symbl: re-serve the cached token while it has a while (and a whole second)
            // to live.
            Some((token, expires_at))
                if expires_at.saturating_duration_since(now)
                    >= self.shared.reissue_before.max(Duration::from_secs(1)) =>
            {
                (token.clone(), *expires_at)
            }
            _ => {
                let serial = self.shared.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
                let token = format!("fake-token-{serial}-{:016x}", random());
                let expires_at = now + self.shared.lifetime;
                state.cached = Some((token.clone(), expires_at));
                state.valid.insert(token.clone(), expires_at);
                (token, expires_at)
            }
        };
        let expires_in = expires_at.saturating_duration_since(now).as_secs();
        let body = serde_json::json!({ "accessToken": token, "expiresIn": expires_in });
        json(StatusCode::OK, body.to_string())
    }

    /// Whether `authorization` carries a token that is current.
    pub fn is_authorized(&self, authorization: Option<&header::HeaderValue>) -> bool {
        let token = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        token.is_some_and(|token| self.is_current(token))
    }

    /// Whether `token` was issued, is not revoked and has not expired.
    pub(super) fn is_current(&self, token: &str) -> bool {
        let state = self.lock();
        state
            .valid
            .get(token)
            .is_some_and(|expires_at| Instant::now() < *expires_at)
    }

    /// Answers an API request: `401` unless its token is current (or a rejection is queued),
    /// else a small JSON answer for the endpoints below.
    ///
    /// - `GET /v1/conversations` → `{"conversations":[]}`
    /// - `POST /v1/process/text` (and any other `POST`) → the body's length, echoed in JSON.
    pub async fn api_answer<B>(&self, request: Request<B>) -> Answer
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        self.shared.api_requests.fetch_add(1, Ordering::SeqCst);
        let authorized = self.is_authorized(request.headers().get(header::AUTHORIZATION));
        let rejected = {
            let mut state = self.lock();
            let forced = state.rejections > 0;
            state.rejections = state.rejections.saturating_sub(1);
            let rejected = forced || !authorized;
            if rejected && state.reject_before_body {
                return unauthorized();
            }
            rejected
        };
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, 16 * 1024 * 1024).collect().await else {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"message":"could not read the body"}"#,
            );
        };
        let body = body.to_bytes();
        self.lock().bodies.push(body.clone());
        if rejected {
            return unauthorized();
        }
        match (parts.method, parts.uri.path()) {
            (Method::GET, "/v1/conversations") => json(StatusCode::OK, r#"{"conversations":[]}"#),
            (Method::POST, _) => json(
                StatusCode::OK,
                format!(
                    r#"{{"conversationId":"fake","bytesReceived":{}}}"#,
                    body.len()
                ),
            ),
            _ => json(StatusCode::NOT_FOUND, r#"{"message":"not found"}"#),
        }
    }

    /// A tower service answering API requests in memory, as the HTTP server would.
    pub fn api_service(&self) -> ApiService {
        ApiService { fake: self.clone() }
    }
}

impl TokenSource for FakeSymbl {
    /// Asks the fake's token endpoint in memory, with the credentials it accepts.
    fn fetch_token(&self) -> TokenFuture<'_> {
        let credentials = &self.shared.credentials;
        let request = serde_json::json!({
            "type": "application",
            "appId": credentials.app_id(),
            "appSecret": credentials.app_secret(),
        });
        let reply = self.token_reply(request.to_string().as_bytes());
        Box::pin(async move {
            let answer = match reply {
                TokenReply::Answer(answer) => answer,
                TokenReply::Hang => return std::future::pending().await,
                TokenReply::ResetMidBody(_) => {
                    return Err(Error::unavailable(
                        "the connection failed while reading the token response",
                        None,
                    ))
                }
                TokenReply::Drip { answer, interval } => {
                    let bytes = u32::try_from(answer.body.len()).unwrap_or(u32::MAX);
                    tokio::time::sleep(interval.saturating_mul(bytes)).await;
                    answer
                }
            };
            // Sorted exactly as the HTTP source sorts a real answer.
            token_from_answer(answer.status, &answer.headers, &answer.body)
        })
    }
}

/// The in-memory API service made by [`FakeSymbl::api_service`].
#[derive(Clone, Debug)]
pub struct ApiService {
    fake: FakeSymbl,
}

impl<B> Service<Request<B>> for ApiService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let fake = self.fake.clone();
        Box::pin(async move { Ok(fake.api_answer(request).await.into_response()) })
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

fn unauthorized() -> Answer {
    json(
        StatusCode::UNAUTHORIZED,
        r#"{"message":"Unauthorized. Please generate a new access token."}"#,
    )
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

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch_with(fault: TokenFault) -> Error {
        let fake = FakeSymbl::new();
        fake.fail_token_requests(fault, 1);
        fake.fetch_token().await.expect_err("a fault")
    }

    #[tokio::test]
    async fn in_memory_faults_are_sorted_like_real_answers() {
        // 403 means bad credentials and 404 a wrong URL, as over HTTP; neither is retried.
        let forbidden = fetch_with(TokenFault::Status(StatusCode::FORBIDDEN)).await;
        assert!(
            matches!(forbidden, Error::InvalidCredentials { .. }),
            "{forbidden}"
        );
        let not_found = fetch_with(TokenFault::Status(StatusCode::NOT_FOUND)).await;
        assert!(
            matches!(not_found, Error::TokenEndpointRejected { .. }),
            "{not_found}"
        );

        // `Retry-After` as an HTTP date is honoured, not dropped.
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let dated = fetch_with(TokenFault::TooManyRequests {
            retry_after: httpdate::fmt_http_date(later),
        })
        .await;
        let retry_after = dated.retry_after().expect("Retry-After kept");
        assert!(retry_after > Duration::from_secs(100), "{retry_after:?}");

        // The size limit applies in memory too.
        let huge = fetch_with(TokenFault::Body(Bytes::from(vec![b' '; 100 * 1024]))).await;
        assert!(huge.to_string().contains("larger than"), "{huge}");
    }
}
