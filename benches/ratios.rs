//! Time per request on the cached-token path, as ratios between contenders run in this one
//! process: for each request shape, 7 alternating rounds of 200,000 requests per contender,
//! taking the median of each contender's rounds. Only the sends are timed (the requests are
//! built beforehand, in batches of 1,000).
//!
//! `cargo bench --bench ratios`. Figures and targets: BENCHMARKS.md.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;

use common::{median, peer, send_now, symbl_layer, token, Noop, UsualAuth, UsualCache, SHAPES};

const ROUNDS: usize = 7;
const BATCH: usize = 1_000;
const BATCHES: usize = 200;

/// Nanoseconds per request for one round through `service`.
fn round<S>(service: &mut S, request: fn() -> Request<Full<Bytes>>) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let mut spent = Duration::ZERO;
    for _ in 0..BATCHES {
        let requests: Vec<_> = (0..BATCH).map(|_| request()).collect();
        let start = tokio::time::Instant::now();
        for request in requests {
            let response = send_now(service, request);
            debug_assert_eq!(response.status(), StatusCode::OK);
            drop(std::hint::black_box(response));
        }
        spent += start.elapsed();
    }
    spent.as_nanos() as f64 / (BATCH * BATCHES) as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    println!(
        "ns per request (median of {ROUNDS} alternating rounds of {})",
        BATCH * BATCHES
    );
    println!(
        "{:<14} {:>11} {:>8} {:>8} {:>10}   {:>13} {:>15} {:>14}",
        "request",
        "lower_bound",
        "peer",
        "usual",
        "symbl_auth",
        "symbl/peer",
        "symbl/lower",
        "symbl/usual"
    );
    for (name, request) in SHAPES {
        let mut lower_bound = AddAuthorizationLayer::bearer(&token()).layer(Noop);
        let mut peer = peer(Noop);
        let mut usual = UsualAuth::new(Noop, UsualCache::new(common::FixedSource));
        let mut symbl = symbl_layer().layer(Noop);
        runtime.block_on(async {
            peer.clone().oneshot(request()).await.expect("ok");
            usual.clone().oneshot(request()).await.expect("ok");
            symbl.clone().oneshot(request()).await.expect("ok");
        });
        let mut times: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            times[0].push(round(&mut lower_bound, request));
            times[1].push(round(&mut peer, request));
            times[2].push(round(&mut usual, request));
            times[3].push(round(&mut symbl, request));
        }
        let [low, peer, usual, ours] = times.map(|mut rounds| median(&mut rounds));
        println!(
            "{name:<14} {low:>11.1} {peer:>8.1} {usual:>8.1} {ours:>10.1}   {:>13.3} {:>15.3} {:>14.3}",
            ours / peer,
            ours / low,
            ours / usual
        );
    }
}
