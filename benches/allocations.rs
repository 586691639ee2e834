//! Heap allocations per request on the cached-token path, symbl-auth against the lower bound.
//!
//! `cargo bench --bench allocations` prints the table; `cargo test` runs it too and fails if
//! symbl-auth allocates more than the lower bound for `GET`, or more than one extra for `POST`.
//! Only allocations made while a request is in the service are counted (ready, call, poll,
//! the inner service reading the body): building the request and dropping the response are
//! outside the window.

mod common;

use std::alloc::System;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{Empty, Full};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::{Layer, Service};
use tower_http::auth::AddAuthorizationLayer;

use common::{send_now, symbl_layer, token, Noop, UsualAuth, UsualCache};

// Counts every allocation in the process; only this thread runs while a window is open (the
// runtime is current-thread), so the counts are this thread's.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REQUESTS: u64 = 1000;

/// Allocations per request (a mean over [`REQUESTS`], after a warm-up).
fn per_request<S, B>(service: &mut S, request: impl Fn() -> Request<B>) -> f64
where
    S: Service<Request<B>, Response = http::Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..100 {
        assert_eq!(
            send_now(service, request()).status(),
            StatusCode::NO_CONTENT
        );
    }
    let mut allocations = 0;
    for _ in 0..REQUESTS {
        let request = request();
        let region = Region::new(ALLOCATOR);
        let response = one_request(service, request);
        let stats = region.change();
        drop(response);
        allocations += stats.allocations + stats.reallocations;
    }
    allocations as f64 / REQUESTS as f64
}

/// One request; never inlined, so `valgrind --tool=callgrind` can count its instructions for
/// each contender (see BENCHMARKS.md).
#[inline(never)]
fn one_request<S, B>(service: &mut S, request: Request<B>) -> S::Response
where
    S: Service<Request<B>>,
    S::Error: std::fmt::Debug,
{
    send_now(service, request)
}

fn get() -> Request<Empty<Bytes>> {
    Request::get("https://api.symbl.ai/v1/conversations")
        .body(Empty::new())
        .expect("request")
}

/// A 1 KiB body in a `Bytes` that owns its `Vec` alone (as `Bytes::from(vec)` makes when the
/// length is the capacity): the first clone of it allocates the shared header.
fn post() -> Request<Full<Bytes>> {
    Request::post("https://api.symbl.ai/v1/process/text")
        .body(Full::new(Bytes::from(vec![b'x'; 1024])))
        .expect("request")
}

/// A 1 KiB body in a `Bytes` that is already shared (a clone, a slice of a larger buffer, or
/// `Vec` with spare capacity as `serde_json::to_vec` leaves it): clones are reference counts.
fn post_shared() -> Request<Full<Bytes>> {
    let mut json = Vec::with_capacity(2048);
    json.resize(1024, b'x');
    Request::post("https://api.symbl.ai/v1/process/text")
        .body(Full::new(Bytes::from(json)))
        .expect("request")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let lower_bound = AddAuthorizationLayer::bearer(&token());
    let usual = UsualCache::new(common::FixedSource);
    let symbl = symbl_layer();
    // Warm the token caches (the first request fetches, on the runtime).
    runtime.block_on(async {
        use tower::ServiceExt;
        UsualAuth::new(Noop, usual.clone())
            .oneshot(get())
            .await
            .expect("ok");
        symbl.layer(Noop).oneshot(get()).await.expect("ok");
    });

    println!("allocations per request (mean of {REQUESTS}, after warm-up)");
    println!(
        "{:<14} {:>12} {:>12} {:>12}",
        "request", "lower_bound", "usual", "symbl_auth"
    );
    let mut rows = Vec::new();
    let mut row = |name, allowed_extra, low: f64, usual: f64, ours: f64| {
        println!("{name:<14} {low:>12.2} {usual:>12.2} {ours:>12.2}");
        rows.push((name, low, ours, allowed_extra));
    };
    row(
        "GET",
        0.0,
        per_request(&mut lower_bound.layer(Noop), get),
        per_request(&mut UsualAuth::new(Noop, usual.clone()), get),
        per_request(&mut symbl.layer(Noop), get),
    );
    row(
        "POST 1K shared",
        1.0,
        per_request(&mut lower_bound.layer(Noop), post_shared),
        per_request(&mut UsualAuth::new(Noop, usual.clone()), post_shared),
        per_request(&mut symbl.layer(Noop), post_shared),
    );
    // Keeping a reference to a uniquely owned `Bytes` costs its shared header: one more.
    row(
        "POST 1K unique",
        2.0,
        per_request(&mut lower_bound.layer(Noop), post),
        per_request(&mut UsualAuth::new(Noop, usual.clone()), post),
        per_request(&mut symbl.layer(Noop), post),
    );
    for (name, low, ours, allowed_extra) in rows {
        assert!(
            ours <= low + allowed_extra,
            "{name}: symbl-auth makes {ours} allocations per request, the lower bound {low} \
             (allowed: {allowed_extra} more)"
        );
    }
}
