//! Sustained load with faults: 50,000 calls on a 2-worker runtime, with random 401s, token
//! revocations and token endpoint faults, in memory. Checks the invariants, not timings:
//! no panic, no hang, every call ends as a 200, a 401 (after exactly one retry with a newer
//! token, or none when no newer token can be had), or a `symbl_auth::Error`; a retry never
//! carries the token just rejected; token requests stay under a bound computed from the
//! elapsed time; and dropping the layer and its services leaves no task (and no copy of the
//! token source) behind.
//!
//! The injections come from a fixed seed (`STRESS_SEED` to try another; it is printed).
#![cfg(feature = "test-server")]

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use symbl_auth::test_server::{ApiService, FakeSymbl, TokenFault};
use symbl_auth::{ReplayBody, SymblAuthLayer};
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};
use tower::{Layer, Service, ServiceExt};

use support::*;

const CALLS: usize = 50_000;
const DRIVERS: usize = 16;
const COOLDOWN: Duration = Duration::from_millis(100);
const BUDGET: Duration = Duration::from_millis(300);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(100);
/// Attempts one fetch can make in its budget: backoff waits at least 50, 100, 200 ms.
const ATTEMPTS_PER_FETCH: usize = 4;

fn seed() -> u64 {
    let seed = std::env::var("STRESS_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x5eed_2026);
    println!("STRESS_SEED={seed}");
    seed
}

/// The fake's API, counting how many times each call (header `x-call`) was sent, and checking
/// that a second send carries another token than the first.
#[derive(Clone)]
struct Counting {
    api: ApiService,
    sends: Arc<Vec<AtomicU8>>,
    first_tokens: Arc<Vec<Mutex<Option<HeaderValue>>>>,
}

impl Service<Request<ReplayBody<Full<Bytes>>>> for Counting {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request<ReplayBody<Full<Bytes>>>>::poll_ready(&mut self.api, cx)
    }

    fn call(&mut self, request: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        let call: usize = request.headers()["x-call"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        let token = request.headers().get(header::AUTHORIZATION).cloned();
        let mut first = self.first_tokens[call].lock().expect("lock");
        match self.sends[call].fetch_add(1, Ordering::SeqCst) {
            0 => *first = token,
            _ => assert_ne!(
                *first, token,
                "call {call}: the retry resent the rejected token"
            ),
        }
        drop(first);
        self.api.call(request)
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    unauthorized: usize,
    errors: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_calls_with_faults_keep_every_invariant() {
    let seed = seed();
    let fake = FakeSymbl::new();
    let source = ScriptedSource::new(fake.clone());
    let layer = SymblAuthLayer::from_source(source.clone())
        .allow_host("api.symbl.ai")
        .token_request_timeout(ATTEMPT_TIMEOUT)
        .token_retry_budget(BUDGET)
        .failure_cooldown(COOLDOWN)
        .build()
        .expect("layer");
    let sends: Arc<Vec<AtomicU8>> = Arc::new((0..CALLS).map(|_| AtomicU8::new(0)).collect());
    let service = layer.layer(Counting {
        api: fake.api_service(),
        sends: Arc::clone(&sends),
        first_tokens: Arc::new((0..CALLS).map(|_| Mutex::new(None)).collect()),
    });

    let started = Instant::now();
    let mut drivers = JoinSet::new();
    for driver in 0..DRIVERS {
        let (service, fake, sends) = (service.clone(), fake.clone(), Arc::clone(&sends));
        let mut rng =
            SeededRng::new(seed ^ (driver as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        drivers.spawn(async move {
            let mut tally = Tally::default();
            for call in (driver..CALLS).step_by(DRIVERS) {
                // Per call: 1 in 500 gets a random 401, 1 in 5,000 revokes every token, 1 in
                // 5,000 queues token endpoint faults.
                match rng.below(10_000) {
                    0..=19 => fake.reject_api_requests(1 + rng.below(2) as usize),
                    20 => fake.revoke_tokens(),
                    21 => {
                        let fault = match rng.below(4) {
                            0 => TokenFault::Status(StatusCode::SERVICE_UNAVAILABLE),
                            1 => TokenFault::Status(StatusCode::UNAUTHORIZED),
                            2 => TokenFault::Hang,
                            _ => TokenFault::Body(Bytes::from_static(b"{}")),
                        };
                        fake.fail_token_requests(fault, 1 + rng.below(3) as usize);
                    }
                    _ => {}
                }
                let request = Request::get(symbl_url("/v1/conversations"))
                    .header("x-call", call)
                    .body(Full::default())
                    .expect("request");
                let result = timeout(Duration::from_secs(10), service.clone().oneshot(request))
                    .await
                    .unwrap_or_else(|_| panic!("call {call} hung"));
                let sent = sends[call].load(Ordering::SeqCst);
                match result {
                    Ok(response) if response.status() == StatusCode::OK => {
                        assert!(
                            sent == 1 || sent == 2,
                            "call {call}: 200 after {sent} sends"
                        );
                        tally.ok += 1;
                    }
                    Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                        // After one retry with a newer token, or none when there was none.
                        assert!(
                            sent == 1 || sent == 2,
                            "call {call}: a 401 after {sent} sends"
                        );
                        tally.unauthorized += 1;
                    }
                    Ok(response) => panic!("call {call}: unexpected {}", response.status()),
                    Err(error) => {
                        auth_error(&error);
                        assert!(sent <= 1, "call {call}: an error after {sent} sends");
                        tally.errors += 1;
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(tally) = drivers.join_next().await {
        let tally = tally.expect("no panic");
        total.ok += tally.ok;
        total.unauthorized += tally.unauthorized;
        total.errors += tally.errors;
    }
    let elapsed = started.elapsed();
    println!(
        "{total:?} in {elapsed:?}; {} token requests",
        fake.token_requests()
    );
    assert_eq!(total.ok + total.unauthorized + total.errors, CALLS);
    assert!(total.ok > 0, "{total:?}");

    // A fetch starts on a cold cache, after a forced refresh (at most one a second), or once a
    // failure's cool-down is over; each makes at most ATTEMPTS_PER_FETCH requests.
    let seconds = elapsed.as_secs_f64();
    let fetches = 1.0
        + (seconds / 1.0).ceil()
        + (seconds / (COOLDOWN + Duration::from_millis(1)).as_secs_f64()).ceil();
    let bound = fetches as usize * ATTEMPTS_PER_FETCH;
    assert!(
        fake.token_requests() <= bound,
        "{} token requests, bound {bound}",
        fake.token_requests()
    );

    // Nothing outlives the layer and its services: no task, no cache, no source.
    drop(service);
    drop(layer);
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut left = usize::MAX;
    for _ in 0..500 {
        left = metrics.num_alive_tasks();
        if left == 0 && source.copies() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(left, 0, "background tasks left running");
    assert_eq!(source.copies(), 1, "the token source was not freed");
}
