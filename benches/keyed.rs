//! The keyed hot path (token fresh, 10,000 keys cached, each request naming the next key in
//! turn) against the single-credential one, in this one process: for each request shape, 7
//! alternating rounds of 200,000 requests per contender, the median of each. Only the sends
//! are timed (requests, their `CredentialKey` included, are built beforehand in batches).
//!
//! `cargo bench --bench keyed`. Figures and the 1.5× target: BENCHMARKS.md.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use symbl_auth::{CredentialKey, SymblAuthLayer};
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;

use common::{median, send_now, symbl_layer, token, FixedSource, Noop, SHAPES};

const ROUNDS: usize = 7;
const BATCH: usize = 1_000;
const BATCHES: usize = 200;
const KEYS: usize = 10_000;

/// Nanoseconds per request for one round through `service`; request `i` of the round is made
/// by `request(i)`.
fn round<S>(service: &mut S, request: &dyn Fn(usize) -> Request<Full<Bytes>>) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let mut spent = Duration::ZERO;
    for batch in 0..BATCHES {
        let requests: Vec<_> = (0..BATCH).map(|i| request(batch * BATCH + i)).collect();
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
    let keys: Vec<CredentialKey> = (0..KEYS)
        .map(|n| CredentialKey::new(format!("tenant-{n}")))
        .collect();
    println!(
        "ns per request (median of {ROUNDS} alternating rounds of {}), keyed over {KEYS} keys",
        BATCH * BATCHES
    );
    println!(
        "{:<14} {:>11} {:>10} {:>10} {:>10}   {:>12} {:>12}",
        "request", "lower_bound", "single", "keyed_all", "keyed_busy", "all/single", "busy/single"
    );
    for (name, shape) in SHAPES {
        let mut lower_bound = AddAuthorizationLayer::bearer(&token()).layer(Noop);
        let mut single = symbl_layer().layer(Noop);
        let layer = SymblAuthLayer::keyed(|_: &CredentialKey| FixedSource)
            .allow_host("api.symbl.ai")
            .max_keys(KEYS)
            .build()
            .expect("layer");
        let mut keyed = layer.layer(Noop);
        // Each request the next of all 10,000 keys: every lookup meets cold memory.
        let named = |i: usize| {
            let mut request = shape();
            request.extensions_mut().insert(keys[i % KEYS].clone());
            request
        };
        // The next of 64 keys spread over the 10,000: a working set that stays in the CPU's
        // caches, as when a few tenants are busy at a time.
        let busy = |i: usize| {
            let mut request = shape();
            request
                .extensions_mut()
                .insert(keys[(i % 64) * (KEYS / 64)].clone());
            request
        };
        runtime.block_on(async {
            single.clone().oneshot(shape()).await.expect("ok");
            for i in 0..KEYS {
                keyed.clone().oneshot(named(i)).await.expect("ok");
            }
        });
        assert_eq!(layer.cached_keys(), KEYS);
        assert_eq!(layer.stats().token_requests, KEYS as u64);
        let plain = |_: usize| shape();
        let mut times: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            times[0].push(round(&mut lower_bound, &plain));
            times[1].push(round(&mut single, &plain));
            times[2].push(round(&mut keyed, &named));
            times[3].push(round(&mut keyed, &busy));
        }
        // Still all fresh, none refetched: the hot path was measured.
        assert_eq!(layer.stats().token_requests, KEYS as u64);
        let [low, single, keyed, busy] = times.map(|mut rounds| median(&mut rounds));
        println!(
            "{name:<14} {low:>11.1} {single:>10.1} {keyed:>10.1} {busy:>10.1}   {:>12.3} {:>12.3}",
            keyed / single,
            busy / single
        );
    }
}
