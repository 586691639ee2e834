//! A fleet shares its tokens through Redis (feature `redis`), tested on a real `redis-server`
//! (started by each test on a free loopback port) against a counting token server: real OS
//! processes (this test binary run again as workers, `fleet_worker`) and many layers in one
//! process, each layer a cache of its own that shares nothing with the others but the store.
#![cfg(all(feature = "redis", feature = "test-server"))]

mod support;

use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer, TokenFault};
use symbl_auth::{Credentials, SymblAuthLayer};

use support::fleet::*;
use support::redis_server::RedisServer;

const WORKERS: usize = 8;
const LAYERS: usize = 16;

/// A worker process (the test binary run again by `Plan::spawn`); nothing in the test's own.
#[test]
fn fleet_worker() {
    support::fleet::run_worker();
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
    let store = store(&url).timeout(Duration::from_millis(100));
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
    plan.budget_ms = 1_500;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_lasts_the_holders_whole_fetch_retries_included() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    // The holder's first two attempts get no answer: it retries after each timeout, for about
    // 1.5 s in all, longer than one attempt and a store operation (850 ms).
    server.symbl().fail_token_requests(TokenFault::Hang, 2);
    let mut plan = Plan::new(&redis, &server, &[], "token");
    plan.attempt_ms = 600;
    plan.budget_ms = 5_000;
    let (holder, other) = (member(&plan), member(&plan));
    let holding = tokio::spawn(async move { holder.layer.access_token().await.map(drop) });
    for _ in 0..1_000 {
        if server.symbl().token_requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.symbl().token_requests(), 1, "the holder is fetching");
    other
        .layer
        .access_token()
        .await
        .expect("the holder's token");
    holding.await.expect("joined").expect("a token");
    assert_eq!(
        server.symbl().token_requests(),
        3,
        "the holder's three attempts, and none from the one that waited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_fleet_refreshes_ahead_once_for_all() {
    let redis = RedisServer::start();
    // 2 s tokens: each member refreshes ahead at about half their lifetime.
    let lifetime = Duration::from_secs(2);
    let server = TestServer::serve(short_lived(lifetime))
        .await
        .expect("server");
    let (members, plan) = members(8, &redis, &server);
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    let busy = members.iter().map(|member| async {
        while tokio::time::Instant::now() < until {
            act(member, &plan).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<(), String>(())
    });
    for result in futures_util::future::join_all(busy).await {
        result.expect("every call");
    }
    // About one fetch per second for the whole fleet (8 members alone make about 40).
    let requests = server.symbl().token_requests();
    assert!(
        (4..=8).contains(&requests),
        "{requests} token requests in 5 s"
    );
}

/// A keyed layer shares each key's tokens through the store: layers in one process, each with
/// caches of its own, cold at once for two tenants, cost one token request per tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_layer_shares_each_keys_token_through_the_store() {
    use symbl_auth::CredentialKey;
    use tower::{Layer, ServiceExt};

    let redis = RedisServer::start();
    let tenant = |key: &str| Credentials::new(format!("app-{key}"), format!("secret-{key}"));
    let symbl = FakeSymbl::new().accept(tenant("a")).accept(tenant("b"));
    let server = std::sync::Arc::new(TestServer::serve(symbl).await.expect("server"));
    let layers: Vec<SymblAuthLayer> = (0..LAYERS)
        .map(|_| {
            let server = std::sync::Arc::clone(&server);
            SymblAuthLayer::keyed(move |key: &CredentialKey| {
                server.token_source(tenant(key.as_str()))
            })
            .allow_host("127.0.0.1")
            .shared_store(store(&redis.url()))
            .build()
            .expect("layer")
        })
        .collect();
    let calls = layers.iter().flat_map(|layer| {
        ["a", "b"].map(|key| {
            let service = layer.clone().layer(support::http1_client());
            let mut request = support::get(&server.url("/v1/conversations"));
            request.extensions_mut().insert(CredentialKey::new(key));
            async move { service.oneshot(request).await.map(|r| r.status()) }
        })
    });
    for status in futures_util::future::join_all(calls).await {
        assert_eq!(status.expect("call"), StatusCode::OK);
    }
    assert_eq!(
        server.symbl().token_requests(),
        2,
        "one per tenant, for {LAYERS} layers"
    );
}
