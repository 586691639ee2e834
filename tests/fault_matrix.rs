//! Every way the token endpoint can fail, one row each, over real HTTP on loopback.
//!
//! Each row runs two scenarios against a token server and an API server that share one
//! `FakeSymbl`:
//! - **cold**: the fault is on from the start; 20 concurrent calls and 20 more after them all
//!   fail with the row's error, within a bound on token requests; then the endpoint heals and
//!   the same layer recovers (a 200) once the cool-down is over;
//! - **cached**: a valid token is cached, the fault starts when the background refresh is due;
//!   40 calls all get 200 with the kept token, within the same bound on token requests.
//!
//! The table in `RELIABILITY.md` is rendered from these rows and must match exactly
//! (`UPDATE_RELIABILITY=1 cargo test --all-features --test fault_matrix` rewrites it). All
//! `tracing` output at TRACE, every error and its sources are checked for the secret and tokens;
//! this is its own test binary because the subscriber is process-wide.
#![cfg(feature = "test-server")]

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer, TokenFault, TEST_APP_SECRET};
use symbl_auth::{BoxError, Error, SymblAuth, SymblAuthLayer};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};
use tower::Layer;

use support::*;

/// The per-attempt timeout for rows about timeouts (a hang, a slow drip). Other rows use the
/// whole budget, so a busy machine can never turn their answer into a timeout and a retry.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_BUDGET: Duration = Duration::from_secs(5);
const COOLDOWN: Duration = Duration::from_secs(3);
/// Tokens live this long in the cached scenario; the background refresh is due at half.
const LIFETIME: Duration = Duration::from_secs(16);
/// Attempts one fetch can make in the budget: backoff waits at least half of 100 ms, doubling
/// (50, 100, 200, 400, 800, 1600 ms: 3.15 s), and the next (2.5 s) ends past 5 s.
const TRANSIENT: usize = 7;
const CALLS: usize = 20;
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
    fn of(result: &Result<StatusCode, BoxError>) -> Self {
        match result {
            Ok(status) => {
                assert_eq!(
                    *status,
                    StatusCode::OK,
                    "a call got through but not with 200"
                );
                Self::Ok
            }
            Err(error) => match auth_error(error) {
                Error::InvalidCredentials { .. } => Self::InvalidCredentials,
                Error::TokenEndpointRejected { .. } => Self::Rejected,
                Error::TokenEndpointUnavailable { .. } => Self::Unavailable,
                Error::BadTokenResponse { .. } => Self::BadResponse,
                other => panic!("unexpected error {other}"),
            },
        }
    }

    fn cell(self) -> &'static str {
        match self {
            Self::Ok => "none: the token is used",
            Self::InvalidCredentials => "`InvalidCredentials`",
            Self::Rejected => "`TokenEndpointRejected`",
            Self::Unavailable => "`TokenEndpointUnavailable`",
            Self::BadResponse => "`BadTokenResponse`",
        }
    }
}

#[derive(Clone)]
enum Fault {
    Token(TokenFault),
    /// Nothing listens at the token URL.
    Refused,
}

struct Row {
    fault: &'static str,
    inject: Fault,
    error: Kind,
    /// The most token requests 40 calls may cause; `exact` when it is also the least.
    requests: usize,
    exact: bool,
}

fn row(fault: &'static str, inject: TokenFault, error: Kind) -> Row {
    let transient = error == Kind::Unavailable;
    Row {
        fault,
        inject: Fault::Token(inject),
        error,
        requests: if transient { TRANSIENT } else { 1 },
        exact: !transient,
    }
}

fn body(text: &'static str) -> TokenFault {
    TokenFault::Body(Bytes::from_static(text.as_bytes()))
}

fn rows() -> Vec<Row> {
    use Kind::*;
    let status = |code: u16| TokenFault::Status(StatusCode::from_u16(code).expect("status"));
    let in_a_second =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    let huge_token = format!(
        r#"{{"accessToken":"fake-token-{}","expiresIn":86400}}"#,
        "a".repeat(1 << 20)
    );
    vec![
        row("400 Bad Request", status(400), InvalidCredentials),
        row("401 Unauthorized", status(401), InvalidCredentials),
        row("403 Forbidden", status(403), InvalidCredentials),
        row("404 Not Found", status(404), Rejected),
        row(
            "429, `Retry-After: 1`",
            TokenFault::TooManyRequests {
                retry_after: "1".into(),
            },
            Unavailable,
        ),
        row(
            "429, `Retry-After` as an HTTP date",
            TokenFault::TooManyRequests {
                retry_after: in_a_second,
            },
            Unavailable,
        ),
        row("500 Internal Server Error", status(500), Unavailable),
        row("502 Bad Gateway", status(502), Unavailable),
        row("503 Service Unavailable", status(503), Unavailable),
        Row {
            fault: "connection refused",
            inject: Fault::Refused,
            error: Unavailable,
            requests: 0,
            exact: true,
        },
        row(
            "connection reset mid-body",
            TokenFault::ResetMidBody,
            Unavailable,
        ),
        row("no answer (timeout)", TokenFault::Hang, Unavailable),
        row(
            "slow drip past the timeout",
            TokenFault::SlowDrip {
                interval: Duration::from_millis(100),
            },
            Unavailable,
        ),
        row(
            "malformed JSON",
            body(r#"{"accessToken":"fake-token-x","expiresIn":"#),
            BadResponse,
        ),
        row(
            "wrong JSON types",
            body(r#"{"accessToken":42,"expiresIn":true}"#),
            BadResponse,
        ),
        row(
            "`accessToken` missing",
            body(r#"{"expiresIn":86400}"#),
            BadResponse,
        ),
        row(
            "`expiresIn` missing",
            body(r#"{"accessToken":"fake-token-x"}"#),
            BadResponse,
        ),
        row("`expiresIn` 0", TokenFault::ExpiresIn("0"), BadResponse),
        row(
            "`expiresIn` negative",
            TokenFault::ExpiresIn("-5"),
            BadResponse,
        ),
        row(
            "`expiresIn` fractional (86399.5)",
            TokenFault::ExpiresIn("86399.5"),
            Ok,
        ),
        row(
            "`expiresIn` absurdly large (1e300)",
            TokenFault::ExpiresIn("1e300"),
            BadResponse,
        ),
        row(
            "`expiresIn` over a year",
            TokenFault::ExpiresIn("99999999999"),
            BadResponse,
        ),
        row(
            "empty token",
            body(r#"{"accessToken":"","expiresIn":86400}"#),
            BadResponse,
        ),
        row(
            "token with control characters",
            body("{\"accessToken\":\"fake-token-x\\r\\nX-Injected: 1\",\"expiresIn\":86400}"),
            BadResponse,
        ),
        row(
            "1 MiB token",
            TokenFault::Body(huge_token.into()),
            BadResponse,
        ),
        row(
            "10 MiB body",
            TokenFault::Body(Bytes::from(vec![b' '; 10 << 20])),
            BadResponse,
        ),
        row(
            "non-JSON content type (`text/html` page)",
            TokenFault::Typed {
                content_type: "text/html",
                body: Bytes::from_static(b"<html><body>fake-token-x</body></html>"),
            },
            BadResponse,
        ),
    ]
}

/// What a row saw.
struct Observed {
    cold_took: Duration,
    cold: Vec<Kind>,
    cold_requests: usize,
    recovered: bool,
    cached: Vec<Kind>,
    cached_requests: usize,
    errors: Vec<String>,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The error texts are long and checked on their own.
        f.debug_struct("Observed")
            .field("cold_took", &self.cold_took)
            .field("cold", &self.cold)
            .field("cold_requests", &self.cold_requests)
            .field("recovered", &self.recovered)
            .field("cached", &self.cached)
            .field("cached_requests", &self.cached_requests)
            .finish_non_exhaustive()
    }
}

/// A token server and an API server sharing one fake.
struct Servers {
    fake: FakeSymbl,
    token: Option<TestServer>,
    token_addr: SocketAddr,
    api: TestServer,
}

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

    fn layer(&self, row: &Row) -> SymblAuthLayer {
        let timeout = match &row.inject {
            Fault::Token(TokenFault::Hang | TokenFault::SlowDrip { .. }) => SHORT_TIMEOUT,
            _ => RETRY_BUDGET,
        };
        SymblAuthLayer::builder(self.fake.accepted_credentials())
            .token_url(format!("http://{}/oauth2/token:generate", self.token_addr))
            .token_request_timeout(timeout)
            .token_retry_budget(RETRY_BUDGET)
            .failure_cooldown(COOLDOWN)
            .build()
            .expect("layer")
    }

    async fn inject(&mut self, fault: &Fault) {
        match fault {
            Fault::Token(fault) => self.fake.fail_token_requests(fault.clone(), 100_000),
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
            let server = TestServer::serve_at(self.fake.clone(), self.token_addr).await;
            self.token = Some(server.expect("restart at the same port"));
        }
    }
}

type Service = SymblAuth<HttpClient>;

async fn calls(service: &Service, url: &str, errors: &mut Vec<String>) -> Vec<Kind> {
    let mut set = JoinSet::new();
    for _ in 0..CALLS {
        let (service, request) = (service.clone(), get(url));
        set.spawn(async move { timeout(DEADLINE, status_of(&service, request)).await });
    }
    let mut kinds = Vec::new();
    while let Some(result) = set.join_next().await {
        let result = result.expect("no panic").expect("no hang");
        record_error(&result, errors);
        kinds.push(Kind::of(&result));
    }
    for _ in 0..CALLS {
        let result = timeout(DEADLINE, status_of(service, get(url)))
            .await
            .expect("no hang");
        record_error(&result, errors);
        kinds.push(Kind::of(&result));
    }
    kinds
}

/// Keeps the error's text, its `Debug` and every source in its chain, for the secrets check.
fn record_error(result: &Result<StatusCode, BoxError>, errors: &mut Vec<String>) {
    let Err(error) = result else { return };
    let mut text = format!("{error} {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, " / {cause} {cause:?}");
        source = cause.source();
    }
    errors.push(text);
}

async fn run(row: &Row) -> Observed {
    let (cold, cached) = tokio::join!(cold(row), cached(row));
    let (cold, cold_took, cold_requests, recovered, mut errors) = cold;
    let (cached, cached_requests, cached_errors) = cached;
    errors.extend(cached_errors);
    Observed {
        cold_took,
        cold,
        cold_requests,
        recovered,
        cached,
        cached_requests,
        errors,
    }
}

async fn cold(row: &Row) -> (Vec<Kind>, Duration, usize, bool, Vec<String>) {
    let mut servers = Servers::start().await;
    servers.inject(&row.inject).await;
    let service = servers.layer(row).layer(http1_client());
    let url = servers.api.url("/v1/conversations");
    let mut errors = Vec::new();
    let started = Instant::now();
    let kinds = calls(&service, &url, &mut errors).await;
    let took = started.elapsed();
    let requests = servers.fake.token_requests();

    servers.heal().await;
    let healed_at = Instant::now();
    let mut recovered = false;
    // The failure is held for the cool-down; then one call fetches afresh.
    while healed_at.elapsed() < COOLDOWN * 4 {
        let result = timeout(DEADLINE, status_of(&service, get(&url)))
            .await
            .expect("no hang");
        if matches!(result, Ok(StatusCode::OK)) {
            recovered = true;
            break;
        }
        record_error(&result, &mut errors);
        sleep(Duration::from_millis(100)).await;
    }
    (kinds, took, requests, recovered, errors)
}

async fn cached(row: &Row) -> (Vec<Kind>, usize, Vec<String>) {
    let mut servers = Servers::start().await;
    let service = servers.layer(row).layer(http1_client());
    let url = servers.api.url("/v1/conversations");
    assert_eq!(
        status_of(&service, get(&url)).await.expect("warm up"),
        StatusCode::OK
    );
    // Into the refresh window (half the lifetime), well before the token goes stale.
    sleep(LIFETIME / 2 + Duration::from_millis(300)).await;
    let before = servers.fake.token_requests();
    servers.inject(&row.inject).await;
    let mut errors = Vec::new();
    let kinds = calls(&service, &url, &mut errors).await;
    let requests = servers.fake.token_requests() - before;
    (kinds, requests, errors)
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
        "| fault | error on a cold cache | token requests for 40 calls | with a valid token cached | once it heals |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let cached = match (row.error, row.requests) {
            (Kind::Ok, _) => "200; the refresh brings a new token".to_owned(),
            (_, 0) => "200 with the kept token".to_owned(),
            (_, 1) => "200 with the kept token; 1 token request".to_owned(),
            _ => format!("200 with the kept token; {} token requests", bound(row)),
        };
        let heals = if row.error == Kind::Ok {
            "—"
        } else {
            "200 after the cool-down"
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} | {} |",
            row.fault,
            row.error.cell(),
            bound(row),
            cached,
            heals
        );
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_endpoint_fault_ends_in_a_clear_error_bounded_load_and_recovery() {
    let captured = Captured::install();

    let rows = Arc::new(rows());
    let mut runs = JoinSet::new();
    for index in 0..rows.len() {
        let rows = Arc::clone(&rows);
        runs.spawn(async move { (index, run(&rows[index]).await) });
    }
    let mut observed: Vec<Option<Observed>> = (0..rows.len()).map(|_| None).collect();
    let all = timeout(DEADLINE, async {
        while let Some(done) = runs.join_next().await {
            let (index, seen) = done.expect("no panic");
            observed[index] = Some(seen);
        }
    });
    all.await.expect("the matrix ends within the deadline");

    let mut texts = Vec::new();
    for (row, seen) in rows.iter().zip(observed) {
        let seen = seen.expect("every row ran");
        let name = row.fault;
        assert!(
            seen.cold.iter().all(|kind| *kind == row.error),
            "{name}: {seen:?}"
        );
        if row.exact {
            assert_eq!(seen.cold_requests, row.requests, "{name}: {seen:?}");
        } else {
            assert!(
                (1..=row.requests).contains(&seen.cold_requests),
                "{name}: {seen:?}"
            );
        }
        assert!(
            seen.recovered,
            "{name}: did not recover once healed: {seen:?}"
        );
        assert!(
            seen.cached.iter().all(|kind| *kind == Kind::Ok),
            "{name}: {seen:?}"
        );
        assert!(
            seen.cached_requests <= row.requests.max(1),
            "{name}: {seen:?}"
        );
        texts.extend(seen.errors);
    }

    let logs = captured.text();
    assert!(
        logs.contains("access token fetch failed"),
        "events are captured"
    );
    texts.push(logs);
    for text in &texts {
        assert!(!text.contains(TEST_APP_SECRET), "secret in: {text}");
        assert!(!text.contains("fake-token"), "token in: {text}");
    }

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
