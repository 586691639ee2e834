//! The token goes only where it belongs: to the allowed hosts, over https (or plain http to
//! loopback, or where opted in), and never in place of a caller's own `Authorization`; a
//! caller's `x-api-key` does not stop it.
#![cfg(feature = "test-server")]

mod support;

use bytes::Bytes;
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{Error, SymblAuthLayer};
use tower::{Layer, ServiceExt};

use support::*;

/// The `Authorization` of each request `recorder` got, in order.
fn authorizations(recorder: &RecordingService) -> Vec<Option<HeaderValue>> {
    recorder
        .seen()
        .into_iter()
        .map(|seen| seen.authorization)
        .collect()
}

fn layer(fake: &FakeSymbl) -> symbl_auth::SymblAuthLayerBuilder {
    SymblAuthLayer::from_source(fake.clone()).allow_host("api.symbl.ai")
}

#[tokio::test]
async fn the_token_goes_only_to_allowed_hosts() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let layer = layer(&fake)
        .allow_host("media.symbl.ai")
        .build()
        .expect("layer");
    let service = layer.layer(recorder.clone());

    for url in [
        "https://api.symbl.ai/v1/conversations",
        "https://API.SYMBL.AI:8443/v1/conversations",
        "https://media.symbl.ai/upload",
        "/v1/conversations",
    ] {
        service.clone().oneshot(get(url)).await.expect("call");
    }
    for url in [
        "https://example.com/",
        "https://api.symbl.ai.example.com/",
        "https://symbl.ai/",
    ] {
        service.clone().oneshot(get(url)).await.expect("call");
    }
    let sent = authorizations(&recorder);
    assert_eq!(sent.len(), 7);
    for value in &sent[..4] {
        let value = value.as_ref().expect("token attached");
        assert!(value
            .to_str()
            .expect("ascii")
            .starts_with("Bearer fake-token-"));
        assert!(value.is_sensitive(), "the header is marked sensitive");
    }
    for (index, value) in sent.iter().enumerate().skip(4) {
        assert_eq!(*value, None, "request {index} leaked the token");
    }
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let service = layer(&fake).build().expect("layer").layer(recorder.clone());
    let error = service
        .clone()
        .oneshot(get("http://api.symbl.ai/v1/conversations"))
        .await
        .expect_err("refused");
    assert!(
        matches!(auth_error(&error), Error::InsecureTransport { host, .. } if host == "api.symbl.ai")
    );
    assert_eq!(recorder.seen().len(), 0, "nothing was sent");
    assert_eq!(fake.token_requests(), 0, "no token was even fetched");

    let insecure = layer(&fake)
        .allow_insecure_http(true)
        .build()
        .expect("layer");
    let service = insecure.layer(recorder.clone());
    service
        .oneshot(get("http://api.symbl.ai/v1/conversations"))
        .await
        .expect("opted in");
    assert!(authorizations(&recorder)[0].is_some());
}

#[tokio::test]
async fn a_callers_own_authorization_is_kept() {
    let fake = FakeSymbl::new();
    let recorder = RecordingService::ok();
    let service = layer(&fake).build().expect("layer").layer(recorder.clone());
    let request = Request::get("https://api.symbl.ai/v1/conversations")
        .header(header::AUTHORIZATION, "Bearer callers-token")
        .body(Full::<Bytes>::default())
        .expect("request");
    service.oneshot(request).await.expect("call");
    assert_eq!(
        authorizations(&recorder)[0].clone().expect("kept"),
        "Bearer callers-token"
    );
    assert_eq!(fake.token_requests(), 0);
}

/// The layer never overwrites the header it sets, `Authorization`; any other header, an
/// `x-api-key` included, is left alone and does not stop the token (API gateways such as AWS
/// API Gateway want an `x-api-key` and a bearer token both).
#[tokio::test]
async fn a_callers_own_x_api_key_is_kept_and_the_token_added_over_real_http() {
    let fake = FakeSymbl::new();
    let peer = RawPeer::start(&[Reply::Raw(ANSWER_200)]).await;
    let service = SymblAuthLayer::from_source(fake.clone())
        .allow_host("127.0.0.1")
        .build()
        .expect("layer")
        .layer(http1_client());
    let request = Request::get(peer.url("http", "/v1/conversations"))
        .header("x-api-key", "mine")
        .body(Full::<Bytes>::default())
        .expect("request");
    assert_eq!(answered(&service, request).await, StatusCode::OK);

    let head = &peer.heads()[0];
    assert_eq!(header_values(head, "x-api-key"), ["mine"], "{head}");
    let authorization = header_values(head, "authorization");
    assert_eq!(authorization.len(), 1, "{head}");
    assert!(authorization[0].starts_with("Bearer fake-token-"), "{head}");
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn a_host_not_allowed_does_not_get_the_token_over_real_http() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    // Same server, but named `localhost`: not the token URL's host, so no token.
    let url = format!("http://localhost:{}/v1/conversations", server.addr().port());
    assert_eq!(
        answered(&service, get(&url)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.symbl().token_requests(), 0);
}
