//! The fleet tests' harness (`tests/fleet.rs`): a plan of rounds that worker processes (the
//! test binary run again, its test `fleet_worker`) and layers in the test's own process play
//! at the same wall-clock instants, against one `redis-server` and one counting token server.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use symbl_auth::store::RedisStore;
use symbl_auth::test_server::{FakeSymbl, TestServer, TEST_APP_ID, TEST_APP_SECRET};
use symbl_auth::{Credentials, SymblAuth, SymblAuthLayer};
use tower::{Layer, ServiceExt};

use super::redis_server::RedisServer;
use super::{get, http1_client, HttpClient};

/// Set in a worker process: it runs the plan in the other `SYMBL_FLEET_*` variables.
pub const WORKER: &str = "SYMBL_FLEET_WORKER";

/// What every member of the fleet does: at each offset (ms after `start_ms`, Unix time), ask
/// for a token (`token`) or call the API (`api`), all at once.
#[derive(Clone, Debug)]
pub struct Plan {
    pub redis: String,
    pub token_url: String,
    pub api_url: String,
    pub start_ms: u64,
    pub rounds: Vec<u64>,
    pub action: String,
    /// `token_request_timeout`.
    pub attempt_ms: u64,
    /// `token_retry_budget`, which is also how long a lease lasts.
    pub budget_ms: u64,
    /// `failure_cooldown`, which the fleet shares.
    pub cooldown_ms: u64,
}

impl Plan {
    pub fn new(redis: &RedisServer, server: &TestServer, rounds: &[u64], action: &str) -> Self {
        Self {
            redis: redis.url(),
            token_url: server.token_url(),
            api_url: server.url("/v1/conversations"),
            // Time for the workers to start, so that the first round is cold for all at once.
            start_ms: unix_ms() + 3_000,
            rounds: rounds.to_vec(),
            action: action.to_owned(),
            attempt_ms: 10_000,
            budget_ms: 10_000,
            cooldown_ms: 50,
        }
    }

    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"));
        Self {
            redis: var("SYMBL_FLEET_REDIS"),
            token_url: var("SYMBL_FLEET_TOKEN_URL"),
            api_url: var("SYMBL_FLEET_API_URL"),
            start_ms: var("SYMBL_FLEET_START_MS").parse().expect("start"),
            rounds: var("SYMBL_FLEET_ROUNDS")
                .split(',')
                .map(|offset| offset.parse().expect("offset"))
                .collect(),
            action: var("SYMBL_FLEET_ACTION"),
            attempt_ms: var("SYMBL_FLEET_ATTEMPT_MS").parse().expect("attempt"),
            budget_ms: var("SYMBL_FLEET_BUDGET_MS").parse().expect("budget"),
            cooldown_ms: var("SYMBL_FLEET_COOLDOWN_MS").parse().expect("cooldown"),
        }
    }

    /// Runs this plan in `n` worker processes.
    pub fn spawn(&self, n: usize) -> Workers {
        let exe = std::env::current_exe().expect("the test binary");
        let rounds: Vec<String> = self.rounds.iter().map(u64::to_string).collect();
        let children = (0..n)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "fleet_worker", "--nocapture", "--test-threads=1"])
                    .env(WORKER, "1")
                    .env("SYMBL_FLEET_REDIS", &self.redis)
                    .env("SYMBL_FLEET_TOKEN_URL", &self.token_url)
                    .env("SYMBL_FLEET_API_URL", &self.api_url)
                    .env("SYMBL_FLEET_START_MS", self.start_ms.to_string())
                    .env("SYMBL_FLEET_ROUNDS", rounds.join(","))
                    .env("SYMBL_FLEET_ACTION", &self.action)
                    .env("SYMBL_FLEET_ATTEMPT_MS", self.attempt_ms.to_string())
                    .env("SYMBL_FLEET_BUDGET_MS", self.budget_ms.to_string())
                    .env("SYMBL_FLEET_COOLDOWN_MS", self.cooldown_ms.to_string())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("a worker process")
            })
            .collect();
        Workers(children)
    }
}

/// Worker processes, killed if the test ends before they do.
pub struct Workers(Vec<Child>);

impl Workers {
    /// Kills every worker (SIGKILL: no destructor runs, no lease is given back).
    pub fn kill(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for every worker; fails with their output if one failed.
    pub async fn succeed(mut self) {
        let children = std::mem::take(&mut self.0);
        let outputs = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|child| child.wait_with_output().expect("worker output"))
                .collect::<Vec<_>>()
        })
        .await
        .expect("waited");
        for output in outputs {
            assert!(
                output.status.success(),
                "a worker failed: {}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

pub async fn sleep_until_unix(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms.saturating_sub(unix_ms()))).await;
}

/// A store at `url`, given a crypto provider (ring, from the dev-dependencies) where the
/// crate's features bring none.
pub fn store(url: &str) -> RedisStore {
    let store = RedisStore::new(url).expect("redis url");
    #[cfg(not(any(tls_provider = "aws-lc-rs", tls_provider = "ring")))]
    let store =
        store.crypto_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    store
}

/// One member of the fleet: a layer of its own (its own cache and store connection).
pub struct Member {
    pub layer: SymblAuthLayer,
    pub service: SymblAuth<HttpClient>,
}

pub fn member(plan: &Plan) -> Member {
    let store = store(&plan.redis);
    let layer = SymblAuthLayer::builder(Credentials::new(TEST_APP_ID, TEST_APP_SECRET))
        .token_url(&plan.token_url)
        // Plain http to loopback, and a client whatever the TLS features.
        .token_client(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>(),
        )
        .failure_cooldown(Duration::from_millis(plan.cooldown_ms))
        .token_request_timeout(Duration::from_millis(plan.attempt_ms))
        .token_retry_budget(Duration::from_millis(plan.budget_ms))
        .shared_store(store)
        .build()
        .expect("layer");
    let service = layer.clone().layer(http1_client());
    Member { layer, service }
}

pub async fn act(member: &Member, plan: &Plan) -> Result<(), String> {
    match plan.action.as_str() {
        "token" => member
            .layer
            .access_token()
            .await
            .map(drop)
            .map_err(|error| error.to_string()),
        _ => {
            let response = member
                .service
                .clone()
                .oneshot(get(&plan.api_url))
                .await
                .map_err(|error| error.to_string())?;
            match response.status() {
                StatusCode::OK => Ok(()),
                status => Err(format!("the API answered {status}")),
            }
        }
    }
}

/// Runs round `round` of `plan` with every member at once.
pub async fn play(members: &[Member], plan: &Plan, round: usize) -> Result<(), String> {
    sleep_until_unix(plan.start_ms + plan.rounds[round]).await;
    let results = futures_util::future::join_all(members.iter().map(|m| act(m, plan))).await;
    results.into_iter().collect()
}

pub fn short_lived(lifetime: Duration) -> FakeSymbl {
    // A new token on every request: nothing re-served.
    FakeSymbl::new()
        .token_lifetime(lifetime)
        .reissue_before(lifetime)
}

/// In-process members, for the tests that look into or break the store.
pub fn members(n: usize, redis: &RedisServer, server: &TestServer) -> (Vec<Member>, Plan) {
    let plan = Plan::new(redis, server, &[], "api");
    ((0..n).map(|_| member(&plan)).collect(), plan)
}

pub async fn all_at_once(members: &[Member], plan: &Plan) -> Result<(), String> {
    let results = futures_util::future::join_all(members.iter().map(|m| act(m, plan))).await;
    results.into_iter().collect()
}

/// The key the fleet's token is stored under (the one key without `:lease`).
pub fn token_key(redis: &RedisServer) -> (String, Vec<u8>) {
    let entries: Vec<_> = redis
        .dump()
        .into_iter()
        .filter(|(key, _)| !key.ends_with(":lease"))
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one token entry: {:?}",
        entries.iter().map(|e| &e.0).collect::<Vec<_>>()
    );
    entries.into_iter().next().expect("one")
}

/// A worker process's part, when `WORKER` is set: one layer, every round of the plan from the
/// environment. `false` in the test's own process.
pub fn run_worker() -> bool {
    if std::env::var_os(WORKER).is_none() {
        return false;
    }
    let plan = Plan::from_env();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let members = [member(&plan)];
        for round in 0..plan.rounds.len() {
            if let Err(error) = play(&members, &plan, round).await {
                panic!("round {round}: {error}");
            }
        }
    });
    true
}
