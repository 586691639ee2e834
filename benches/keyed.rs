//! The keyed hot path (token fresh, 10,000 keys cached, each request naming the next key in
//! turn) against the single-credential one, in this one process: for each request shape, 7
//! alternating rounds of 200,000 requests per contender, the median of each. Only the sends
//! are timed (requests, their `CredentialKey` included, are built beforehand in batches).
//!
//! `cargo bench --bench keyed`. Figures and the 1.5× target: BENCHMARKS.md.
//!
//! With `KEYED_PROFILE=1` it sends one round of 2,000 requests per contender and shape, for
//! `valgrind --tool=callgrind`: each contender's round is its own function
//! (`keyed::round_single`, `keyed::round_single_key`, `keyed::round_keyed_all`,
//! `keyed::round_keyed_busy`), to count with
//! `--toggle-collect`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use symbl_auth::{CredentialKey, SymblAuthLayer};
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;

use common::{median, send_now, symbl_layer, token, FixedSource, Noop, SHAPES};

const BATCH: usize = 1_000;
const KEYS: usize = 10_000;

/// Nanoseconds per request for one round through `service`; request `i` of the round is made
/// by `request(i)`.
fn round<S>(service: &mut S, request: &dyn Fn(usize) -> Request<Full<Bytes>>, batches: usize) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let mut spent = Duration::ZERO;
    for batch in 0..batches {
        let requests: Vec<_> = (0..BATCH).map(|i| request(batch * BATCH + i)).collect();
        let start = tokio::time::Instant::now();
        for request in requests {
            let response = send_now(service, request);
            debug_assert_eq!(response.status(), StatusCode::OK);
            drop(std::hint::black_box(response));
        }
        spent += start.elapsed();
    }
    spent.as_nanos() as f64 / (BATCH * batches) as f64
}

/// The rounds of each contender, under names of their own for callgrind.
#[inline(never)]
fn round_single<S>(s: &mut S, r: &dyn Fn(usize) -> Request<Full<Bytes>>, b: usize) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    // Its own code: not folded with the other rounds of the same type.
    std::hint::black_box("round_single");
    round(s, r, b)
}

#[inline(never)]
fn round_single_key<S>(s: &mut S, r: &dyn Fn(usize) -> Request<Full<Bytes>>, b: usize) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    // Its own code: not folded with the other rounds of the same type.
    std::hint::black_box("round_single_key");
    round(s, r, b)
}

#[inline(never)]
fn round_keyed_all<S>(s: &mut S, r: &dyn Fn(usize) -> Request<Full<Bytes>>, b: usize) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    // Its own code: not folded with the other rounds of the same type.
    std::hint::black_box("round_keyed_all");
    round(s, r, b)
}

#[inline(never)]
fn round_keyed_busy<S>(s: &mut S, r: &dyn Fn(usize) -> Request<Full<Bytes>>, b: usize) -> f64
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    // Its own code: not folded with the other rounds of the same type.
    std::hint::black_box("round_keyed_busy");
    round(s, r, b)
}

fn main() {
    let profile = std::env::var_os("KEYED_PROFILE").is_some();
    let (rounds, batches) = if profile { (1, 2) } else { (7, 200) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let keys: Vec<CredentialKey> = (0..KEYS)
        .map(|n| CredentialKey::new(format!("tenant-{n}")))
        .collect();
    println!(
        "ns per request (median of {rounds} alternating rounds of {}), keyed over {KEYS} keys",
        BATCH * batches
    );
    println!(
        "{:<14} {:>11} {:>10} {:>10} {:>10} {:>10}   {:>10} {:>11} {:>9}",
        "request",
        "lower_bound",
        "single",
        "single_key",
        "keyed_all",
        "keyed_busy",
        "all/single",
        "busy/single",
        "busy/s_key"
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
        let mut times: [Vec<f64>; 5] = Default::default();
        for _ in 0..rounds {
            times[0].push(round(&mut lower_bound, &plain, batches));
            times[1].push(round_single(&mut single, &plain, batches));
            // The single-credential layer sent the requests of `keyed_busy` (it ignores their
            // key): what a key in the request's extensions costs by itself (the request's
            // extensions are dropped, and copied for a retry after a 401), apart from the map.
            times[2].push(round_single_key(&mut single, &busy, batches));
            times[3].push(round_keyed_all(&mut keyed, &named, batches));
            times[4].push(round_keyed_busy(&mut keyed, &busy, batches));
        }
        // Still all fresh, none refetched: the hot path was measured.
        assert_eq!(layer.stats().token_requests, KEYS as u64);
        let [low, single, single_key, keyed, busy] = times.map(|mut rounds| median(&mut rounds));
        println!(
            "{name:<14} {low:>11.1} {single:>10.1} {single_key:>10.1} {keyed:>10.1} {busy:>10.1}   {:>10.3} {:>11.3} {:>9.3}",
            keyed / single,
            busy / single,
            busy / single_key
        );
    }
}
