//! Every way the token endpoint can fail, one row each, over real HTTP on loopback: the one
//! place each fault is checked.
//!
//! Each row runs three scenarios against a token server and an API server that share one
//! `FakeSymbl`:
//! - **cold**: the fault is on from the start; 20 concurrent calls and 20 more after them all
//!   fail with the row's error (its variant, status, words, source and `Retry-After`), at once
//!   or (where the fault is retried) within the retry budget, sending no API request; the 20
//!   later calls cause no token request (the failure is held), and all 40 stay within a bound
//!   on token requests; then the endpoint heals, and the failure's hold (the cool-down, or a
//!   longer `Retry-After`) is measured from when the fetch failed: a call just before it ends
//!   still fails at once with no token request, a call just after it makes one and gets 200;
//! - **cached**: a valid token is cached, the fault starts when the background refresh is due;
//!   40 calls all get 200 with the kept token, within the same bound on token requests; calls
//!   go on until the failed refresh has surely landed, all 200 with the kept token, and the
//!   refresh made at least one token request (two where the fault is retried); then the
//!   endpoint heals, and the refresh after the hold brings a new token, used before the kept
//!   one would have gone stale;
//! - **brief**: the fault shows on the first 2 token requests only (or the endpoint refuses
//!   connections for 0.3 s); one call gets 200 after a fetch that retried through it, or the
//!   row's error at once where the fault is not retried.
//!
//! The table in `RELIABILITY.md` is rendered from these rows and must match exactly
//! (`UPDATE_RELIABILITY=1 cargo test --all-features --test fault_matrix` rewrites it). All
//! `tracing` output at TRACE, every error and its sources are checked for the secret and tokens;
//! this is its own test binary because the subscriber is process-wide.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(
    feature = "test-server",
    builtin_client,
    not(tls_provider = "installed")
))]

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use symbl_auth::test_server::{FakeSymbl, TestServer, TokenFault};
use symbl_auth::{BoxError, Error, ReplayBody, SymblAuth, SymblAuthLayer};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tower::{Layer, Service};

use support::*;

/// The per-attempt timeout for rows about timeouts (a hang, a slow drip). Other rows use the
/// whole budget, so a busy machine can never turn their answer into a timeout and a retry.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_BUDGET: Duration = Duration::from_secs(5);
const COOLDOWN: Duration = Duration::from_secs(3);
/// Tokens live this long in the cached scenario; the background refresh is due at half, and
/// the token goes stale at nine tenths. Between them there is room for a refresh that fails
/// after the whole budget, its hold (the 8 s `Retry-After` at most) and the refresh after it.
const LIFETIME: Duration = Duration::from_secs(32);
/// Attempts one fetch can make in the budget: backoff waits at least half of 100 ms, doubling
/// (50, 100, 200, 400, 800, 1600 ms: 3.15 s), and the next (2.5 s) ends past 5 s.
const TRANSIENT: usize = 7;
/// A `Retry-After` longer than the retry budget: no attempt can wait for it.
const PAST_THE_BUDGET: Duration = Duration::from_secs(8);
/// Token requests a brief fault shows on.
const BRIEF: usize = 2;
/// How long a brief "connection refused" lasts.
const BRIEF_OUTAGE: Duration = Duration::from_millis(300);
const CALLS: usize = 20;
/// What a busy machine may add to the time a call takes.
const SLACK: Duration = Duration::from_secs(2);
/// How long before the end of a failure's hold a call checks it still holds: more than a busy
/// machine takes between the fetch failing and its first waiter hearing of it.
const BEFORE_THE_END: Duration = Duration::from_millis(500);
/// How long after the end of a failure's hold a call checks it is over.
const AFTER_THE_END: Duration = Duration::from_millis(100);
/// Every call, and the whole matrix, ends within this.
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ok,
    InvalidCredentials,
    Rejected,
    Unavailable,
    BadResponse,
}

impl Kind {
    fn of(error: &Error) -> Self {
        match error {
            Error::InvalidCredentials { .. } => Self::InvalidCredentials,
            Error::TokenEndpointRejected { .. } => Self::Rejected,
            Error::TokenEndpointUnavailable { .. } => Self::Unavailable,
            Error::BadTokenResponse { .. } => Self::BadResponse,
            other => panic!("unexpected error {other}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Ok => "none: the token is used",
            Self::InvalidCredentials => "`InvalidCredentials`",
            Self::Rejected => "`TokenEndpointRejected`",
            Self::Unavailable => "`TokenEndpointUnavailable`",
            Self::BadResponse => "`BadTokenResponse`",
        }
    }
}

/// The status an error says the token endpoint answered with, if it carries one.
fn answered(error: &Error) -> Option<StatusCode> {
    match error {
        Error::InvalidCredentials { status, .. } | Error::TokenEndpointRejected { status, .. } => {
            Some(*status)
        }
        Error::TokenEndpointUnavailable { status, .. } => *status,
        _ => None,
    }
}

#[derive(Clone)]
enum Fault {
    Token(TokenFault),
    /// Nothing listens at the token URL.
    Refused,
}

struct Row {
    fault: String,
    inject: Fault,
    error: Kind,
    /// Words every error of the row says.
    says: &'static str,
    /// The status every error of the row carries.
    status: Option<StatusCode>,
    /// Whether the error keeps the underlying (network) error as its source.
    keeps_source: bool,
    /// The range the error's `Retry-After` is in, if it has one.
    retry_after: Option<(Duration, Duration)>,
    /// Whether a fetch retries the fault within its budget.
    retried: bool,
    /// The least a fetch through a brief fault takes.
    waits: Duration,
    /// The most token requests 40 calls may cause; `exact` when it is also the least.
    requests: usize,
    exact: bool,
}

impl Row {
    fn new(fault: impl Into<String>, inject: Fault, error: Kind, says: &'static str) -> Self {
        let retried = error == Kind::Unavailable;
        Self {
            fault: fault.into(),
            inject,
            error,
            says,
            status: None,
            keeps_source: false,
            retry_after: None,
            retried,
            waits: Duration::ZERO,
            requests: if retried { TRANSIENT } else { 1 },
            exact: !retried,
        }
    }

    fn answered(mut self, status: u16) -> Self {
        self.status = Some(StatusCode::from_u16(status).expect("status"));
        self
    }

    fn keeps_source(mut self) -> Self {
        self.keeps_source = true;
        self
    }

    fn retry_after(mut self, least: Duration, most: Duration) -> Self {
        self.retry_after = Some((least, most));
        self
    }

    fn waits(mut self, least: Duration) -> Self {
        self.waits = least;
        self
    }

    /// A transient fault that is not retried: it fails at once, after one request.
    fn not_retried(mut self) -> Self {
        (self.retried, self.requests, self.exact) = (false, 1, true);
        self
    }

    /// How long the failure is held before a call may fetch again.
    fn held(&self) -> Duration {
        let retry_after = self.retry_after.map_or(Duration::ZERO, |(least, _)| least);
        COOLDOWN.max(retry_after)
    }

    /// Token requests the fake sees in the brief scenario.
    fn brief_requests(&self) -> usize {
        match (&self.inject, self.retried) {
            (Fault::Refused, _) => 1,
            (_, true) => BRIEF + 1,
            (_, false) => 1,
        }
    }
}

fn token(fault: &'static str, inject: TokenFault, error: Kind, says: &'static str) -> Row {
    Row::new(fault, Fault::Token(inject), error, says)
}

/// A `200` with this body in place of a token.
fn body(fault: &'static str, text: &'static str, says: &'static str) -> Row {
    let inject = TokenFault::Body(Bytes::from_static(text.as_bytes()));
    token(fault, inject, Kind::BadResponse, says)
}

/// A token granted with this raw `expiresIn`.
fn expires_in(fault: &'static str, raw: &'static str, says: &'static str) -> Row {
    token(fault, TokenFault::ExpiresIn(raw), Kind::BadResponse, says)
}

/// A token granted with this raw `expiresIn`, and used.
fn granted(fault: &'static str, raw: &'static str) -> Row {
    token(fault, TokenFault::ExpiresIn(raw), Kind::Ok, "")
}

/// An answer with this status.
fn status(code: u16, error: Kind, says: &'static str) -> Row {
    let status = StatusCode::from_u16(code).expect("status");
    let inject = Fault::Token(TokenFault::Status(status));
    Row::new(status.to_string(), inject, error, says).answered(code)
}

/// A `429` with this `Retry-After`.
fn too_many_requests(fault: &'static str, retry_after: String) -> Row {
    let inject = TokenFault::TooManyRequests { retry_after };
    token(fault, inject, Kind::Unavailable, TOO_MANY).answered(429)
}

const CHECK_CREDENTIALS: &str =
    "check the Symbl app id and secret (SYMBL_APP_ID and SYMBL_APP_SECRET)";
const TOO_MANY: &str = "answered 429 Too Many Requests";
const NO_ANSWER: &str = "no answer within the token request timeout";
const NOT_JSON: &str = "the body is not JSON";
const TOO_LARGE: &str = "the body is larger than 65536 bytes";

fn rows() -> Vec<Row> {
    use Kind::*;
    let second = Duration::from_secs(1);
    let in_a_second = httpdate::fmt_http_date(std::time::SystemTime::now() + second);
    let huge_token = format!(
        r#"{{"accessToken":"fake-token-{}","expiresIn":86400}}"#,
        "a".repeat(1 << 20)
    );
    vec![
        status(400, InvalidCredentials, CHECK_CREDENTIALS),
        status(401, InvalidCredentials, CHECK_CREDENTIALS),
        status(403, InvalidCredentials, CHECK_CREDENTIALS),
        status(404, Rejected, "check the token URL"),
        // Two attempts, each after waiting out the second.
        too_many_requests("429, `Retry-After: 1`", "1".into())
            .retry_after(second, second)
            .waits(second * 2),
        // The date has whole seconds: it is up to a second ahead when sent.
        too_many_requests("429, `Retry-After` as an HTTP date", in_a_second)
            .retry_after(Duration::ZERO, second),
        too_many_requests(
            "429, `Retry-After` past the retry budget (8 s)",
            PAST_THE_BUDGET.as_secs().to_string(),
        )
        .retry_after(PAST_THE_BUDGET, PAST_THE_BUDGET)
        .not_retried(),
        status(500, Unavailable, "answered 500 Internal Server Error"),
        status(502, Unavailable, "answered 502 Bad Gateway"),
        status(503, Unavailable, "answered 503 Service Unavailable"),
        Row {
            requests: 0,
            exact: true,
            ..Row::new(
                "connection refused",
                Fault::Refused,
                Unavailable,
                "could not connect to the token endpoint",
            )
            .keeps_source()
        },
        token(
            "connection reset mid-body",
            TokenFault::ResetMidBody,
            Unavailable,
            "the token request failed",
        )
        .keeps_source(),
        token(
            "no answer (timeout)",
            TokenFault::Hang,
            Unavailable,
            NO_ANSWER,
        )
        .waits(SHORT_TIMEOUT * 2),
        token(
            "slow drip past the timeout",
            TokenFault::SlowDrip {
                interval: Duration::from_millis(100),
            },
            Unavailable,
            NO_ANSWER,
        )
        .waits(SHORT_TIMEOUT * 2),
        body(
            "malformed JSON",
            r#"{"accessToken":"fake-token-x","expiresIn":"#,
            NOT_JSON,
        ),
        body(
            "wrong JSON types",
            r#"{"accessToken":42,"expiresIn":true}"#,
            "accessToken is not a string",
        ),
        body(
            "`accessToken` missing",
            r#"{"expiresIn":86400}"#,
            "accessToken is missing",
        ),
        token(
            "`expiresIn` missing (read as 1 day, Symbl's default)",
            TokenFault::GrantedAs(r#"{"accessToken":{token}}"#),
            Ok,
            "",
        ),
        granted("`expiresIn` 0 (read as 1 day)", "0"),
        granted("`expiresIn` null (read as 1 day)", "null"),
        expires_in("`expiresIn` negative", "-5", "expiresIn is negative"),
        granted("`expiresIn` fractional (86399.5)", "86399.5"),
        granted("`expiresIn` a string (`\"86400\"`)", r#""86400""#),
        granted("`expiresIn` `\"3600.0\"`", r#""3600.0""#),
        expires_in(
            "`expiresIn` `\"soon\"`",
            r#""soon""#,
            "expiresIn is not a number",
        ),
        granted("`expiresIn` 2147483647 (clamped to a year)", "2147483647"),
        granted("`expiresIn` 1e300 (clamped to a year)", "1e300"),
        token(
            "a UTF-8 BOM before the JSON",
            TokenFault::GrantedAs("\u{feff}{\"accessToken\":{token},\"expiresIn\":86400}"),
            Ok,
            "",
        ),
        body(
            "`200` with an error object (`{\"error\":\"invalid_client\"}`)",
            r#"{"error":"invalid_client"}"#,
            "the answer is an error message, not a token",
        ),
        body(
            "empty token",
            r#"{"accessToken":"","expiresIn":86400}"#,
            "the access token is empty",
        ),
        body(
            "token with control characters",
            "{\"accessToken\":\"fake-token-x\\r\\nX-Injected: 1\",\"expiresIn\":86400}",
            "the access token has characters that cannot go in an HTTP header",
        ),
        token(
            "1 MiB token",
            TokenFault::Body(huge_token.into()),
            BadResponse,
            TOO_LARGE,
        ),
        token(
            "10 MiB body",
            TokenFault::Body(Bytes::from(vec![b' '; 10 << 20])),
            BadResponse,
            TOO_LARGE,
        ),
        token(
            "non-JSON content type (`text/html` page)",
            TokenFault::Typed {
                content_type: "text/html",
                body: Bytes::from_static(b"<html><body>fake-token-x</body></html>"),
            },
            BadResponse,
            NOT_JSON,
        ),
    ]
}

/// What a call ended as.
#[derive(Debug)]
enum Outcome {
    Ok,
    Failed {
        kind: Kind,
        says: String,
        status: Option<StatusCode>,
        has_source: bool,
        retry_after: Option<Duration>,
    },
}

impl Outcome {
    /// Sorts a call's result, keeping its whole text for the secrets check.
    fn of(result: &Result<StatusCode, BoxError>, texts: &Texts) -> Self {
        let error = match result {
            Ok(status) => {
                assert_eq!(
                    *status,
                    StatusCode::OK,
                    "a call got through but not with 200"
                );
                return Self::Ok;
            }
            Err(error) => error,
        };
        texts.lock().expect("lock").push(error_chain(error));
        let auth = auth_error(error);
        Self::Failed {
            kind: Kind::of(auth),
            says: auth.to_string(),
            status: answered(auth),
            has_source: std::error::Error::source(auth).is_some(),
            retry_after: auth.retry_after(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Self::Ok => Kind::Ok,
            Self::Failed { kind, .. } => *kind,
        }
    }

    /// Whether this is the row's outcome, in every detail the row gives.
    fn is(&self, row: &Row) -> bool {
        match self {
            Self::Ok => row.error == Kind::Ok,
            Self::Failed {
                kind,
                says,
                status,
                has_source,
                retry_after,
            } => {
                let retry_after_fits = match (row.retry_after, retry_after) {
                    (None, None) => true,
                    (Some((least, most)), Some(after)) => (least..=most).contains(after),
                    _ => false,
                };
                *kind == row.error
                    && says.contains(row.says)
                    && *status == row.status
                    && *has_source == row.keeps_source
                    && retry_after_fits
            }
        }
    }
}

/// Every error's text, for the secrets check.
type Texts = Arc<Mutex<Vec<String>>>;

/// What a row saw.
#[derive(Debug)]
struct Observed {
    cold: Cold,
    cached: Cached,
    brief: Brief,
}

#[derive(Debug)]
struct Cold {
    outcomes: Vec<Outcome>,
    longest_call: Duration,
    /// Token requests by the time the first 20 calls ended, and by the end of all 40.
    first_requests: usize,
    requests: usize,
    api_requests: usize,
    /// Once healed, a call just before the failure's hold ends and one just after; for a row
    /// whose calls succeed, one call.
    before_the_end: Option<Probe>,
    after_the_end: Probe,
}

/// One call, how long it took and the token requests it caused.
#[derive(Debug)]
struct Probe {
    outcome: Outcome,
    took: Duration,
    requests: usize,
}

#[derive(Debug)]
struct Cached {
    /// The 40 calls, then the calls until the failed refresh landed.
    kinds: Vec<Kind>,
    /// Token requests during the 40 calls, and by the time the refresh had surely landed.
    requests: usize,
    landed_requests: usize,
    /// Whether every call until then carried the token cached before the fault.
    kept_token_only: bool,
    /// Once healed, how long after the warm-up's token request a call first carried a new
    /// token (every call getting 200), if one did before the kept token would go stale.
    renewed_after: Option<Duration>,
}

#[derive(Debug)]
struct Brief {
    outcome: Outcome,
    took: Duration,
    requests: usize,
}

/// A token server and an API server sharing one fake.
struct Servers {
    fake: FakeSymbl,
    token: Option<TestServer>,
    token_addr: SocketAddr,
    api: TestServer,
}

/// The HTTP client under the layer, recording the `Authorization` of every request it sends.
#[derive(Clone)]
struct Recorded {
    client: HttpClient,
    sent: Arc<Mutex<Vec<Option<HeaderValue>>>>,
}

impl Recorded {
    fn tokens(&self) -> Vec<Option<HeaderValue>> {
        self.sent.lock().expect("lock").clone()
    }
}

impl Service<Request<ReplayBody<Full<Bytes>>>> for Recorded {
    type Response = <HttpClient as Service<Request<ReplayBody<Full<Bytes>>>>>::Response;
    type Error = <HttpClient as Service<Request<ReplayBody<Full<Bytes>>>>>::Error;
    type Future = <HttpClient as Service<Request<ReplayBody<Full<Bytes>>>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.client.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        let token = request.headers().get(header::AUTHORIZATION).cloned();
        self.sent.lock().expect("lock").push(token);
        self.client.call(request)
    }
}

type Api = SymblAuth<Recorded>;

impl Servers {
    async fn start() -> Self {
        let fake = FakeSymbl::new().token_lifetime(LIFETIME);
        let token = TestServer::serve(fake.clone()).await.expect("token server");
        let api = TestServer::serve(fake.clone()).await.expect("api server");
        Self {
            token_addr: token.addr(),
            token: Some(token),
            api,
            fake,
        }
    }

    fn service(&self, row: &Row) -> Api {
        let timeout = match &row.inject {
            Fault::Token(TokenFault::Hang | TokenFault::SlowDrip { .. }) => SHORT_TIMEOUT,
            _ => RETRY_BUDGET,
        };
        let layer = SymblAuthLayer::builder(self.fake.accepted_credentials())
            .token_url(format!("http://{}/oauth2/token:generate", self.token_addr))
            .token_request_timeout(timeout)
            .token_retry_budget(RETRY_BUDGET)
            .failure_cooldown(COOLDOWN)
            .build()
            .expect("layer");
        layer.layer(Recorded {
            client: http1_client(),
            sent: Arc::default(),
        })
    }

    fn url(&self) -> String {
        self.api.url("/v1/conversations")
    }

    /// Turns the fault on for the next `times` token requests (a refused connection, until
    /// healed).
    async fn inject(&mut self, fault: &Fault, times: usize) {
        match fault {
            Fault::Token(fault) => self.fake.fail_token_requests(fault.clone(), times),
            Fault::Refused => {
                drop(self.token.take());
                // The accept loop is aborted on drop; wait (bounded) until the port refuses.
                for _ in 0..200 {
                    if tokio::net::TcpStream::connect(self.token_addr)
                        .await
                        .is_err()
                    {
                        return;
                    }
                    sleep(Duration::from_millis(10)).await;
                }
                panic!("the token server did not stop");
            }
        }
    }

    async fn heal(&mut self) {
        self.fake.heal();
        if self.token.is_none() {
            self.token = Some(restart(self.fake.clone(), self.token_addr).await);
        }
    }
}

async fn restart(fake: FakeSymbl, addr: SocketAddr) -> TestServer {
    let server = TestServer::serve_at(fake, addr).await;
    server.expect("restart at the same port")
}

/// One call, bounded, and how long it took.
async fn call(service: &Api, url: &str) -> (Result<StatusCode, BoxError>, Duration) {
    let started = Instant::now();
    let result = timeout(DEADLINE, status_of(service, get(url))).await;
    (result.expect("no hang"), started.elapsed())
}

/// 20 concurrent calls, then 20 one after another: their outcomes, the longest call, the
/// token requests made by the time the first 20 ended, and when the first of them ended (no
/// earlier than the fetch they shared ended).
async fn calls(
    servers: &Servers,
    service: &Api,
    texts: &Texts,
) -> (Vec<Outcome>, Duration, usize, Instant) {
    let url = servers.url();
    let mut set = JoinSet::new();
    for _ in 0..CALLS {
        let (service, url) = (service.clone(), url.clone());
        set.spawn(async move { call(&service, &url).await });
    }
    let (mut outcomes, mut longest, mut first_end) = (Vec::new(), Duration::ZERO, None);
    while let Some(done) = set.join_next().await {
        let (result, took) = done.expect("no panic");
        first_end.get_or_insert_with(Instant::now);
        outcomes.push(Outcome::of(&result, texts));
        longest = longest.max(took);
    }
    let first_requests = servers.fake.token_requests();
    for _ in 0..CALLS {
        let (result, took) = call(service, &url).await;
        outcomes.push(Outcome::of(&result, texts));
        longest = longest.max(took);
    }
    let first_end = first_end.expect("calls ended");
    (outcomes, longest, first_requests, first_end)
}

/// One call at `at`, and the token requests it caused.
async fn probe(servers: &Servers, service: &Api, at: Instant, texts: &Texts) -> Probe {
    sleep_until(at).await;
    let asked = servers.fake.token_requests();
    let (result, took) = call(service, &servers.url()).await;
    Probe {
        outcome: Outcome::of(&result, texts),
        took,
        requests: servers.fake.token_requests() - asked,
    }
}

async fn run(row: &Row, texts: &Texts) -> Observed {
    let (cold, cached, brief) =
        tokio::join!(cold(row, texts), cached(row, texts), brief(row, texts));
    Observed {
        cold,
        cached,
        brief,
    }
}

async fn cold(row: &Row, texts: &Texts) -> Cold {
    let mut servers = Servers::start().await;
    servers.inject(&row.inject, 100_000).await;
    let service = servers.service(row);
    let (outcomes, longest_call, first_requests, failed) = calls(&servers, &service, texts).await;
    let requests = servers.fake.token_requests();
    let api_requests = servers.fake.api_requests();

    // The failure is held (for the cool-down, or a longer `Retry-After`) from when the fetch
    // failed, which is just before its first waiter heard of it: a healed endpoint is not
    // asked until then, and is asked by the first call after.
    servers.heal().await;
    let (before_the_end, after_the_end) = if row.error == Kind::Ok {
        (None, probe(&servers, &service, Instant::now(), texts).await)
    } else {
        let end = failed + row.held();
        let before = probe(&servers, &service, end - BEFORE_THE_END, texts).await;
        let after = probe(&servers, &service, end + AFTER_THE_END, texts).await;
        (Some(before), after)
    };
    Cold {
        outcomes,
        longest_call,
        first_requests,
        requests,
        api_requests,
        before_the_end,
        after_the_end,
    }
}

async fn cached(row: &Row, texts: &Texts) -> Cached {
    let mut servers = Servers::start().await;
    let service = servers.service(row);
    let warmed = Instant::now();
    assert_eq!(
        status_of(&service, get(&servers.url()))
            .await
            .expect("warm up"),
        StatusCode::OK
    );
    let kept = service.get_ref().tokens()[0].clone().expect("a token");
    // Into the refresh window (half the lifetime), well before the token goes stale.
    sleep(LIFETIME / 2 + Duration::from_millis(300)).await;
    let before = servers.fake.token_requests();
    servers.inject(&row.inject, 100_000).await;
    let refresh_started = Instant::now();
    let (mut outcomes, _, _, _) = calls(&servers, &service, texts).await;
    let requests = servers.fake.token_requests() - before;

    // Calls go on until the refresh has surely failed (a fetch ends within its budget, and
    // one that is not retried at once), and for a fault not retried, before its hold is over.
    let landed_by = refresh_started
        + if row.retried {
            RETRY_BUDGET + SLACK
        } else {
            SLACK
        };
    while Instant::now() < landed_by {
        let (result, _) = call(&service, &servers.url()).await;
        outcomes.push(Outcome::of(&result, texts));
        sleep(Duration::from_millis(200)).await;
    }
    let landed_requests = servers.fake.token_requests() - before;
    let kinds = outcomes.iter().map(Outcome::kind).collect();
    let sent = service.get_ref().tokens();
    let kept_token_only = sent.iter().all(|token| token.as_ref() == Some(&kept));

    // Healed, the refresh after the hold brings a new token: calls until one carries it, up
    // to a second before the kept token would go stale (nine tenths of its lifetime).
    servers.heal().await;
    let mut renewed_after = None;
    while warmed.elapsed() < LIFETIME * 9 / 10 - Duration::from_secs(1) {
        let (result, _) = call(&service, &servers.url()).await;
        if !matches!(result, Ok(StatusCode::OK)) {
            Outcome::of(&result, texts);
            break;
        }
        let last = service.get_ref().tokens().pop().flatten();
        if last.as_ref() != Some(&kept) {
            renewed_after = Some(warmed.elapsed());
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    Cached {
        kinds,
        requests,
        landed_requests,
        kept_token_only,
        renewed_after,
    }
}

async fn brief(row: &Row, texts: &Texts) -> Brief {
    let mut servers = Servers::start().await;
    servers.inject(&row.inject, BRIEF).await;
    let restarted = matches!(row.inject, Fault::Refused).then(|| {
        let (fake, addr) = (servers.fake.clone(), servers.token_addr);
        tokio::spawn(async move {
            sleep(BRIEF_OUTAGE).await;
            restart(fake, addr).await
        })
    });
    let (result, took) = call(&servers.service(row), &servers.url()).await;
    if let Some(restarted) = restarted {
        servers.token = Some(restarted.await.expect("restarted"));
    }
    Brief {
        outcome: Outcome::of(&result, texts),
        took,
        requests: servers.fake.token_requests(),
    }
}

fn bound(row: &Row) -> String {
    if row.exact {
        row.requests.to_string()
    } else {
        format!("≤ {}", row.requests)
    }
}

fn table(rows: &[Row]) -> String {
    let mut table = String::from(
        "| fault | error on a cold cache | token requests for 40 calls | with a valid token cached \
         | if only the first 2 requests fail | once it heals |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let error = match row.error {
            Kind::Ok => row.error.name().to_owned(),
            kind => format!("{}: \"{}\"", kind.name(), row.says),
        };
        let cached = match (row.error, row.requests) {
            (Kind::Ok, _) => "200; the refresh brings a new token".to_owned(),
            (_, 0) => "200 with the kept token; a new one once healed".to_owned(),
            (_, 1) => "200 with the kept token; 1 token request; a new one once healed".to_owned(),
            _ => format!(
                "200 with the kept token; {} token requests; a new one once healed",
                bound(row)
            ),
        };
        let brief = match (&row.inject, row.error, row.retried) {
            (Fault::Refused, ..) => format!(
                "200 once it listens again ({} s)",
                BRIEF_OUTAGE.as_secs_f32()
            ),
            (_, Kind::Ok, _) => "200 after 1 token request".to_owned(),
            (_, _, true) if row.waits.is_zero() => {
                format!("200 after {} token requests", row.brief_requests())
            }
            (_, _, true) => format!(
                "200 after {} token requests, {} s or more",
                row.brief_requests(),
                row.waits.as_secs()
            ),
            (_, kind, false) => format!("{}, not retried", kind.name()),
        };
        let heals = match (row.error, row.retry_after) {
            (Kind::Ok, _) => "—",
            (_, Some((least, _))) if least > COOLDOWN => "200 after the `Retry-After`",
            _ => "200 after the cool-down",
        };
        let _ = writeln!(
            table,
            "| {} | {error} | {} | {cached} | {brief} | {heals} |",
            row.fault,
            bound(row),
        );
    }
    table
}

/// Checks everything a row saw against the row.
fn check(row: &Row, seen: &Observed) {
    let name = &row.fault;
    let Observed {
        cold,
        cached,
        brief,
    } = seen;

    // Cold: every call ends as the row says, sending nothing to the API. A fault that is
    // retried may take the whole budget; any other fails at once.
    for outcome in &cold.outcomes {
        assert!(outcome.is(row), "{name}: {outcome:?} in {seen:#?}");
    }
    let longest = if row.retried {
        RETRY_BUDGET
    } else {
        Duration::ZERO
    };
    assert!(longest + SLACK >= cold.longest_call, "{name}: {cold:?}");
    let api_requests = if row.error == Kind::Ok { 2 * CALLS } else { 0 };
    assert_eq!(cold.api_requests, api_requests, "{name}: {cold:?}");
    // The failure is held: the 20 calls after the first 20 caused no token request.
    assert_eq!(cold.requests, cold.first_requests, "{name}: {cold:?}");
    if row.exact {
        assert_eq!(cold.requests, row.requests, "{name}: {cold:?}");
    } else {
        assert!(
            (1..=row.requests).contains(&cold.requests),
            "{name}: {cold:?}"
        );
    }
    // Once healed: held to the end of the hold, measured from when the fetch failed (a call
    // just before fails at once, asking nothing), and recovered right after (one request).
    if let Some(before) = &cold.before_the_end {
        assert!(
            before.outcome.is(row),
            "{name}: held until its end: {cold:?}"
        );
        assert_eq!(before.requests, 0, "{name}: {cold:?}");
        assert!(before.took < SLACK, "{name}: {cold:?}");
        assert_eq!(cold.after_the_end.requests, 1, "{name}: {cold:?}");
    }
    let after = &cold.after_the_end;
    assert_eq!(
        after.outcome.kind(),
        Kind::Ok,
        "{name}: recovered: {cold:?}"
    );

    // Cached: the kept token serves every call, before the refresh fails and after.
    assert!(
        cached.kinds.iter().all(|kind| *kind == Kind::Ok),
        "{name}: {cached:?}"
    );
    assert!(cached.requests <= row.requests.max(1), "{name}: {cached:?}");
    if row.error != Kind::Ok {
        assert!(cached.kept_token_only, "{name}: {cached:?}");
    }
    // The refresh did ask (but where nothing listens), and a retried fault was retried.
    let least = match (&row.inject, row.retried) {
        (Fault::Refused, _) => 0,
        (_, true) => 2,
        (_, false) => 1,
    };
    assert!(cached.landed_requests >= least, "{name}: {cached:?}");
    if row.exact {
        assert_eq!(cached.landed_requests, least, "{name}: {cached:?}");
    }
    // Healed, a refresh brings a new token before the kept one would have gone stale.
    assert!(cached.renewed_after.is_some(), "{name}: {cached:?}");

    // Brief: retried through, or the row's error at once.
    let expected = if row.retried || matches!(row.inject, Fault::Refused) {
        brief.outcome.kind() == Kind::Ok
    } else {
        brief.outcome.is(row)
    };
    assert!(expected, "{name}: {brief:?}");
    assert_eq!(brief.requests, row.brief_requests(), "{name}: {brief:?}");
    assert!(brief.took >= row.waits, "{name}: {brief:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_endpoint_fault_ends_in_a_clear_error_bounded_load_and_recovery() {
    let captured = Captured::install();

    let rows = Arc::new(rows());
    let texts = Texts::default();
    let mut runs = JoinSet::new();
    for index in 0..rows.len() {
        let (rows, texts) = (Arc::clone(&rows), Arc::clone(&texts));
        runs.spawn(async move { (index, run(&rows[index], &texts).await) });
    }
    let mut observed: Vec<Option<Observed>> = (0..rows.len()).map(|_| None).collect();
    let all = timeout(DEADLINE, async {
        while let Some(done) = runs.join_next().await {
            let (index, seen) = done.expect("no panic");
            observed[index] = Some(seen);
        }
    });
    all.await.expect("the matrix ends within the deadline");

    for (row, seen) in rows.iter().zip(observed) {
        check(row, &seen.expect("every row ran"));
    }

    let logs = captured.text();
    assert!(
        logs.contains("access token fetch failed"),
        "events are captured"
    );
    let mut texts = texts.lock().expect("lock").clone();
    texts.push(logs);
    assert_no_secret_or_token(&texts);

    check_reliability_md(&table(&rows));
}

fn check_reliability_md(table: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/RELIABILITY.md");
    let doc = std::fs::read_to_string(path).expect("RELIABILITY.md");
    const START: &str = "<!-- fault-matrix:start -->\n";
    const END: &str = "<!-- fault-matrix:end -->";
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        panic!("RELIABILITY.md lacks the fault-matrix markers");
    };
    let current = &doc[start + START.len()..end];
    if current == table {
        return;
    }
    if std::env::var_os("UPDATE_RELIABILITY").is_some() {
        let updated = format!("{}{table}{}", &doc[..start + START.len()], &doc[end..]);
        std::fs::File::create(path)
            .and_then(|mut file| file.write_all(updated.as_bytes()))
            .expect("write RELIABILITY.md");
        return;
    }
    panic!(
        "RELIABILITY.md's fault matrix differs from the test's rows; run \
         `UPDATE_RELIABILITY=1 cargo test --all-features --test fault_matrix`. Expected:\n{table}"
    );
}
