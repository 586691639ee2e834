//! A fleet shares its tokens through Redis (feature `redis`), tested on a real `redis-server`
//! (started by each test on a free loopback port) against a counting token server: real OS
//! processes (this test binary run again as workers, `fleet_worker`) and many layers in one
//! process, each layer a cache of its own that shares nothing with the others but the store.
#![cfg(all(feature = "redis", feature = "test-server"))]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::StatusCode;
use symbl_auth::store::RedisStore;
use symbl_auth::test_server::{FakeSymbl, TestServer, TokenFault, TEST_APP_ID, TEST_APP_SECRET};
use symbl_auth::{Credentials, SymblAuth, SymblAuthLayer};
use tower::{Layer, ServiceExt};

use support::redis_server::RedisServer;
use support::{get, http1_client, HttpClient};

/// Set in a worker process: it runs the plan in the other `SYMBL_FLEET_*` variables.
const WORKER: &str = "SYMBL_FLEET_WORKER";
const WORKERS: usize = 8;
const LAYERS: usize = 16;

/// What every member of the fleet does: at each offset (ms after `start_ms`, Unix time), ask
/// for a token (`token`) or call the API (`api`), all at once.
#[derive(Clone, Debug)]
struct Plan {
    redis: String,
    token_url: String,
    api_url: String,
    start_ms: u64,
    rounds: Vec<u64>,
    action: String,
    /// `token_request_timeout`, which is also how long a lease lasts.
    attempt_ms: u64,
}

impl Plan {
    fn new(redis: &RedisServer, server: &TestServer, rounds: &[u64], action: &str) -> Self {
        Self {
            redis: redis.url(),
            token_url: server.token_url(),
            api_url: server.url("/v1/conversations"),
            // Time for the workers to start, so that the first round is cold for all at once.
            start_ms: unix_ms() + 3_000,
            rounds: rounds.to_vec(),
            action: action.to_owned(),
            attempt_ms: 10_000,
        }
    }

    fn from_env() -> Self {
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
        }
    }

    /// Runs this plan in `n` worker processes.
    fn spawn(&self, n: usize) -> Workers {
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
struct Workers(Vec<Child>);

impl Workers {
    /// Kills every worker (SIGKILL: no destructor runs, no lease is given back).
    fn kill(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for every worker; fails with their output if one failed.
    async fn succeed(mut self) {
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

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

async fn sleep_until_unix(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms.saturating_sub(unix_ms()))).await;
}

/// One member of the fleet: a layer of its own (its own cache and store connection).
struct Member {
    layer: SymblAuthLayer,
    service: SymblAuth<HttpClient>,
}

fn member(plan: &Plan) -> Member {
    let store = RedisStore::new(&plan.redis).expect("redis url");
    let layer = SymblAuthLayer::builder(Credentials::new(TEST_APP_ID, TEST_APP_SECRET))
        .token_url(&plan.token_url)
        // Plain http to loopback, and a client whatever the TLS features.
        .token_client(
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>(),
        )
        .failure_cooldown(Duration::from_millis(50))
        .token_request_timeout(Duration::from_millis(plan.attempt_ms))
        .shared_store(store)
        .build()
        .expect("layer");
    let service = layer.clone().layer(http1_client());
    Member { layer, service }
}

async fn act(member: &Member, plan: &Plan) -> Result<(), String> {
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
async fn play(members: &[Member], plan: &Plan, round: usize) -> Result<(), String> {
    sleep_until_unix(plan.start_ms + plan.rounds[round]).await;
    let results = futures_util::future::join_all(members.iter().map(|m| act(m, plan))).await;
    results.into_iter().collect()
}

/// A worker process: one layer, every round of the plan.
#[test]
fn fleet_worker() {
    if std::env::var_os(WORKER).is_none() {
        return;
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
}

fn short_lived(lifetime: Duration) -> FakeSymbl {
    // A new token on every request: nothing re-served.
    FakeSymbl::new()
        .token_lifetime(lifetime)
        .reissue_before(lifetime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_and_sixteen_layers_make_one_token_request_per_lifetime() {
    let redis = RedisServer::start();
    let server = TestServer::serve(short_lived(Duration::from_secs(3)))
        .await
        .expect("server");
    // Each round comes after the last round's token expired: cold again, fleet-wide.
    let plan = Plan::new(&redis, &server, &[0, 3_400, 6_800], "token");
    let workers = plan.spawn(WORKERS);
    let members: Vec<Member> = (0..LAYERS).map(|_| member(&plan)).collect();
    for round in 0..plan.rounds.len() {
        play(&members, &plan, round).await.expect("every call");
        assert_eq!(
            server.symbl().token_requests(),
            round + 1,
            "round {round}: one token request for {WORKERS} processes and {LAYERS} layers"
        );
    }
    workers.succeed().await;
    assert_eq!(server.symbl().token_requests(), 3, "three lifetimes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_seen_by_every_process_costs_one_token_request() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let plan = Plan::new(&redis, &server, &[0, 1_500], "api");
    let workers = plan.spawn(WORKERS);
    let members: Vec<Member> = (0..LAYERS).map(|_| member(&plan)).collect();
    play(&members, &plan, 0).await.expect("every call");
    sleep_until_unix(plan.start_ms + 750).await;
    assert_eq!(server.symbl().token_requests(), 1);
    server.symbl().revoke_tokens();
    // Every member's next call gets a 401, drops the token, and is sent again with a new one.
    play(&members, &plan, 1)
        .await
        .expect("every call, after its 401");
    workers.succeed().await;
    assert_eq!(
        server.symbl().token_requests(),
        2,
        "one token request fleet-wide after the revocation"
    );
}

/// In-process members, for the tests that look into or break the store.
fn members(n: usize, redis: &RedisServer, server: &TestServer) -> (Vec<Member>, Plan) {
    let plan = Plan::new(redis, server, &[], "api");
    ((0..n).map(|_| member(&plan)).collect(), plan)
}

async fn all_at_once(members: &[Member], plan: &Plan) -> Result<(), String> {
    let results = futures_util::future::join_all(members.iter().map(|m| act(m, plan))).await;
    results.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_then_restarted_fails_no_call_and_is_shared_again() {
    let mut redis = RedisServer::start();
    let lifetime = Duration::from_millis(1_500);
    let server = TestServer::serve(short_lived(lifetime))
        .await
        .expect("server");
    let (members, plan) = members(6, &redis, &server);
    all_at_once(&members, &plan).await.expect("every call");
    assert_eq!(server.symbl().token_requests(), 1);

    redis.stop();
    tokio::time::sleep(lifetime).await;
    all_at_once(&members, &plan)
        .await
        .expect("every call, Redis down");
    assert_eq!(
        server.symbl().token_requests(),
        1 + members.len(),
        "each fetches for itself"
    );

    redis.restart();
    tokio::time::sleep(lifetime).await;
    all_at_once(&members, &plan)
        .await
        .expect("every call, Redis back");
    assert_eq!(
        server.symbl().token_requests(),
        2 + members.len(),
        "shared again"
    );

    // Restarted between two uses: the connections it dropped are made again at once.
    redis.restart();
    tokio::time::sleep(lifetime).await;
    all_at_once(&members, &plan)
        .await
        .expect("every call, Redis restarted");
    assert_eq!(
        server.symbl().token_requests(),
        3 + members.len(),
        "shared at once after a restart nobody saw"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_costs_at_most_its_timeout() {
    // Accepts connections, reads nothing, answers nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let url = format!("redis://{}", silent.local_addr().expect("addr"));
    let server = TestServer::start().await.expect("server");
    let store = RedisStore::new(&url)
        .expect("url")
        .timeout(Duration::from_millis(100));
    let layer = server
        .layer_builder()
        .shared_store(store)
        .build()
        .expect("layer");
    let began = tokio::time::Instant::now();
    layer
        .access_token()
        .await
        .expect("a token without the store");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(server.symbl().token_requests(), 1);
}

/// The key the fleet's token is stored under (the one key without `:lease`).
fn token_key(redis: &RedisServer) -> (String, Vec<u8>) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lease_holder_is_outlived() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (first, plan) = members(1, &redis, &server);
    all_at_once(&first, &plan).await.expect("call");
    let (key, _) = token_key(&redis);
    // A holder that took the lease and died before writing: the token gone, the lease left
    // to expire on its own.
    let mut connection = redis.connection().expect("redis");
    redis::cmd("DEL")
        .arg(&key)
        .query::<()>(&mut connection)
        .expect("DEL");
    redis.set(
        &format!("{key}:lease"),
        b"dead-holder",
        Duration::from_millis(1_500),
    );
    let (later, _) = members(3, &redis, &server);
    let began = tokio::time::Instant::now();
    all_at_once(&later, &plan).await.expect("every call");
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(1_300),
        "waited for the lease: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "not wedged: {waited:?}");
    assert_eq!(
        server.symbl().token_requests(),
        2,
        "one fetch once the lease expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_by_hand_are_refused_never_sent_and_overwritten() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (first, plan) = members(1, &redis, &server);
    all_at_once(&first, &plan).await.expect("call");
    let (key, _) = token_key(&redis);

    // A token sealed under another credential, moved to this credential's key.
    let other = TestServer::serve(
        FakeSymbl::new().credentials(Credentials::new("other-app", "other-secret")),
    )
    .await
    .expect("server");
    let foreign_layer = other
        .layer_builder()
        .shared_store(RedisStore::new(&redis.url()).expect("url"))
        .build()
        .expect("layer");
    foreign_layer.access_token().await.expect("token");
    let foreign = redis
        .dump()
        .into_iter()
        .find(|(k, _)| *k != key && !k.ends_with(":lease"))
        .expect("the other credential's entry")
        .1;

    let planted_token = "fake-token-planted";
    let plants: [(&str, Vec<u8>); 3] = [
        ("a plain token", planted_token.as_bytes().to_vec()),
        ("an entry sealed under another credential", foreign),
        ("garbage", vec![0xA5; 200]),
    ];
    for (n, (what, value)) in plants.into_iter().enumerate() {
        redis.set(&key, &value, Duration::from_secs(3_600));
        let (fresh, _) = members(1, &redis, &server);
        let token = fresh[0].layer.access_token().await.expect("token");
        assert_ne!(token.secret(), planted_token, "{what}: sent");
        assert!(
            server.symbl().is_authorized(Some(token.header_value())),
            "{what}: a real token"
        );
        assert_eq!(
            server.symbl().token_requests(),
            2 + n,
            "{what}: refused, so fetched"
        );
        let now = redis.get(&key).expect("an entry");
        assert_ne!(now, value, "{what}: overwritten");
        // The calls made with it reach the API with a token it accepts.
        all_at_once(&fresh, &plan).await.expect("call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_value_shows_the_token_or_the_secret() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (members, plan) = members(2, &redis, &server);
    all_at_once(&members, &plan).await.expect("calls");
    let token = members[0].layer.access_token().await.expect("token");
    let token = token.secret().to_owned();
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut needles = vec![
        token.clone(),
        TEST_APP_SECRET.to_owned(),
        "fake-token".to_owned(),
    ];
    for secret in [&token, &TEST_APP_SECRET.to_owned()] {
        for engine in &engines {
            // Base64 of the whole, and of it at each offset mod 3 (as inside a longer text).
            for skip in 0..3 {
                let encoded = engine.encode(&secret.as_bytes()[skip..]);
                needles.push(encoded[4..encoded.len() - 4].to_owned());
            }
        }
    }
    let dump = redis.dump();
    assert!(!dump.is_empty());
    for (key, value) in dump {
        for needle in &needles {
            let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found(key.as_bytes()), "key {key} shows a secret");
            assert!(!found(&value), "the value of {key} shows a secret");
        }
        assert!(!key.contains(TEST_APP_ID), "the key is a fingerprint");
    }
}

#[tokio::test]
async fn a_source_that_cannot_say_what_determines_its_tokens_is_not_shared() {
    let source = support::ScriptedSource::new(FakeSymbl::new());
    let error = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .shared_store(RedisStore::new("redis://127.0.0.1:1").expect("url"))
        .build()
        .expect_err("refused");
    assert!(error.to_string().contains("cache_key"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_removes_the_token_from_the_store_only_if_the_store_still_holds_it() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (fleet, plan) = members(2, &redis, &server);
    let (x, y) = (&fleet[0], &fleet[1]);
    all_at_once(&fleet, &plan).await.expect("calls");
    let (key, _) = token_key(&redis);
    assert_eq!(server.symbl().token_requests(), 1);

    // Y's 401 removes the revoked token, although Y gets no new one (the endpoint refuses).
    server.symbl().revoke_tokens();
    server
        .symbl()
        .fail_token_requests(TokenFault::Status(StatusCode::BAD_REQUEST), 1);
    let _ = act(y, &plan).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        redis.get(&key),
        None,
        "the revoked token is gone from the store"
    );

    // Y gets a new token and writes it; X's late 401 for the old one leaves the new one.
    tokio::time::sleep(Duration::from_millis(100)).await; // the cool-down of the failure
    act(y, &plan).await.expect("Y, with a new token");
    let requests = server.symbl().token_requests();
    act(x, &plan)
        .await
        .expect("X, after its 401, with Y's token");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(redis.get(&key).is_some(), "the newer token stays");
    let (cold, _) = members(1, &redis, &server);
    all_at_once(&cold, &plan).await.expect("a cold member");
    assert_eq!(
        server.symbl().token_requests(),
        requests,
        "X and a cold member took Y's token from the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_holder_killed_mid_fetch_is_outlived() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    // The first token request never gets an answer: its process holds the lease, stuck.
    server.symbl().fail_token_requests(TokenFault::Hang, 1);
    let mut plan = Plan::new(&redis, &server, &[0], "token");
    plan.start_ms = unix_ms();
    plan.attempt_ms = 1_500;
    let mut holder = plan.spawn(1);
    for _ in 0..1_000 {
        if server.symbl().token_requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.symbl().token_requests(), 1, "the holder is fetching");
    assert!(
        redis.dump().iter().any(|(key, _)| key.ends_with(":lease")),
        "the holder took the lease"
    );
    holder.kill();

    let other = member(&plan);
    let began = tokio::time::Instant::now();
    other.layer.access_token().await.expect("a token");
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(1_000),
        "waited for the lease: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "not wedged: {waited:?}");
    assert_eq!(
        server.symbl().token_requests(),
        2,
        "one fetch once the lease expired"
    );
}
