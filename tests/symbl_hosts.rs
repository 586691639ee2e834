//! Symbl's API hosts, `api.symbl.ai` and `api-labs.symbl.ai` (which takes the same token), get
//! the token from a default layer; no other host does.
#![cfg(feature = "test-server")]
// Some tests need the built-in client (a TLS feature): what only they use is unused without it.
#![cfg_attr(not(builtin_client), allow(dead_code, unused_imports))]

mod support;

use http::StatusCode;
use symbl_auth::test_server::FakeSymbl;
use symbl_auth::{Credentials, Error, SymblAuthLayer, SYMBL_API_HOSTS};
use tower::{Layer, ServiceExt};

use support::*;

/// Each request's host, and its `Authorization` if it had one.
fn hosts_and_tokens(recorder: &RecordingService) -> Vec<(String, Option<String>)> {
    let text = |value: &http::HeaderValue| value.to_str().unwrap_or("(not text)").to_owned();
    recorder
        .seen()
        .iter()
        .map(|seen| {
            let host = seen.uri.host().unwrap_or_default().to_owned();
            (host, seen.authorization.as_ref().map(text))
        })
        .collect()
}

/// Hosts near Symbl's that must not get the token: its parent and a sibling, names that start
/// or end with an API host, and subdomains of one.
const OTHER_HOSTS: [&str; 9] = [
    "symbl.ai",
    "labs.symbl.ai",
    "api.symbl.ai.example",
    "api-labs.symbl.ai.example",
    "evilapi.symbl.ai",
    "evil-api-labs.symbl.ai",
    "sub.api.symbl.ai",
    "sub.api-labs.symbl.ai",
    "example.com",
];

#[test]
fn symbls_api_hosts_are_api_and_api_labs() {
    assert_eq!(SYMBL_API_HOSTS, ["api.symbl.ai", "api-labs.symbl.ai"]);
}

#[cfg(builtin_client)]
#[tokio::test]
async fn the_default_layer_would_send_the_token_to_both_symbl_hosts_only() {
    // The default layer fetches from api.symbl.ai, which a test cannot reach. Over plain http,
    // though, a host the layer would send the token to is refused before anything is fetched
    // or sent, and any other host passes through: that shows the default hosts, offline.
    let layer = SymblAuthLayer::new(Credentials::new("app-id", "app-secret"));
    let recorder = RecordingService::ok();
    let service = layer.layer(recorder.clone());
    for host in SYMBL_API_HOSTS {
        let error = service
            .clone()
            .oneshot(get(&format!("http://{host}/v1/conversations")))
            .await
            .expect_err("a token destination, over plain http");
        let error = auth_error(&error);
        assert!(
            matches!(error, Error::InsecureTransport { host: refused, .. } if refused == host),
            "{error}"
        );
    }
    for host in OTHER_HOSTS {
        let response = service
            .clone()
            .oneshot(get(&format!("http://{host}/v1/conversations")))
            .await
            .expect("passed through");
        assert_eq!(response.status(), StatusCode::OK);
    }
    let seen = hosts_and_tokens(&recorder);
    assert_eq!(seen.len(), OTHER_HOSTS.len());
    assert!(seen
        .iter()
        .all(|(_, authorization)| authorization.is_none()));
}

#[tokio::test]
async fn symbls_api_hosts_get_the_token_and_no_other_host_does() {
    // The same hosts, with tokens from the fake in memory.
    let fake = FakeSymbl::new();
    let builder = SYMBL_API_HOSTS.iter().fold(
        SymblAuthLayer::from_source(fake.clone()),
        |builder, host| builder.allow_host(*host),
    );
    let recorder = RecordingService::ok();
    let service = builder.build().expect("layer").layer(recorder.clone());
    let hosts = SYMBL_API_HOSTS.iter().chain(&OTHER_HOSTS);
    for host in hosts.clone() {
        let url = format!("https://{host}/v1/conversations");
        let response = service.clone().oneshot(get(&url)).await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
    }

    let seen = hosts_and_tokens(&recorder);
    let bearer = seen[0].1.clone().expect("api.symbl.ai got the token");
    assert!(bearer.starts_with("Bearer fake-token-"), "{bearer}");
    let expected: Vec<_> = hosts
        .map(|host| {
            let token = SYMBL_API_HOSTS.contains(host).then(|| bearer.clone());
            (host.to_string(), token)
        })
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(fake.token_requests(), 1);
}
