//! End to end: a hyper-util client through the layer to a hyper server on loopback.
//!
//! `cargo bench --features test-server --bench end_to_end`. The contenders take turns, round
//! after round, in this one process, so background load hits them alike; the table gives the
//! median requests per second over the rounds, the median of the per-round ratios, and p50/p99
//! latency over all requests.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;

use common::{median, symbl_layer, token};

const ROUNDS: usize = 15;
const TASKS: usize = 16;
const PER_TASK: usize = 1_250;

/// Answers `200 ok` to a request with a bearer token, `401` otherwise.
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes().starts_with(b"Bearer "));
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    if !authorized {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    Ok(response)
}

/// Serves [`answer`] on `listener` for `connections` connections, then stops.
async fn serve(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One round: `TASKS` tasks each sending `PER_TASK` requests in turn. Returns requests per
/// second and pushes each request's latency (µs) onto `latencies`.
async fn round<S, B>(service: &S, url: &str, latencies: &mut Vec<f64>) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::fmt::Debug,
{
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let mut service = service.clone();
            let url = url.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PER_TASK);
                for _ in 0..PER_TASK {
                    let request = Request::get(&url).body(Full::default()).expect("request");
                    let sent = Instant::now();
                    let response = service.ready().await.expect("ready").call(request).await;
                    let response = response.expect("response");
                    assert_eq!(response.status(), StatusCode::OK);
                    response.into_body().collect().await.expect("body");
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                }
                latencies
            })
        })
        .collect();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    (TASKS * PER_TASK) as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let url = format!(
            "http://{}/v1/conversations",
            listener.local_addr().expect("addr")
        );
        // Each contender's client keeps at most `TASKS` connections.
        let server = tokio::spawn(serve(listener, 4 * TASKS));

        let lower_bound = AddAuthorizationLayer::bearer(&token()).layer(
            Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(HttpConnector::new()),
        );
        let symbl =
            symbl_layer().layer(Client::builder(TokioExecutor::new()).build(HttpConnector::new()));
        // Warm up: connections, the token cache, the allocator.
        let mut scratch = Vec::new();
        round(&lower_bound, &url, &mut scratch).await;
        round(&symbl, &url, &mut scratch).await;

        let (mut low_rps, mut ours_rps, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut low_lat, mut ours_lat) = (Vec::new(), Vec::new());
        for i in 0..ROUNDS {
            // Alternate who goes first, so neither always runs on a warmer machine.
            let (low, ours) = if i % 2 == 0 {
                let low = round(&lower_bound, &url, &mut low_lat).await;
                (low, round(&symbl, &url, &mut ours_lat).await)
            } else {
                let ours = round(&symbl, &url, &mut ours_lat).await;
                (round(&lower_bound, &url, &mut low_lat).await, ours)
            };
            println!("round {i}: lower_bound {low:>8.0} req/s, symbl_auth {ours:>8.0} req/s");
            low_rps.push(low);
            ours_rps.push(ours);
            ratios.push(ours / low);
        }
        low_lat.sort_by(f64::total_cmp);
        ours_lat.sort_by(f64::total_cmp);
        println!(
            "\nend_to_end ({ROUNDS} rounds of {} requests, {TASKS} tasks, HTTP/1.1 on loopback)",
            TASKS * PER_TASK
        );
        println!(
            "{:<12} {:>10} {:>10} {:>10}",
            "contender", "req/s", "p50 µs", "p99 µs"
        );
        for (name, rps, lat) in [
            ("lower_bound", &mut low_rps, &low_lat),
            ("symbl_auth", &mut ours_rps, &ours_lat),
        ] {
            println!(
                "{name:<12} {:>10.0} {:>10.1} {:>10.1}",
                median(rps),
                percentile(lat, 0.50),
                percentile(lat, 0.99)
            );
        }
        println!(
            "symbl_auth / lower_bound, median of per-round ratios: {:.3}",
            median(&mut ratios)
        );
        server.abort();
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
