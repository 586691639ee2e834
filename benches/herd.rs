//! Bursts on the token endpoint: a cold herd, and a storm of 401s for one revoked token.
//!
//! `cargo bench --features test-server --bench herd`. The API and the token endpoint are the
//! fake Symbl served over HTTP/2 on loopback (one connection carries every request); the token
//! endpoint answers 5 ms late. Each run uses a fresh layer, so every run starts cold; the token
//! requests of each run are counted on the server and must be exactly one.

#![allow(missing_docs, reason = "criterion_group! defines an undocumented fn")]

mod common;

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::TestServer;
use symbl_auth::{ReplayBody, SymblAuthLayer, SymblTokenSource};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

use common::{median, Delayed, UsualAuth, UsualCache};

const HERD: usize = 10_000;
const STORM: usize = 1_000;
const TOKEN_LATENCY: Duration = Duration::from_millis(5);

type Body = Full<Bytes>;

struct Bench {
    server: TestServer,
    source: Delayed<SymblTokenSource>,
}

impl Bench {
    async fn start() -> Self {
        let server = TestServer::start().await.expect("server");
        let source = Delayed {
            inner: SymblTokenSource::new(server.token_url(), server.symbl().accepted_credentials()),
            latency: TOKEN_LATENCY,
        };
        Self { server, source }
    }

    fn layer(&self) -> SymblAuthLayer {
        SymblAuthLayer::from_source(self.source.clone())
            .allow_host("127.0.0.1")
            .build()
            .expect("layer")
    }

    fn url(&self) -> String {
        self.server.url("/v1/conversations")
    }

    fn token_requests(&self) -> usize {
        self.server.symbl().token_requests()
    }
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Full::default()).expect("request")
}

/// Sends `n` requests at once through clones of `service`; all must succeed.
async fn burst<S>(service: &S, url: &str, n: usize)
where
    S: Service<Request<Body>, Response = http::Response<hyper::body::Incoming>>
        + Clone
        + Send
        + 'static,
    S::Error: std::fmt::Debug + Send,
    S::Future: Send,
{
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let service = service.clone();
        let request = get(url);
        tasks.spawn(async move {
            let response = service.oneshot(request).await.expect("response");
            let status = response.status();
            // Read the answer to its end, as a client does; dropping it unread resets the
            // stream, and the server ends a connection with too many resets.
            response.into_body().collect().await.expect("body");
            status
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
}

/// Runs `run` as criterion asks, recording the token requests each run made.
fn bench_runs<F, Fut>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    runtime: &tokio::runtime::Runtime,
    counts: &Mutex<Vec<usize>>,
    run: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (Duration, usize)>,
{
    c.bench_function(name, |b| {
        b.to_async(runtime).iter_custom(|iters| {
            let runs: Vec<_> = (0..iters).map(|_| run()).collect();
            async move {
                let mut total = Duration::ZERO;
                for run in runs {
                    let (elapsed, fetches) = run.await;
                    counts.lock().expect("counts").push(fetches);
                    total += elapsed;
                }
                total
            }
        })
    });
}

fn report(name: &str, counts: &Mutex<Vec<usize>>) {
    let counts = counts.lock().expect("counts");
    let (min, max) = (counts.iter().min(), counts.iter().max());
    println!(
        "{name}: token requests per run over {} runs: min {min:?}, max {max:?}",
        counts.len()
    );
    assert!(
        counts.iter().all(|&n| n == 1),
        "{name}: a run made other than one token request"
    );
}

fn herds(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bench = runtime.block_on(Bench::start());
    let client: Client<HttpConnector, ReplayBody<Body>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new());
    let usual_client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new());
    let url = bench.url();

    let mut group = c.benchmark_group("cold_herd_10000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let symbl_counts = Mutex::new(Vec::new());
    bench_runs(&mut group, "symbl_auth", &runtime, &symbl_counts, || {
        let service = bench.layer().layer(client.clone());
        let (bench, url) = (&bench, &url);
        async move {
            let before = bench.token_requests();
            let start = Instant::now();
            burst(&service, url, HERD).await;
            (start.elapsed(), bench.token_requests() - before)
        }
    });
    let usual_counts = Mutex::new(Vec::new());
    bench_runs(&mut group, "usual_design", &runtime, &usual_counts, || {
        let service = UsualAuth::new(usual_client.clone(), UsualCache::new(bench.source.clone()));
        let (bench, url) = (&bench, &url);
        async move {
            let before = bench.token_requests();
            let start = Instant::now();
            burst(&service, url, HERD).await;
            (start.elapsed(), bench.token_requests() - before)
        }
    });
    group.finish();
    report("cold_herd_10000/symbl_auth", &symbl_counts);
    report("cold_herd_10000/usual_design", &usual_counts);

    // The usual design has no 401 handling: a revoked token fails every request, so only
    // symbl-auth runs here.
    let mut group = c.benchmark_group("storm_401_1000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let storm_counts = Mutex::new(Vec::new());
    let storm_times = Mutex::new(Vec::new());
    bench_runs(&mut group, "symbl_auth", &runtime, &storm_counts, || {
        let service = bench.layer().layer(client.clone());
        let (bench, url, times) = (&bench, &url, &storm_times);
        async move {
            burst(&service, url, 1).await;
            bench.server.symbl().revoke_tokens();
            let before = bench.token_requests();
            let start = Instant::now();
            burst(&service, url, STORM).await;
            let elapsed = start.elapsed();
            times
                .lock()
                .expect("times")
                .push(elapsed.as_secs_f64() * 1e3);
            (elapsed, bench.token_requests() - before)
        }
    });
    group.finish();
    report("storm_401_1000/symbl_auth (refreshes)", &storm_counts);
    println!(
        "storm_401_1000/symbl_auth: median {:.2} ms until all 1,000 are served",
        median(&mut storm_times.lock().expect("times"))
    );
}

criterion_group!(benches, herds);
criterion_main!(benches);
