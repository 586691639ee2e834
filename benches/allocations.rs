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
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use symbl_auth::SymblAuth;
use tower::{Layer, Service};
use tower_http::auth::{AddAuthorization, AddAuthorizationLayer};

use common::{send_now, symbl_layer, token, Noop, UsualAuth, UsualCache};

// Counts every allocation in the process; only this thread runs while a window is open (the
// runtime is current-thread), so the counts are this thread's.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REQUESTS: u64 = 1000;

/// Allocations per request (a mean over [`REQUESTS`], after a warm-up).
fn per_request<S, B>(
    service: &mut S,
    request: fn() -> Request<B>,
    one: fn(&mut S, Request<B>) -> Response<Empty<Bytes>>,
) -> f64
where
    S: Service<Request<B>, Response = Response<Empty<Bytes>>>,
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
        let response = one(service, request);
        let stats = region.change();
        drop(response);
        allocations += stats.allocations + stats.reallocations;
    }
    allocations as f64 / REQUESTS as f64
}

/// One function per contender and request, never inlined, so that
/// `valgrind --tool=callgrind` counts each one's instructions under its own name
/// (see BENCHMARKS.md).
macro_rules! measured {
    ($($name:ident: $service:ty, $body:ty;)*) => {$(
        #[inline(never)]
        fn $name(service: &mut $service, request: Request<$body>) -> Response<Empty<Bytes>> {
            // A constant of its own, so the linker does not fold identical functions into one.
            std::hint::black_box(stringify!($name));
            send_now(service, request)
        }
    )*};
}

measured! {
    lower_bound_get: AddAuthorization<Noop>, Empty<Bytes>;
    usual_get: UsualAuth<Noop>, Empty<Bytes>;
    symbl_auth_get: SymblAuth<Noop>, Empty<Bytes>;
    lower_bound_get_headers: AddAuthorization<Noop>, Empty<Bytes>;
    usual_get_headers: UsualAuth<Noop>, Empty<Bytes>;
    symbl_auth_get_headers: SymblAuth<Noop>, Empty<Bytes>;
    lower_bound_post_shared: AddAuthorization<Noop>, Full<Bytes>;
    usual_post_shared: UsualAuth<Noop>, Full<Bytes>;
    symbl_auth_post_shared: SymblAuth<Noop>, Full<Bytes>;
    lower_bound_post_unique: AddAuthorization<Noop>, Full<Bytes>;
    usual_post_unique: UsualAuth<Noop>, Full<Bytes>;
    symbl_auth_post_unique: SymblAuth<Noop>, Full<Bytes>;
}

fn get() -> Request<Empty<Bytes>> {
    Request::get("https://api.symbl.ai/v1/conversations")
        .body(Empty::new())
        .expect("request")
}

/// A `GET` with the headers a client usually sets.
fn get_headers() -> Request<Empty<Bytes>> {
    Request::get("https://api.symbl.ai/v1/conversations")
        .header("accept", "application/json")
        .header("user-agent", "symbl-auth-bench/0.1")
        .header("x-request-id", "4f1c2b7e")
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
    let usual_cache = UsualCache::new(common::FixedSource);
    let symbl = symbl_layer();
    // Warm the token caches (the first request fetches, on the runtime).
    runtime.block_on(async {
        use tower::ServiceExt;
        UsualAuth::new(Noop, usual_cache.clone())
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
    let mut row = |name, allowed_extra: Option<f64>, low: f64, usual: f64, ours: f64| {
        println!("{name:<14} {low:>12.2} {usual:>12.2} {ours:>12.2}");
        rows.push((name, low, ours, allowed_extra));
    };
    let low = &mut lower_bound.layer(Noop);
    let usual = &mut UsualAuth::new(Noop, usual_cache.clone());
    let ours = &mut symbl.layer(Noop);
    row(
        "GET",
        Some(0.0),
        per_request(low, get, lower_bound_get),
        per_request(usual, get, usual_get),
        per_request(ours, get, symbl_auth_get),
    );
    // Reported, not a target: the copy of the headers kept for the retry after a 401.
    row(
        "GET 3 headers",
        None,
        per_request(low, get_headers, lower_bound_get_headers),
        per_request(usual, get_headers, usual_get_headers),
        per_request(ours, get_headers, symbl_auth_get_headers),
    );
    row(
        "POST 1K shared",
        Some(1.0),
        per_request(
            &mut lower_bound.layer(Noop),
            post_shared,
            lower_bound_post_shared,
        ),
        per_request(
            &mut UsualAuth::new(Noop, usual_cache.clone()),
            post_shared,
            usual_post_shared,
        ),
        per_request(&mut symbl.layer(Noop), post_shared, symbl_auth_post_shared),
    );
    // Keeping a reference to a uniquely owned `Bytes` costs its shared header: one more.
    row(
        "POST 1K unique",
        Some(2.0),
        per_request(&mut lower_bound.layer(Noop), post, lower_bound_post_unique),
        per_request(
            &mut UsualAuth::new(Noop, usual_cache.clone()),
            post,
            usual_post_unique,
        ),
        per_request(&mut symbl.layer(Noop), post, symbl_auth_post_unique),
    );
    for (name, low, ours, allowed_extra) in rows {
        let Some(allowed_extra) = allowed_extra else {
            continue;
        };
        assert!(
            ours <= low + allowed_extra,
            "{name}: symbl-auth makes {ours} allocations per request, the lower bound {low} \
             (allowed: {allowed_extra} more)"
        );
    }
}
