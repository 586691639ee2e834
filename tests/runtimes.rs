//! The layer outlives runtimes: a fetch task whose runtime shut down before it ran (or while
//! it ran) never wedges the layer, a call outside a runtime fails clearly and harms nothing,
//! and a layer in a `static` serves every `#[tokio::test]` that uses it.
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{Error, SymblAuthLayer};
use tokio::runtime::{Builder, Runtime};
use tower::{Layer, Service, ServiceExt};

use support::*;

const HOUR: Duration = Duration::from_secs(3600);

/// A `TestServer` in a runtime of its own, so it outlives the runtimes a test starts and drops.
struct Background {
    server: TestServer,
    _runtime: Runtime,
}

fn background_server() -> Background {
    let runtime = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start()).expect("server");
    Background {
        server,
        _runtime: runtime,
    }
}

fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn paused() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}

/// Polls a future once, outside any runtime's executor.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    pin!(future).poll(&mut Context::from_waker(Waker::noop()))
}

fn no_runtime_error(
    poll: Poll<Result<http::Response<impl Sized>, symbl_auth::BoxError>>,
) -> String {
    match poll {
        Poll::Ready(Err(error)) => {
            let error = auth_error(&error);
            assert!(matches!(error, Error::NoRuntime { .. }), "{error}");
            error.to_string()
        }
        Poll::Ready(Ok(response)) => panic!("answered {}", response.status()),
        Poll::Pending => panic!("waited instead of failing"),
    }
}

#[test]
fn a_call_dropped_before_its_fetch_ran_does_not_wedge_the_layer() {
    let symbl = background_server();
    let layer = symbl.server.layer();
    let url = symbl.server.url("/v1/conversations");

    let runtime_a = current_thread();
    runtime_a.block_on(async {
        let service = layer.layer(http1_client());
        tokio::select! {
            biased;
            _ = service.oneshot(get(&url)) => panic!("answered before its token was fetched"),
            () = std::future::ready(()) => {}
        }
    });
    // The fetch task is dropped with its runtime before its first poll.
    drop(runtime_a);
    assert_eq!(symbl.server.symbl().token_requests(), 0);

    let runtime_b = Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("rt");
    runtime_b.block_on(async {
        let service = layer.layer(http1_client());
        for _ in 0..3 {
            let status = answered(&service, get(&url)).await;
            assert_eq!(status, StatusCode::OK);
        }
    });
    assert_eq!(symbl.server.symbl().token_requests(), 1);
}

#[test]
fn a_refresh_cut_off_by_its_runtime_is_started_again_in_the_next() {
    // A new token on every request, so each refresh is seen.
    let fake = FakeSymbl::new().token_lifetime(HOUR).reissue_before(HOUR);
    let layer = in_memory_layer(fake.clone());
    let call = |layer: &SymblAuthLayer| {
        let service = layer.layer(fake.api_service());
        async move { status_of(&service, get(&symbl_url("/v1/conversations"))).await }
    };

    let runtime_a = paused();
    runtime_a.block_on(async {
        assert_eq!(call(&layer).await.expect("call"), StatusCode::OK);
        // Into the refresh window: this call starts a background refresh, which never runs.
        tokio::time::advance(HOUR - Duration::from_secs(200)).await;
        assert_eq!(call(&layer).await.expect("call"), StatusCode::OK);
    });
    drop(runtime_a);
    assert_eq!(fake.token_requests(), 1, "the refresh's task never ran");

    let runtime_b = paused();
    runtime_b.block_on(async {
        // This runtime's clock starts an hour earlier than the first's ended: the token is
        // still good here, and its lost freshness timer is set again.
        assert_eq!(call(&layer).await.expect("call"), StatusCode::OK);
        assert_eq!(fake.token_requests(), 1);
        tokio::time::sleep(HOUR - Duration::from_secs(200)).await;
        assert_eq!(call(&layer).await.expect("call"), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(fake.token_requests(), 2, "the refresh ran in this runtime");
        tokio::time::sleep(HOUR).await;
        assert_eq!(
            call(&layer).await.expect("call past the first expiry"),
            StatusCode::OK
        );
    });
    assert_eq!(fake.api_requests(), 5, "no call was sent twice");
}

#[test]
fn a_call_through_the_handle_of_a_runtime_that_shut_down_fails_clearly() {
    let fake = FakeSymbl::new();
    let layer = in_memory_layer(fake.clone());
    let runtime = current_thread();
    let handle = runtime.handle().clone();
    drop(runtime);

    let entered = handle.enter();
    let mut service = layer.layer(fake.api_service());
    assert!(poll_once(std::future::poll_fn(|cx| {
        Service::<Request<Full<Bytes>>>::poll_ready(&mut service, cx)
    }))
    .is_ready());
    let message = no_runtime_error(poll_once(
        service.call(get(&symbl_url("/v1/conversations"))),
    ));
    assert!(message.contains("shut down"), "{message}");
    drop(entered);

    let runtime = current_thread();
    runtime.block_on(async {
        assert_eq!(
            answered(&service, get(&symbl_url("/v1/conversations"))).await,
            StatusCode::OK
        );
    });
    assert_eq!(fake.token_requests(), 1);
}

#[test]
fn outside_a_runtime_a_call_that_needs_a_fetch_fails_clearly() {
    let fake = FakeSymbl::new();
    let layer = in_memory_layer(fake.clone());
    let mut service = layer.layer(fake.api_service());
    let url = symbl_url("/v1/conversations");

    // Cold: a fetch needs a runtime to run in.
    assert!(poll_once(std::future::poll_fn(|cx| {
        Service::<Request<Full<Bytes>>>::poll_ready(&mut service, cx)
    }))
    .is_ready());
    let message = no_runtime_error(poll_once(service.call(get(&url))));
    assert!(message.contains("inside a Tokio runtime"), "{message}");
    assert_eq!(fake.token_requests(), 0);

    // Warm: the cached token needs no runtime, even once the one that fetched it is gone.
    let runtime = current_thread();
    runtime.block_on(async {
        assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    });
    drop(runtime);
    for _ in 0..3 {
        match poll_once(service.call(get(&url))) {
            Poll::Ready(Ok(response)) => assert_eq!(response.status(), StatusCode::OK),
            other => panic!(
                "a cached token needs no runtime: {:?}",
                other.map(|r| r.map(|r| r.status()))
            ),
        }
    }
    assert_eq!(fake.token_requests(), 1);
}

/// One layer for the whole test binary, as an app or a test suite keeps it in a `static`.
fn shared() -> &'static (Background, SymblAuthLayer) {
    static SHARED: OnceLock<(Background, SymblAuthLayer)> = OnceLock::new();
    SHARED.get_or_init(|| {
        // Built on a thread of its own: a runtime cannot be started inside the test's.
        let symbl = std::thread::spawn(background_server)
            .join()
            .expect("server");
        let layer = symbl.server.layer();
        (symbl, layer)
    })
}

/// 20 calls through the shared layer, then the count: every runtime, whichever came first and
/// whether or not it has ended, used the one token (a day's) that one request fetched.
async fn calls_through_the_shared_layer() {
    let (symbl, layer) = shared();
    let service = layer.layer(http1_client());
    for _ in 0..20 {
        assert_eq!(
            answered(&service, get(&symbl.server.url("/v1/conversations"))).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        symbl.server.symbl().token_requests(),
        1,
        "one token for all"
    );
    assert_eq!(layer.stats().token_requests, 1, "and no failed attempt");
}

#[tokio::test]
async fn a_static_layer_serves_one_tokio_test() {
    calls_through_the_shared_layer().await;
}

#[tokio::test]
async fn a_static_layer_serves_another_tokio_test() {
    calls_through_the_shared_layer().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_layer_serves_a_third_on_another_kind_of_runtime() {
    calls_through_the_shared_layer().await;
}

/// A runtime with one of Tokio's drivers left out: `time` (timers) or `io` (sockets).
fn without(driver: &str) -> Runtime {
    let mut builder = Builder::new_current_thread();
    match driver {
        "time" => builder.enable_io(),
        "io" => builder.enable_time(),
        _ => unreachable!(),
    };
    builder.build().expect("runtime")
}

fn assert_names_the_driver(error: &Error, enable: &str) {
    assert!(matches!(error, Error::NoRuntime { .. }), "{error}");
    assert!(error.to_string().contains(enable), "{error}");
}

#[test]
fn a_runtime_without_timers_is_a_clear_error_not_a_panic() {
    let symbl = background_server();
    let url = symbl.server.url("/v1/conversations");
    let runtime = without("time");

    // Through a layer, over the server's token endpoint and over a source in memory.
    let layer = symbl.server.layer();
    let fake = FakeSymbl::new();
    let in_memory = in_memory_layer(fake.clone());
    runtime.block_on(async {
        let service = layer.layer(http1_client());
        let error = status_of(&service, get(&url)).await.expect_err("no timers");
        assert_names_the_driver(auth_error(&error), "enable_time");
        let service = in_memory.layer(fake.api_service());
        let error = status_of(&service, get(&symbl_url("/v1/conversations")))
            .await
            .expect_err("no timers");
        assert_names_the_driver(auth_error(&error), "enable_time");
    });
    // Through a source's own fetch.
    #[cfg(builtin_client)]
    {
        let source = symbl_auth::SymblTokenSource::new(
            symbl.server.token_url(),
            symbl.server.symbl().accepted_credentials(),
        );
        let error = runtime
            .block_on(symbl_auth::TokenSource::fetch_token(&source))
            .expect_err("no timers");
        assert_names_the_driver(&error, "enable_time");
    }
    assert_eq!(symbl.server.symbl().token_requests(), 0);
    assert_eq!(fake.token_requests(), 0);

    // Nothing was held: the same layers work in a runtime with timers.
    current_thread().block_on(async {
        let service = layer.layer(http1_client());
        assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
        let service = in_memory.layer(fake.api_service());
        assert_eq!(
            answered(&service, get(&symbl_url("/v1/conversations"))).await,
            StatusCode::OK
        );
    });
    assert_eq!(symbl.server.symbl().token_requests(), 1);
    // And a token cached by another runtime serves calls in the one without timers.
    runtime.block_on(async {
        let service = in_memory.layer(fake.api_service());
        for _ in 0..3 {
            assert_eq!(
                answered(&service, get(&symbl_url("/v1/conversations"))).await,
                StatusCode::OK
            );
        }
    });
    assert_eq!(fake.token_requests(), 1);
}

/// The built-in client needs sockets; an app's own `token_client` is the app's to run.
#[cfg(builtin_client)]
#[test]
fn a_runtime_without_sockets_is_a_clear_error_for_the_built_in_client() {
    let symbl = background_server();
    let runtime = without("io");
    let source = symbl_auth::SymblTokenSource::new(
        symbl.server.token_url(),
        symbl.server.symbl().accepted_credentials(),
    );
    let error = runtime
        .block_on(symbl_auth::TokenSource::fetch_token(&source))
        .expect_err("no I/O driver");
    assert_names_the_driver(&error, "enable_io");

    let layer = symbl.server.layer();
    runtime.block_on(async {
        let service = layer.layer(symbl.server.symbl().api_service());
        let error = status_of(&service, get(&symbl.server.url("/v1/conversations")))
            .await
            .expect_err("no I/O driver");
        assert_names_the_driver(auth_error(&error), "enable_io");
    });
    assert_eq!(symbl.server.symbl().token_requests(), 0);
}

/// The built-in client is shared by the whole process; a connection kept from a runtime that
/// ended would fail the next request that picked it ("dispatch task is gone").
#[cfg(builtin_client)]
#[test]
fn a_token_request_never_fails_because_another_runtime_ended() {
    const THREADS: usize = 8;
    const RUNTIMES: usize = 150;
    let symbl = background_server();
    let source = symbl_auth::SymblTokenSource::new(
        symbl.server.token_url(),
        symbl.server.symbl().accepted_credentials(),
    );
    let failures: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let source = source.clone();
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for _ in 0..RUNTIMES {
                        let runtime = current_thread();
                        let fetched =
                            runtime.block_on(symbl_auth::TokenSource::fetch_token(&source));
                        if let Err(error) = fetched {
                            failures
                                .push(format!("{error}: {:?}", std::error::Error::source(&error)));
                        }
                    }
                    failures
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().expect("thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} token requests failed; the first: {}",
        failures.len(),
        THREADS * RUNTIMES,
        failures[0]
    );
    assert_eq!(symbl.server.symbl().token_requests(), THREADS * RUNTIMES);
}

/// The same, deterministically: a runtime that fetched a token and then sits idle (a
/// current-thread runtime runs its tasks only inside `block_on`) must not hold up a token
/// request in another runtime, nor fail it when it ends.
#[cfg(builtin_client)]
#[test]
fn a_token_request_never_depends_on_the_runtime_of_the_one_before() {
    let symbl = background_server();
    let source = symbl_auth::SymblTokenSource::new(
        symbl.server.token_url(),
        symbl.server.symbl().accepted_credentials(),
    );
    let fetch = |runtime: &Runtime| {
        runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(2),
                symbl_auth::TokenSource::fetch_token(&source),
            )
            .await
        })
    };
    let idle = current_thread();
    fetch(&idle).expect("in time").expect("token");
    let other = current_thread();
    fetch(&other)
        .expect("not held up by the idle runtime")
        .expect("token");
    drop(idle);
    fetch(&other)
        .expect("in time")
        .expect("not failed by the runtime that ended");
    assert_eq!(symbl.server.symbl().token_requests(), 3);
}

#[test]
fn a_static_layer_serves_runtimes_one_after_another_with_one_token() {
    // Each runtime ends before the next starts: the token's timer ends with the first.
    for _ in 0..3 {
        current_thread().block_on(calls_through_the_shared_layer());
    }
    Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(calls_through_the_shared_layer());
}

#[test]
fn a_waiter_whose_fetch_died_with_another_runtime_fetches_again_in_its_own() {
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let layer = in_memory_layer(source.clone());
    let url = symbl_url("/v1/conversations");

    // Runtime A's call starts the fetch, which waits at the gate: in flight.
    let runtime_a = current_thread();
    runtime_a.block_on(async {
        let service = layer.layer(source.fake.api_service());
        let url = url.clone();
        tokio::spawn(async move { status_of(&service, get(&url)).await });
        until(|| source.started() == 1).await;
    });

    // Runtime B's call finds that fetch running and waits for it.
    let runtime_b = current_thread();
    let service = layer.layer(source.fake.api_service());
    let mut waiter = Box::pin(status_of(&service, get(&url)));
    runtime_b.block_on(async {
        for _ in 0..10 {
            let poll = std::future::poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx))).await;
            assert!(poll.is_pending(), "waits for the fetch in flight");
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(source.started(), 1, "B joined A's fetch");

    // A shuts down with its fetch unfinished; the waiter starts it again, in B.
    drop(runtime_a);
    source.open(1);
    let status = runtime_b.block_on(waiter).expect("the waiter's own fetch");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(source.started(), 2, "started again once");
    assert_eq!(layer.stats().token_requests, 2);
    assert_eq!(
        source.fake.token_requests(),
        1,
        "only the second reached the endpoint"
    );
}

/// A token's freshness timer ends with its runtime, and marks the token stale as it goes: a
/// call in another runtime, past the token's expiry, fetches a new one rather than sending the
/// expired one. (Real time: paused time is per runtime, and this crosses two.)
#[test]
fn a_token_whose_timer_died_with_its_runtime_is_not_used_past_its_expiry() {
    let lifetime = Duration::from_secs(2);
    // A new token on every request, so a second fetch is seen.
    let fake = FakeSymbl::new()
        .token_lifetime(lifetime)
        .reissue_before(lifetime);
    let layer = in_memory_layer(fake.clone());
    let runtime_a = current_thread();
    let first = runtime_a.block_on(layer.access_token()).expect("a token");
    // Runtime A ends, and the timer that would mark the token stale (at half its lifetime)
    // with it.
    drop(runtime_a);
    std::thread::sleep(lifetime + Duration::from_millis(300));
    let second = current_thread()
        .block_on(layer.access_token())
        .expect("a token");
    assert_ne!(
        first.secret(),
        second.secret(),
        "the expired token was handed out: its staleness was lost with runtime A"
    );
    assert_eq!(fake.token_requests(), 2);
}
