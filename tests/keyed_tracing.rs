//! A keyed layer's `tracing` events name the key: its fetches run in a `credential{key=…}`
//! span. In a file of its own: the subscriber is process-wide (tracing caches each callsite's
//! interest for all threads, so a per-thread subscriber beside other tests would miss events).
// The shared test support needs the test server.
#![cfg(feature = "test-server")]

mod support;

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use symbl_auth::{
    AccessToken, CredentialKey, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource,
};
use tower::{service_fn, Layer, ServiceExt};

use support::*;

#[derive(Debug)]
struct Hourly;

impl TokenSource for Hourly {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async { AccessToken::new("token-1", Duration::from_secs(3600)) })
    }
}

#[tokio::test(start_paused = true)]
async fn fetch_events_carry_the_key() {
    let captured = Captured::install();
    let layer = SymblAuthLayer::keyed(|_: &CredentialKey| Hourly)
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer");
    let api = service_fn(|_: Request<ReplayBody<String>>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let mut request = Request::get(symbl_url("/v1/conversations"))
        .body(String::new())
        .expect("request");
    request
        .extensions_mut()
        .insert(CredentialKey::new("tenant-7"));
    layer.layer(api).oneshot(request).await.expect("call");
    let text = captured.text();
    let granted = text
        .lines()
        .find(|line| line.contains("access token granted"))
        .unwrap_or_else(|| panic!("no grant in {text}"));
    assert!(granted.contains("key=tenant-7"), "{granted}");
}
