//! The tower readiness contract: the instance polled ready is the one called, a call that
//! waits for a token gives back what `poll_ready` reserved and is polled ready again, and the
//! retry waits for readiness. tower-test's mock panics if a clone is called without being ready.
#![cfg(feature = "test-server")]

mod support;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use symbl_auth::test_server::FakeSymbl;
use symbl_auth::ReplayBody;
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

use support::*;

type Mock = mock::Mock<Request<ReplayBody<Full<Bytes>>>, Response<Full<Bytes>>>;
type Handle = mock::Handle<Request<ReplayBody<Full<Bytes>>>, Response<Full<Bytes>>>;

fn setup() -> (symbl_auth::SymblAuth<Mock>, Handle, FakeSymbl) {
    let (mock, handle) = mock::pair();
    let fake = FakeSymbl::new();
    let service = in_memory_layer(fake.clone()).layer(mock);
    (service, handle, fake)
}

#[tokio::test]
async fn the_instance_polled_ready_is_the_one_called() {
    let (mut service, mut handle, _fake) = setup();
    handle.allow(1);
    let ready = service.ready().await.expect("ready");
    let future = tokio::spawn(ready.call(get("https://api.symbl.ai/v1/conversations")));
    let (request, reply) = handle.next_request().await.expect("request");
    assert!(request.headers().contains_key(header::AUTHORIZATION));
    reply.send_response(status(StatusCode::OK));
    let response = future
        .await
        .expect("no panic: the ready instance was called");
    assert_eq!(response.expect("response").status(), StatusCode::OK);
}

#[tokio::test]
async fn the_service_waits_for_a_token_without_losing_readiness() {
    let (mock, mut handle) = mock::pair();
    let fake = FakeSymbl::new();
    let source = ScriptedSource::new(fake).gated();
    let mut service = in_memory_layer(source.clone()).layer(mock);
    handle.allow(1);
    let future = service
        .ready()
        .await
        .expect("ready")
        .call(get("https://api.symbl.ai/v1/conversations"));
    let request = tokio::spawn(async move {
        handle.next_request().await.map(|(r, reply)| {
            reply.send_response(status(StatusCode::OK));
            r
        })
    });
    source.open(1);
    assert_eq!(future.await.expect("response").status(), StatusCode::OK);
    let request = request.await.expect("task").expect("request");
    assert!(request.headers().contains_key(header::AUTHORIZATION));
}

#[tokio::test]
async fn a_call_waiting_for_a_token_holds_no_permit_of_the_inner_limit() {
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let limited = tower::limit::ConcurrencyLimit::new(RecordingService::ok(), 1);
    let mut service = in_memory_layer(source.clone()).layer(limited);
    let waiting = ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
        .await
        .expect("ready")
        .call(get("https://api.symbl.ai/v1/conversations"));
    let waiting = tokio::spawn(waiting);
    until(|| source.started() == 1).await;
    // The one permit is free while the call waits: another instance gets ready at once.
    let mut other = service.clone();
    assert!(
        ServiceExt::<Request<Full<Bytes>>>::ready(&mut other)
            .now_or_never()
            .is_some(),
        "the waiting call holds the permit"
    );
    drop(other);
    source.open(1);
    let response = waiting.await.expect("no panic").expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_call_that_waited_for_a_token_is_sent_only_once_ready_again() {
    let (mock, mut handle) = mock::pair();
    let source = ScriptedSource::new(FakeSymbl::new()).gated();
    let mut service = in_memory_layer(source.clone()).layer(mock);
    handle.allow(1);
    let future = service
        .ready()
        .await
        .expect("ready")
        .call(get("https://api.symbl.ai/v1/conversations"));
    let future = tokio::spawn(future);
    until(|| source.started() == 1).await;
    // Capacity taken elsewhere meanwhile: once the token is there, the call must wait for
    // readiness, not call (calling an unready mock panics, which would end the task).
    handle.allow(0);
    source.open(1);
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(!future.is_finished(), "sent without readiness");
    handle.allow(1);
    let (request, reply) = handle.next_request().await.expect("request");
    assert!(request.headers().contains_key(header::AUTHORIZATION));
    reply.send_response(status(StatusCode::OK));
    let response = future.await.expect("no panic").expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_retry_waits_for_readiness() {
    let (mut service, mut handle, fake) = setup();
    handle.allow(1);
    let future = service
        .ready()
        .await
        .expect("ready")
        .call(post("https://api.symbl.ai/v1/process/text", "hello"));
    let future = tokio::spawn(future);
    let (first, reply) = handle.next_request().await.expect("first send");
    let first_token = first.headers()[header::AUTHORIZATION].clone();
    // Read the body as a server would: only a body sent whole is replayed.
    let sent = first.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(sent, "hello");
    fake.revoke_tokens();
    reply.send_response(status(StatusCode::UNAUTHORIZED));

    // The mock is not ready for a second request: the retry must wait, not call (calling an
    // unready mock panics, which would end the task).
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(
        !future.is_finished(),
        "the retry did not wait for readiness"
    );
    handle.allow(1);
    let (second, reply) = handle.next_request().await.expect("retry");
    assert_ne!(
        second.headers()[header::AUTHORIZATION],
        first_token,
        "fresh token"
    );
    let replayed = second.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(replayed, "hello");
    reply.send_response(status(StatusCode::OK));
    let response = future.await.expect("no panic").expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn inner_errors_reach_the_caller_unchanged() {
    let (mut service, mut handle, _fake) = setup();
    handle.allow(1);
    let future = service
        .ready()
        .await
        .expect("ready")
        .call(get("https://api.symbl.ai/v1/conversations"));
    let future = tokio::spawn(future);
    let (_, reply) = handle.next_request().await.expect("request");
    reply.send_error(std::io::Error::other("connection reset"));
    let error = future.await.expect("task").expect_err("inner error");
    assert!(error.downcast_ref::<symbl_auth::Error>().is_none());
    assert_eq!(error.to_string(), "connection reset");
}
