//! A call that waits for a token gives back what the inner service's `poll_ready` reserved:
//! the app's client, bounded by `ConcurrencyLimit` or a small `Buffer`, also carries the token
//! request (`token_client`, the README's "one pool"), which needs that very capacity.
//! A real hyper-util client against the test server on loopback, serving both the token
//! endpoint and the API; counts exact token requests.
//!
//! A short retry budget makes a regression (a call holding the capacity while its token
//! request queues for it) fail fast with `TokenEndpointUnavailable` instead of hanging.
#![cfg(feature = "test-server")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use symbl_auth::test_server::TestServer;
use symbl_auth::{BoxError, ReplayBody, SymblAuthLayer};
use tokio::time::Instant;
use tower::buffer::Buffer;
use tower::limit::ConcurrencyLimit;
use tower::{Layer, Service, ServiceExt};

use support::*;

/// Each token attempt's timeout, and the budget a regression would wait out before failing.
/// No attempt may time out here (`token_failures` is 0), so no call waits even `ATTEMPT`;
/// the wall-clock check is only against the budget, to stay clear of a loaded machine's noise.
const ATTEMPT: Duration = Duration::from_millis(300);
const BUDGET: Duration = Duration::from_secs(1);

/// The test server's layer, sending its token requests on `client`.
fn layer_over<S>(server: &TestServer, client: S) -> SymblAuthLayer
where
    S: Service<Request<ReplayBody<Full<Bytes>>>, Response = Response<hyper::body::Incoming>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    SymblAuthLayer::builder(server.symbl().accepted_credentials())
        .token_url(server.token_url())
        .token_client(client)
        .token_request_timeout(ATTEMPT)
        .token_retry_budget(BUDGET)
        .build()
        .expect("layer")
}

/// How the calls of a burst get ready.
#[derive(Clone, Copy)]
enum Burst {
    /// Every call is polled ready before any is called: all the capacity is reserved when the
    /// first call finds no token (deterministic, whatever the runtime's scheduling).
    ReadyTogether,
    /// Each call is polled ready and called at once (`oneshot`), as the capacity allows.
    OneShot,
}

/// Sends `calls` concurrent cold calls through `app`'s layer (which shares `app` as its
/// token client) and checks that all succeed promptly on one token request.
async fn cold_burst_succeeds<S>(app: S, calls: usize, burst: Burst)
where
    S: Service<Request<ReplayBody<Full<Bytes>>>, Response = Response<hyper::body::Incoming>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    let server = TestServer::start().await.expect("server");
    let layer = layer_over(&server, app.clone());
    let service = layer.layer(app);
    let url = server.url("/v1/conversations");
    let started = Instant::now();
    let tasks: Vec<_> = match burst {
        Burst::ReadyTogether => {
            let mut ready = Vec::with_capacity(calls);
            for _ in 0..calls {
                let mut service = service.clone();
                service.ready().await.expect("ready");
                ready.push(service);
            }
            ready
                .into_iter()
                .map(|mut service| tokio::spawn(service.call(get(&url))))
                .collect()
        }
        Burst::OneShot => (0..calls)
            .map(|_| tokio::spawn(service.clone().oneshot(get(&url))))
            .collect(),
    };
    for task in tasks {
        let response = task.await.expect("no panic").unwrap_or_else(|error| {
            panic!("the call failed (held the capacity its token request needed?): {error}")
        });
        assert_eq!(response.status(), StatusCode::OK);
    }
    let took = started.elapsed();
    assert!(
        took < BUDGET,
        "the calls took {took:?}: they waited out the budget"
    );
    assert_eq!(server.symbl().token_requests(), 1);
    let stats = layer.stats();
    assert_eq!((stats.token_requests, stats.token_failures), (1, 0));
    assert_eq!(server.symbl().api_requests(), calls);
}

#[tokio::test]
async fn a_cold_call_under_a_limit_of_one_shares_it_with_its_token_request() {
    let app = ConcurrencyLimit::new(http1_client(), 1);
    cold_burst_succeeds(app, 1, Burst::OneShot).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_cold_burst_as_large_as_the_limit_succeeds_on_one_thread() {
    let app = ConcurrencyLimit::new(http1_client(), 8);
    cold_burst_succeeds(app, 8, Burst::ReadyTogether).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_burst_as_large_as_the_limit_succeeds_on_many_threads() {
    let app = ConcurrencyLimit::new(http1_client(), 8);
    cold_burst_succeeds(app, 8, Burst::ReadyTogether).await;
}

#[tokio::test]
async fn a_cold_call_through_a_buffer_of_one_frees_its_slot_for_the_token_request() {
    cold_burst_succeeds(Buffer::new(http1_client(), 1), 1, Burst::OneShot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_burst_through_a_buffer_of_one_succeeds() {
    cold_burst_succeeds(Buffer::new(http1_client(), 1), 8, Burst::OneShot).await;
}

#[tokio::test]
async fn a_retry_after_a_401_holds_no_permit_while_it_waits_for_a_new_token() {
    let server = TestServer::start().await.expect("server");
    let app = ConcurrencyLimit::new(http1_client(), 1);
    let layer = layer_over(&server, app.clone());
    let service = layer.layer(app);
    let url = server.url("/v1/conversations");
    // The first token through an unbounded client on the same layer (one cache): only the
    // retry's wait is under test here.
    let unbounded = layer.layer(http1_client());
    assert_eq!(answered(&unbounded, get(&url)).await, StatusCode::OK);
    // The API now answers the cached token 401; the retry needs a second token request,
    // through the one permit.
    server.symbl().revoke_tokens();
    let started = Instant::now();
    let response = service.clone().oneshot(get(&url)).await.expect("retried");
    assert_eq!(response.status(), StatusCode::OK);
    let took = started.elapsed();
    assert!(took < BUDGET, "the retry took {took:?}");
    assert_eq!(server.symbl().token_requests(), 2);
    let stats = layer.stats();
    assert_eq!((stats.token_requests, stats.token_failures), (2, 0));
    assert_eq!(server.symbl().api_requests(), 3);
}
