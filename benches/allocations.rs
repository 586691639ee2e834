//! Heap allocations per request on the cached-token path, for each request shape and contender.
//!
//! `cargo bench --bench allocations` prints the table; `cargo test` runs it too and fails if
//! symbl-auth allocates more than one beyond the lower bound (two for a body in a uniquely
//! owned `Bytes`, whose first clone allocates inside `bytes`). Only allocations made while a
//! request is in the service are counted (ready, call, poll, the inner service reading the
//! body): building the request and dropping the response are outside the window.
//!
//! Each contender and shape is also a function of its own, never inlined, so that
//! `valgrind --tool=callgrind` counts its instructions under its own name (BENCHMARKS.md).

mod common;

use std::alloc::System;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use symbl_auth::SymblAuth;
use tower::{Layer, Service, ServiceExt};
use tower_http::auth::{AddAuthorization, AddAuthorizationLayer};

use common::{
    empty_post, get_3_headers, peer, post_1k, post_1k_unique, send_now, symbl_layer, token, Noop,
    Peer, UsualAuth, UsualCache,
};

// Counts every allocation in the process; only this thread runs while a window is open (the
// runtime is current-thread), so the counts are this thread's.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REQUESTS: u64 = 1000;

type Body = Full<Bytes>;
type Answer = Response<Empty<Bytes>>;

/// Allocations per request (a mean over [`REQUESTS`], after a warm-up).
fn per_request<S>(
    service: &mut S,
    request: fn() -> Request<Body>,
    one: fn(&mut S, Request<Body>) -> Answer,
) -> f64
where
    S: Service<Request<Body>, Response = Answer>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..100 {
        assert_eq!(send_now(service, request()).status(), StatusCode::OK);
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

macro_rules! measured {
    ($($name:ident: $service:ty;)*) => {$(
        #[inline(never)]
        fn $name(service: &mut $service, request: Request<Body>) -> Answer {
            // A constant of its own, so the linker does not fold identical functions into one.
            std::hint::black_box(stringify!($name));
            send_now(service, request)
        }
    )*};
}

measured! {
    lower_bound_empty_post: AddAuthorization<Noop>;
    peer_empty_post: Peer<Noop>;
    usual_empty_post: UsualAuth<Noop>;
    symbl_auth_empty_post: SymblAuth<Noop>;
    lower_bound_post_1k: AddAuthorization<Noop>;
    peer_post_1k: Peer<Noop>;
    usual_post_1k: UsualAuth<Noop>;
    symbl_auth_post_1k: SymblAuth<Noop>;
    lower_bound_post_1k_unique: AddAuthorization<Noop>;
    peer_post_1k_unique: Peer<Noop>;
    usual_post_1k_unique: UsualAuth<Noop>;
    symbl_auth_post_1k_unique: SymblAuth<Noop>;
    lower_bound_get_3_headers: AddAuthorization<Noop>;
    peer_get_3_headers: Peer<Noop>;
    usual_get_3_headers: UsualAuth<Noop>;
    symbl_auth_get_3_headers: SymblAuth<Noop>;
}

/// One row: each contender's allocations per request for one shape.
struct Row {
    shape: &'static str,
    lower_bound: f64,
    peer: f64,
    usual: f64,
    symbl_auth: f64,
    /// How many more than the lower bound symbl-auth may make.
    allowed_extra: f64,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let lower_bound = AddAuthorizationLayer::bearer(&token());
    let peer_service = peer(Noop);
    let usual_cache = UsualCache::new(common::FixedSource);
    let symbl = symbl_layer();
    // Warm the token caches (the first request fetches, on the runtime).
    runtime.block_on(async {
        peer_service
            .clone()
            .oneshot(empty_post())
            .await
            .expect("ok");
        UsualAuth::new(Noop, usual_cache.clone())
            .oneshot(empty_post())
            .await
            .expect("ok");
        symbl.layer(Noop).oneshot(empty_post()).await.expect("ok");
    });
    let low = &mut lower_bound.layer(Noop);
    let peer = &mut peer_service.clone();
    let usual = &mut UsualAuth::new(Noop, usual_cache);
    let ours = &mut symbl.layer(Noop);

    macro_rules! row {
        ($shape:ident, $allowed:expr, $lower:ident, $peer:ident, $usual:ident, $ours:ident) => {
            Row {
                shape: stringify!($shape),
                lower_bound: per_request(low, $shape, $lower),
                peer: per_request(peer, $shape, $peer),
                usual: per_request(usual, $shape, $usual),
                symbl_auth: per_request(ours, $shape, $ours),
                allowed_extra: $allowed,
            }
        };
    }
    let rows = [
        row!(
            empty_post,
            1.0,
            lower_bound_empty_post,
            peer_empty_post,
            usual_empty_post,
            symbl_auth_empty_post
        ),
        row!(
            post_1k,
            1.0,
            lower_bound_post_1k,
            peer_post_1k,
            usual_post_1k,
            symbl_auth_post_1k
        ),
        // Keeping a second owner of a uniquely owned `Bytes` allocates its shared form.
        row!(
            post_1k_unique,
            2.0,
            lower_bound_post_1k_unique,
            peer_post_1k_unique,
            usual_post_1k_unique,
            symbl_auth_post_1k_unique
        ),
        row!(
            get_3_headers,
            1.0,
            lower_bound_get_3_headers,
            peer_get_3_headers,
            usual_get_3_headers,
            symbl_auth_get_3_headers
        ),
    ];

    println!("allocations per request (mean of {REQUESTS}, after warm-up)");
    println!(
        "{:<16} {:>12} {:>8} {:>8} {:>11}",
        "request", "lower_bound", "peer", "usual", "symbl_auth"
    );
    for row in &rows {
        println!(
            "{:<16} {:>12.2} {:>8.2} {:>8.2} {:>11.2}",
            row.shape, row.lower_bound, row.peer, row.usual, row.symbl_auth
        );
    }
    for row in &rows {
        assert!(
            row.symbl_auth <= row.lower_bound + row.allowed_extra,
            "{}: symbl-auth makes {} allocations per request, the lower bound {} (allowed: {} more)",
            row.shape,
            row.symbl_auth,
            row.lower_bound,
            row.allowed_extra
        );
    }
}
