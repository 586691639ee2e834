//! DPoP on API requests through the layer (RFC 9449 §7, §9), against oidc-provider and its
//! resource server on loopback (`tests/oidc_server/`): proofs and nonces. The resource server
//! checks each proof itself: its signature against its `jwk`, `htm`, `htu`, `ath`, an unused
//! `jti`, a recent `iat`, the key's thumbprint against the token's `cnf.jkt` (by
//! introspection), and its nonce when it wants one. Counts come from the server's `/stats` and
//! the layer's `stats()`. The front ends, keyed layers and the store: `oidc_dpop_fronts.rs`.
#![cfg(all(feature = "test-server", tls_rustls, not(tls_provider = "installed")))]

mod dpop_api;
mod oidc_server;
mod support;

use http::{Request, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::SymblAuthLayer;

use dpop_api::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_api_request_carries_a_fresh_proof_for_each_kind_of_key() {
    let server = start(json!({}));
    for (dpop_key, name) in [
        (key("es256"), "ES256"),
        (key("eddsa"), "EdDSA"),
        (key("rs256"), "RS256"),
        (key("rs256").ps256().expect("RSA"), "PS256"),
    ] {
        let thumbprint = dpop_key.thumbprint().to_owned();
        let layer = layer(&server, dpop_key);
        let service = api(&layer);
        // Queries are not in `htu` (an `http::Uri` carries no fragment); methods and bodies vary.
        let requests = [
            get(&server.url("/api")),
            get(&server.url("/api/items?page=2&sort=name")),
            post(&server.url("/api/items"), "{\"a\":1}"),
            Request::delete(server.url("/api/items/7"))
                .body(Full::default())
                .expect("request"),
        ];
        for request in requests {
            let method = request.method().to_string();
            let (status, body) = send(&service, request).await;
            assert_eq!(status, StatusCode::OK, "{name}: {body}");
            assert_eq!(body["jkt"], thumbprint.as_str(), "{name}: bound to the key");
            assert_eq!(body["method"], method.as_str());
        }
        let stats = layer.stats();
        assert_eq!(stats.token_requests, 1, "{name}");
        assert_eq!(stats.retries + stats.dpop_nonce_retries, 0, "{name}");
    }
    let stats = server.stats().await;
    assert_eq!(stats["api_ok"], 16, "{stats}");
    assert_eq!(unauthorized(&stats), Vec::<String>::new());
    // 16 proofs, 16 distinct jtis: each request its own proof (the server also refuses a
    // replayed jti itself).
    let jtis = stats["api_proof_jtis"].as_array().expect("jtis");
    let unique: std::collections::HashSet<_> = jtis.iter().map(Value::to_string).collect();
    assert_eq!((jtis.len(), unique.len()), (16, 16));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_challenge_is_answered_once_with_the_same_token_and_the_nonce_kept() {
    let server = start(json!({ "requireApiNonce": true }));
    let layer = layer(&server, key("eddsa"));
    let service = api(&layer);
    // The first request has no nonce: 401 use_dpop_nonce, then once more with it. A body is
    // sent again whole.
    let (status, body) = send(&service, post(&server.url("/api/items"), "x".repeat(1000))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["body_bytes"], 1000);
    // Then every request carries the kept nonce: no more challenges.
    for _ in 0..5 {
        assert_eq!(
            send(&service, get(&server.url("/api"))).await.0,
            StatusCode::OK
        );
    }
    let stats = layer.stats();
    assert_eq!(stats.dpop_nonce_retries, 1);
    assert_eq!(
        stats.token_requests, 1,
        "a nonce challenge does not reject the token"
    );
    assert_eq!((stats.refreshes, stats.retries), (0, 0));
    let seen = server.stats().await;
    assert_eq!(unauthorized(&seen), ["use_dpop_nonce"]);
    assert_eq!(seen["api_ok"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_sent_with_a_200_is_used_from_the_next_request_on() {
    // A new nonce on every second 200, which the next proofs must carry.
    let server = start(json!({ "requireApiNonce": true, "apiNonceEvery": 2 }));
    let layer = layer(&server, key("es256"));
    let service = api(&layer);
    for _ in 0..10 {
        assert_eq!(
            send(&service, get(&server.url("/api"))).await.0,
            StatusCode::OK
        );
    }
    // Only the very first request was challenged.
    assert_eq!(layer.stats().dpop_nonce_retries, 1);
    assert_eq!(unauthorized(&server.stats().await), ["use_dpop_nonce"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_keeps_asking_for_a_new_nonce_gets_its_401_back_after_one_retry() {
    let server = start(json!({ "requireApiNonce": true, "apiNonceAlwaysNew": true }));
    let layer = layer(&server, key("es256"));
    let service = api(&layer);
    for _ in 0..3 {
        let (status, body) = send(&service, get(&server.url("/api"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "use_dpop_nonce");
    }
    let stats = layer.stats();
    // Two sends per call, never a third; and the token was never rejected.
    assert_eq!(stats.dpop_nonce_retries, 3);
    assert_eq!(
        (stats.token_requests, stats.retries, stats.refreshes),
        (1, 0, 0)
    );
    assert_eq!(server.stats().await["api_requests"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_and_a_new_nonce_in_one_call_cost_one_retry_of_each_kind() {
    let server = start(json!({ "requireApiNonce": true }));
    let layer = layer(&server, key("es256"));
    let service = api(&layer);
    assert_eq!(
        send(&service, get(&server.url("/api"))).await.0,
        StatusCode::OK
    );
    // The administrator revokes the token, and the nonce changes unannounced: the next call
    // gets a 401 for the token (a refresh and a retry), then one for the nonce (one more).
    let token = layer.access_token().await.expect("token");
    let control = |path: String| server.http().post(path).send();
    control(server.url(&format!("/control/revoke?token={}", token.secret())))
        .await
        .expect("revoke");
    control(server.url("/control/rotate-api-nonce"))
        .await
        .expect("rotate");
    let (status, body) = send(&service, post(&server.url("/api"), "payload")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["body_bytes"], 7);
    let stats = layer.stats();
    assert_eq!((stats.token_requests, stats.retries), (2, 1));
    assert_eq!(
        stats.dpop_nonce_retries, 2,
        "the first call's and this one's"
    );
    assert_eq!(
        unauthorized(&server.stats().await),
        ["use_dpop_nonce", "invalid_token", "use_dpop_nonce"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_share_one_token_and_each_has_its_own_proof() {
    let server = start(json!({ "requireApiNonce": true }));
    let layer = layer(&server, key("es256"));
    let service = api(&layer);
    let calls: Vec<_> = (0..64)
        .map(|n| {
            let service = service.clone();
            let url = server.url(&format!("/api/{n}"));
            tokio::spawn(async move { send(&service, get(&url)).await.0 })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("task"), StatusCode::OK);
    }
    let stats = layer.stats();
    assert_eq!(stats.token_requests, 1);
    // Calls sent before the nonce was known were each challenged once; none twice.
    let seen = server.stats().await;
    assert_eq!(seen["api_ok"], 64);
    assert_eq!(
        unauthorized(&seen).len() as u64,
        stats.dpop_nonce_retries,
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_cannot_be_sent_again_gets_the_nonce_401_back_and_the_token_stays() {
    let server = start(json!({ "requireApiNonce": true }));
    let source = ClientCredentials::new(server.url("/token"), "dpop-api", "")
        .auth_method(AuthMethod::PrivateKeyJwt(key("es256")))
        .scope("read")
        .dpop(key("es256"));
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .replay_limit(0)
        .build()
        .expect("layer");
    let service = api(&layer);
    let (status, body) = send(&service, post(&server.url("/api"), "not kept")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "use_dpop_nonce");
    // The nonce was kept all the same: the next request carries it and passes.
    let (status, _) = send(&service, post(&server.url("/api"), "not kept")).await;
    assert_eq!(status, StatusCode::OK);
    let stats = layer.stats();
    assert_eq!((stats.replays_skipped, stats.dpop_nonce_retries), (1, 0));
    assert_eq!(
        (stats.token_requests, stats.refreshes),
        (1, 0),
        "the token stayed"
    );
}
