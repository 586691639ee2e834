//! The cached-token path: per request over a no-op inner service, and under contention.
//!
//! `cargo bench --bench hot_path`. Each group runs every contender in this one process (see
//! `common/mod.rs`): tower-http's `AddAuthorization::bearer` as the lower bound, the peer a
//! tower user would write by hand, the usual `RwLock` design, and symbl-auth. `cargo bench
//! --bench ratios` gives the same comparison as ratios over alternating rounds.

#![allow(missing_docs, reason = "criterion_group! defines an undocumented fn")]

mod common;

use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;

use common::{empty_post, peer, send_now, symbl_layer, token, Noop, UsualAuth, UsualCache, SHAPES};

/// Benches one request shape through every contender, checking first that each authenticates.
fn per_request(c: &mut Criterion, name: &str, request: fn() -> Request<Full<Bytes>>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();

    let mut bare = Noop;
    let mut lower_bound = AddAuthorizationLayer::bearer(&token()).layer(Noop);
    let mut peer = peer(Noop);
    let mut usual = UsualAuth::new(Noop, UsualCache::new(common::FixedSource));
    let mut symbl = symbl_layer().layer(Noop);
    // Warm the caches, and check that each layered contender really adds the token.
    let authorized = |status: StatusCode| assert_eq!(status, StatusCode::OK);
    authorized(send_now(&mut lower_bound, request()).status());
    runtime.block_on(async {
        authorized(peer.clone().oneshot(request()).await.expect("ok").status());
        authorized(usual.clone().oneshot(request()).await.expect("ok").status());
        authorized(symbl.clone().oneshot(request()).await.expect("ok").status());
    });

    let mut group = c.benchmark_group(format!("hot_path/{name}"));
    group.throughput(Throughput::Elements(1));
    macro_rules! contender {
        ($label:literal, $service:ident) => {
            group.bench_function($label, |b| {
                b.iter_batched(
                    request,
                    |r| send_now(&mut $service, r),
                    BatchSize::SmallInput,
                )
            });
        };
    }
    contender!("bare", bare);
    contender!("lower_bound", lower_bound);
    contender!("peer", peer);
    contender!("usual_design", usual);
    contender!("symbl_auth", symbl);
    group.finish();
}

fn hot_path(c: &mut Criterion) {
    for (name, request) in SHAPES {
        per_request(c, name, request);
    }
}

/// Tasks each sending through their own clone of one shared service, on a multi-thread runtime.
const TASKS: u64 = 64;

async fn contend<S>(service: S, requests: u64) -> Duration
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>> + Clone + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    let per_task = requests.div_ceil(TASKS);
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut service = service.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let response = service
                        .ready()
                        .await
                        .expect("ready")
                        .call(empty_post())
                        .await;
                    assert_eq!(response.expect("ok").status(), StatusCode::OK);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    // Scale to the `requests` criterion asked for.
    start
        .elapsed()
        .mul_f64(requests as f64 / (per_task * TASKS) as f64)
}

fn contention(c: &mut Criterion) {
    for workers in [1, 2] {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .expect("runtime");
        let lower_bound = AddAuthorizationLayer::bearer(&token()).layer(Noop);
        let peer = peer(Noop);
        let usual = UsualAuth::new(Noop, UsualCache::new(common::FixedSource));
        let symbl = symbl_layer().layer(Noop);
        runtime.block_on(async {
            for service in [
                peer.clone().boxed_clone(),
                usual.clone().boxed_clone(),
                symbl.clone().boxed_clone(),
            ] {
                let status = service.oneshot(empty_post()).await.expect("ok").status();
                assert_eq!(status, StatusCode::OK);
            }
        });

        let mut group = c.benchmark_group(format!("contention/{workers}_workers"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("lower_bound", |b| {
            b.to_async(&runtime)
                .iter_custom(|n| contend(lower_bound.clone(), n))
        });
        group.bench_function("peer", |b| {
            b.to_async(&runtime)
                .iter_custom(|n| contend(peer.clone(), n))
        });
        group.bench_function("usual_design", |b| {
            b.to_async(&runtime)
                .iter_custom(|n| contend(usual.clone(), n))
        });
        group.bench_function("symbl_auth", |b| {
            b.to_async(&runtime)
                .iter_custom(|n| contend(symbl.clone(), n))
        });
        group.finish();
    }
}

criterion_group!(benches, hot_path, contention);
criterion_main!(benches);
