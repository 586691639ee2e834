//! A keyed layer's bounds and rules on paused time, with token sources in memory: at most
//! `max_keys` kept, least recently used out, idle keys dropped, refresh ahead per key, a
//! request without a key refused before anything is sent, a key ignored by a layer that is
//! not keyed.
// The shared test support needs the test server.
#![cfg(feature = "test-server")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{Request, Response};
use symbl_auth::{
    AccessToken, CredentialKey, Error, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource,
};
use tower::{service_fn, Layer, ServiceExt};

use support::*;

const HOUR: Duration = Duration::from_secs(3600);

/// Grants `{key}-1`, `{key}-2`, … for an hour each, counting every fetch.
#[derive(Debug)]
struct PerKey {
    key: String,
    fetches: AtomicUsize,
}

impl TokenSource for PerKey {
    fn fetch_token(&self) -> TokenFuture<'_> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("{}-{n}", self.key);
        Box::pin(async move { AccessToken::new(&token, HOUR) })
    }
}

fn keyed() -> symbl_auth::SymblAuthLayerBuilder {
    SymblAuthLayer::keyed(|key: &CredentialKey| PerKey {
        key: key.to_string(),
        fetches: AtomicUsize::new(0),
    })
    .allow_host("api.symbl.ai")
}

/// An API that answers with the `Authorization` it got, counting calls.
fn echo(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<ReplayBody<String>>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(move |request: Request<ReplayBody<String>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let seen = request.headers().get(AUTHORIZATION).cloned();
        let body = seen.map_or(String::new(), |v| v.to_str().unwrap_or_default().to_owned());
        async move { Ok::<_, Infallible>(Response::new(body)) }
    })
}

fn request(key: Option<&str>) -> Request<String> {
    let mut request = Request::get(symbl_url("/v1/conversations"))
        .body(String::new())
        .expect("request");
    if let Some(key) = key {
        request.extensions_mut().insert(CredentialKey::new(key));
    }
    request
}

async fn send(layer: &SymblAuthLayer, key: &str) -> String {
    let calls = Arc::new(AtomicUsize::new(0));
    let response = layer.layer(echo(calls)).oneshot(request(Some(key))).await;
    response.expect("call").into_body()
}

fn kept(layer: &SymblAuthLayer, key: &str) -> bool {
    layer.key_stats(&CredentialKey::new(key)).is_some()
}

#[tokio::test(start_paused = true)]
async fn at_most_max_keys_are_kept_and_the_least_recently_used_goes_first() {
    let layer = keyed().max_keys(3).build().expect("layer");
    for key in ["a", "b", "c"] {
        assert_eq!(send(&layer, key).await, format!("Bearer {key}-1"));
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    // `a` used again: `b` is now the least recently used.
    send(&layer, "a").await;
    tokio::time::advance(Duration::from_millis(1)).await;
    send(&layer, "d").await;
    assert_eq!(layer.cached_keys(), 3);
    assert!(!kept(&layer, "b"), "the least recently used key is evicted");
    assert!(kept(&layer, "a") && kept(&layer, "c") && kept(&layer, "d"));
    tokio::time::advance(Duration::from_millis(1)).await;
    send(&layer, "e").await;
    assert!(!kept(&layer, "c"));
    assert_eq!(layer.cached_keys(), 3);
    // An evicted key comes back with a source of its own, fetching again; the layer's sums
    // keep what the evicted keys counted.
    assert_eq!(send(&layer, "b").await, "Bearer b-1");
    assert_eq!(layer.stats().token_requests, 6);
    assert_eq!(layer.cached_keys(), 3);
}

#[tokio::test(start_paused = true)]
async fn idle_keys_are_dropped_after_the_idle_timeout() {
    let layer = keyed()
        .idle_timeout(Duration::from_secs(600))
        .build()
        .expect("layer");
    send(&layer, "a").await;
    tokio::time::advance(Duration::from_secs(300)).await;
    send(&layer, "b").await;
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert!(!kept(&layer, "a"), "idle for 601 s");
    assert!(kept(&layer, "b"), "idle for 301 s");
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(layer.cached_keys(), 0);
    // Back after a drop: fetched again.
    send(&layer, "a").await;
    assert_eq!(layer.stats().token_requests, 3);
}

#[tokio::test(start_paused = true)]
async fn each_key_refreshes_ahead_on_its_own() {
    let layer = keyed().build().expect("layer");
    send(&layer, "a").await;
    send(&layer, "b").await;
    // Inside a's refresh window (the last 5 minutes of its hour).
    tokio::time::advance(Duration::from_secs(56 * 60)).await;
    assert_eq!(
        send(&layer, "a").await,
        "Bearer a-1",
        "the current token, while refreshing"
    );
    until(|| {
        layer
            .key_stats(&CredentialKey::new("a"))
            .unwrap()
            .token_requests
            == 2
    })
    .await;
    tokio::task::yield_now().await;
    assert_eq!(send(&layer, "a").await, "Bearer a-2");
    let b = layer.key_stats(&CredentialKey::new("b")).expect("b kept");
    assert_eq!((b.token_requests, b.refreshes), (1, 0));
    assert_eq!(layer.stats().refreshes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_request_without_a_key_fails_and_nothing_is_sent() {
    let layer = keyed().build().expect("layer");
    let calls = Arc::new(AtomicUsize::new(0));
    let error = layer
        .layer(echo(Arc::clone(&calls)))
        .oneshot(request(None))
        .await
        .unwrap_err();
    assert!(matches!(
        auth_error(&error),
        Error::MissingCredentialKey { .. }
    ));
    assert!(error.to_string().contains("CredentialKey"));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(layer.stats().token_requests, 0);
    assert!(matches!(
        layer.access_token().await,
        Err(Error::MissingCredentialKey { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_key_is_ignored_by_a_layer_that_is_not_keyed() {
    let layer = in_memory_layer(PerKey {
        key: "one".into(),
        fetches: AtomicUsize::new(0),
    });
    assert_eq!(send(&layer, "tenant-42").await, "Bearer one-1");
    assert_eq!(send(&layer, "tenant-43").await, "Bearer one-1");
    let token = layer
        .access_token_for(&CredentialKey::new("tenant-44"))
        .await;
    assert_eq!(token.expect("token").secret(), "one-1");
    assert_eq!(layer.cached_keys(), 0);
    assert_eq!(layer.key_stats(&CredentialKey::new("tenant-42")), None);
}

#[test]
fn zero_keys_and_key_settings_on_a_plain_layer_are_refused() {
    let refused =
        |result: Result<SymblAuthLayer, Error>| matches!(result, Err(Error::InvalidConfig { .. }));
    assert!(refused(keyed().max_keys(0).build()));
    assert!(refused(keyed().idle_timeout(Duration::ZERO).build()));
    assert!(refused(
        SymblAuthLayer::keyed(|_: &CredentialKey| PerKey {
            key: String::new(),
            fetches: AtomicUsize::new(0),
        })
        .build()
    ));
    let plain = || {
        SymblAuthLayer::from_source(PerKey {
            key: String::new(),
            fetches: AtomicUsize::new(0),
        })
        .allow_host("api.symbl.ai")
    };
    assert!(refused(plain().max_keys(10).build()));
    assert!(!refused(keyed().max_keys(1).build()));
}

#[test]
fn a_credential_key_is_cheap_to_clone_and_shows_itself() {
    let key = CredentialKey::new("tenant-42");
    assert_eq!(format!("{key:?}"), r#"CredentialKey("tenant-42")"#);
    assert_eq!(key.clone().as_str(), "tenant-42");
    assert_eq!(key, CredentialKey::from("tenant-42".to_owned()));
}
