//! The layer in front of a real tonic `Channel`, used by a generated client, against a real
//! tonic server on loopback that checks the `authorization` metadata.
#![cfg(feature = "test-server")]
// One test needs the test server's layer, which under rustls-no-provider alone needs the app's
// provider: what only it uses is unused there.
#![cfg_attr(tls_provider = "installed", allow(dead_code, unused_imports))]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/tonic_client.rs"]
mod example;

use std::sync::atomic::Ordering;
use std::time::Duration;

use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::SymblAuthLayer;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use example::{authenticated, serve, GuardedHealth};

fn request() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

/// A health server that wants `symbl`'s tokens, and a channel to it.
async fn guarded_health_service(symbl: &TestServer) -> (GuardedHealth, Channel) {
    let health = GuardedHealth {
        symbl: symbl.symbl().clone(),
        calls: Default::default(),
    };
    let addr = serve(health.clone()).await.expect("grpc server");
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    (health, channel)
}

#[cfg(not(tls_provider = "installed"))]
#[tokio::test]
async fn unauthenticated_refreshes_the_token_and_retries_once() {
    let symbl = TestServer::start().await.expect("server");
    let (health, channel) = guarded_health_service(&symbl).await;
    let layer = symbl.layer();
    let mut client = HealthClient::new(authenticated(channel, layer.clone()));

    for _ in 0..5 {
        let response = client.check(request()).await.expect("check").into_inner();
        assert_eq!(response.status(), ServingStatus::Serving);
    }
    assert_eq!(
        symbl.symbl().token_requests(),
        1,
        "one token for five calls"
    );

    symbl.symbl().revoke_tokens();
    let response = client.check(request()).await.expect("check").into_inner();
    assert_eq!(response.status(), ServingStatus::Serving);
    assert_eq!(
        health.calls.load(Ordering::SeqCst),
        7,
        "five, then UNAUTHENTICATED and a retry"
    );
    assert_eq!(symbl.symbl().token_requests(), 2, "one refresh");
    assert_eq!(layer.stats().retries, 1);
}

#[tokio::test]
async fn a_second_unauthenticated_reaches_the_caller() {
    let symbl = TestServer::start().await.expect("server");
    let (health, channel) = guarded_health_service(&symbl).await;
    // Tokens from an issuer the server does not know, a new one for every token request.
    let other_issuer = FakeSymbl::new().reissue_before(Duration::from_secs(86_400));
    let layer = SymblAuthLayer::from_source(other_issuer)
        .allow_host("127.0.0.1")
        .build()
        .expect("layer");
    let mut client = HealthClient::new(authenticated(channel, layer));
    let status = client
        .check(request())
        .await
        .expect_err("tokens from another issuer");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(health.calls.load(Ordering::SeqCst), 2, "sent exactly twice");
}

#[tokio::test]
async fn unauthenticated_is_not_retried_with_the_rejected_token() {
    let symbl = TestServer::start().await.expect("server");
    let (health, channel) = guarded_health_service(&symbl).await;
    // An issuer the server does not know, which re-serves its token like Symbl does.
    let layer = SymblAuthLayer::from_source(FakeSymbl::new())
        .allow_host("127.0.0.1")
        .build()
        .expect("layer");
    let mut client = HealthClient::new(authenticated(channel, layer.clone()));
    let status = client.check(request()).await.expect_err("unknown issuer");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(health.calls.load(Ordering::SeqCst), 1, "not sent again");
    assert_eq!(layer.stats().retries_declined, 1);
}
