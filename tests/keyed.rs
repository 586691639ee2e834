//! One layer, many credentials (issue 22), over real HTTP on loopback: the fake Symbl accepts
//! a credential per tenant, and an API server checks that each request carried the token of
//! the tenant it named.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use symbl_auth::test_server::{FakeSymbl, TestServer};
use symbl_auth::{
    AccessToken, CredentialKey, Credentials, Error, SymblAuthLayer, SymblTokenSource, TokenFuture,
    TokenSource,
};
use tokio::task::JoinSet;
use tower::Layer;

use support::*;

fn secret_of(tenant: &str) -> String {
    format!("secret-of-{tenant}")
}

fn tenant(n: usize) -> String {
    format!("tenant-{n}")
}

/// A fake Symbl accepting `tenants` (each `tenant-n` with its own secret) and an API server on
/// loopback that answers `/v1/tenants/{tenant}`: 401 for a token that is not current, 409 for
/// one issued to another tenant (counted in `mismatches`), else 200.
struct Tenants {
    tokens: Arc<TestServer>,
    api: RecordingServer,
    mismatches: Arc<AtomicUsize>,
}

impl Tenants {
    async fn start(tenants: usize) -> Self {
        let mut symbl = FakeSymbl::new();
        for n in 0..tenants {
            symbl = symbl.accept(Credentials::new(tenant(n), secret_of(&tenant(n))));
        }
        let tokens = Arc::new(TestServer::serve(symbl.clone()).await.expect("server"));
        let mismatches = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&mismatches);
        let api = RecordingServer::start([127, 0, 0, 1], move |seen: &Seen| {
            let named = seen.uri.path().trim_start_matches("/v1/tenants/");
            if !symbl.is_authorized(seen.authorization.as_ref()) {
                return status(StatusCode::UNAUTHORIZED);
            }
            let token = seen.authorization.as_ref().and_then(|v| v.to_str().ok());
            if symbl.issued_to(token.unwrap_or_default()).as_deref() != Some(named) {
                counted.fetch_add(1, Ordering::SeqCst);
                return status(StatusCode::CONFLICT);
            }
            status(StatusCode::OK)
        })
        .await;
        Self {
            tokens,
            api,
            mismatches,
        }
    }

    /// A keyed layer whose key `tenant-n` fetches with that tenant's credentials, and `wrong`
    /// with a secret nobody accepts.
    fn layer(&self, max_keys: usize) -> SymblAuthLayer {
        let tokens = Arc::clone(&self.tokens);
        SymblAuthLayer::keyed(move |key: &CredentialKey| {
            let secret = match key.as_str() {
                "wrong" => "not-the-secret".to_owned(),
                tenant => secret_of(tenant),
            };
            tokens.token_source(Credentials::new(key.as_str(), secret))
        })
        .allow_host("127.0.0.1")
        .max_keys(max_keys)
        .build()
        .expect("layer")
    }

    /// A request naming `tenant` both as its key and in its path.
    fn request(&self, tenant: &str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
        let mut request = get(&self.api.url(&format!("/v1/tenants/{tenant}")));
        request.extensions_mut().insert(CredentialKey::new(tenant));
        request
    }

    fn token_requests(&self) -> usize {
        self.tokens.symbl().token_requests()
    }
}

/// Within a second, or the test fails: what "does not slow it down" means here.
async fn promptly<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(1), future)
        .await
        .expect("answered within a second")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_burst_for_k_keys_makes_exactly_k_token_requests() {
    const KEYS: usize = 40;
    let tenants = Tenants::start(KEYS).await;
    let layer = tenants.layer(1_000);
    let service = layer.layer(http2_client());
    let mut calls = JoinSet::new();
    for round in 0..25 {
        for n in 0..KEYS {
            let (service, request) = (service.clone(), tenants.request(&tenant(n)));
            let _ = round;
            calls.spawn(async move { status_of(&service, request).await });
        }
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.expect("task").expect("call"), StatusCode::OK);
    }
    assert_eq!(tenants.token_requests(), KEYS);
    assert_eq!(layer.stats().token_requests, KEYS as u64);
    for n in 0..KEYS {
        let stats = layer
            .key_stats(&CredentialKey::new(tenant(n)))
            .expect("kept");
        assert_eq!(stats.token_requests, 1, "{}", tenant(n));
    }
    assert_eq!(tenants.mismatches.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_wrong_credentials_fails_fast_without_slowing_the_others() {
    let tenants = Tenants::start(3).await;
    let layer = tenants.layer(100);
    let service = layer.layer(http2_client());

    let error = status_of(&service, tenants.request("wrong"))
        .await
        .unwrap_err();
    assert!(matches!(
        auth_error(&error),
        Error::InvalidCredentials { .. }
    ));
    // In its cool-down: the same error at once, no new token request.
    for _ in 0..20 {
        let error = promptly(status_of(&service, tenants.request("wrong")))
            .await
            .unwrap_err();
        assert!(matches!(
            auth_error(&error),
            Error::InvalidCredentials { .. }
        ));
    }
    assert_eq!(tenants.token_requests(), 1);
    // The others fetch and answer as if nothing happened.
    for n in 0..3 {
        let status = promptly(status_of(&service, tenants.request(&tenant(n)))).await;
        assert_eq!(status.expect("call"), StatusCode::OK);
    }
    assert_eq!(tenants.token_requests(), 4);
    assert_eq!(layer.stats().token_failures, 1);
}

/// A source that never answers, beside real ones: one key's hung endpoint.
#[derive(Debug)]
enum Tenant {
    Symbl(SymblTokenSource),
    Hung,
}

impl TokenSource for Tenant {
    fn fetch_token(&self) -> TokenFuture<'_> {
        match self {
            Self::Symbl(source) => source.fetch_token(),
            Self::Hung => Box::pin(std::future::pending::<Result<AccessToken, Error>>()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_fetch_independently_of_a_hung_one() {
    let tenants = Tenants::start(2).await;
    let tokens = Arc::clone(&tenants.tokens);
    let layer = SymblAuthLayer::keyed(move |key: &CredentialKey| match key.as_str() {
        "hung" => Tenant::Hung,
        tenant => Tenant::Symbl(tokens.token_source(Credentials::new(tenant, secret_of(tenant)))),
    })
    .allow_host("127.0.0.1")
    .build()
    .expect("layer");
    let service = layer.layer(http2_client());
    let hung = tokio::spawn({
        let (service, request) = (service.clone(), tenants.request("hung"));
        async move { status_of(&service, request).await }
    });
    until(|| layer.cached_keys() == 1).await;
    for n in 0..2 {
        let status = promptly(status_of(&service, tenants.request(&tenant(n)))).await;
        assert_eq!(status.expect("call"), StatusCode::OK);
    }
    assert!(!hung.is_finished());
    hung.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_for_one_key_never_touches_another_keys_token() {
    let tenants = Tenants::start(2).await;
    let layer = tenants.layer(100);
    let service = layer.layer(http2_client());
    let (a, b) = (tenant(0), tenant(1));
    for tenant in [&a, &b] {
        assert_eq!(
            answered(&service, tenants.request(tenant)).await,
            StatusCode::OK
        );
    }
    let b_token = layer
        .access_token_for(&CredentialKey::new(&*b))
        .await
        .expect("b");

    tenants.tokens.symbl().revoke_tokens_of(&a);
    assert_eq!(
        answered(&service, tenants.request(&a)).await,
        StatusCode::OK
    );

    let a_stats = layer.key_stats(&CredentialKey::new(&*a)).expect("a kept");
    assert_eq!((a_stats.token_requests, a_stats.retries), (2, 1));
    let b_stats = layer.key_stats(&CredentialKey::new(&*b)).expect("b kept");
    assert_eq!((b_stats.token_requests, b_stats.refreshes), (1, 0));
    let b_now = layer
        .access_token_for(&CredentialKey::new(&*b))
        .await
        .expect("b");
    assert_eq!(b_now.secret(), b_token.secret());
    assert_eq!(
        answered(&service, tenants.request(&b)).await,
        StatusCode::OK
    );
    assert_eq!(tenants.token_requests(), 3);
    assert_eq!(tenants.mismatches.load(Ordering::SeqCst), 0);
}

/// Hundreds of keys over a bound of 64, thousands of requests at once, with revocations,
/// forced 401s and cancelled calls interleaved: every request the API saw carried its own
/// tenant's token, and the layer never kept more than its bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_ever_carries_another_keys_token() {
    const KEYS: usize = 300;
    const MAX_KEYS: usize = 64;
    const REQUESTS: usize = 4_000;
    let tenants = Arc::new(Tenants::start(KEYS).await);
    let layer = tenants.layer(MAX_KEYS);
    let service = layer.layer(http2_client());
    let mut rng = SeededRng::new(22);
    let mut calls = JoinSet::new();
    let mut most_kept = 0;
    for i in 0..REQUESTS {
        // Skewed toward a hot set, so both hits and evictions happen.
        let n = if rng.below(4) == 0 {
            rng.below(KEYS as u64) as usize
        } else {
            rng.below(48) as usize
        };
        let (service, request) = (service.clone(), tenants.request(&tenant(n)));
        if i % 7 == 0 {
            // Cancelled at some point of its path: before or after its token or its answer.
            let after = Duration::from_micros(rng.below(3_000));
            calls.spawn(async move {
                let _ = tokio::time::timeout(after, status_of(&service, request)).await;
                StatusCode::OK
            });
        } else {
            calls.spawn(async move { status_of(&service, request).await.expect("call") });
        }
        if i % 97 == 0 {
            tenants
                .tokens
                .symbl()
                .revoke_tokens_of(&tenant(rng.below(48) as usize));
        }
        if i % 211 == 0 {
            tenants.tokens.symbl().reject_api_requests(1);
        }
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
        most_kept = most_kept.max(layer.cached_keys());
    }
    let mut statuses = [0usize; 3];
    while let Some(status) = calls.join_next().await {
        match status.expect("task") {
            StatusCode::OK => statuses[0] += 1,
            // A forced 401 can meet a token that no newer one replaces yet.
            StatusCode::UNAUTHORIZED => statuses[1] += 1,
            other => panic!("unexpected {other}"),
        }
        most_kept = most_kept.max(layer.cached_keys());
    }
    assert_eq!(tenants.mismatches.load(Ordering::SeqCst), 0);
    assert!(most_kept <= MAX_KEYS, "kept {most_kept} keys");
    assert!(statuses[0] > REQUESTS / 2, "{statuses:?}");
    // The layer's sums keep evicted keys' counts: at least every token request the server
    // saw (a fetch abandoned with its evicted key and cancelled callers may never arrive).
    assert!(layer.stats().token_requests >= tenants.token_requests() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_call_does_not_cancel_its_keys_fetch() {
    let tenants = Tenants::start(1).await;
    tenants.tokens.symbl().fail_token_requests(
        symbl_auth::test_server::TokenFault::SlowDrip {
            interval: Duration::from_millis(20),
        },
        1,
    );
    let layer = tenants.layer(10);
    let service = layer.layer(http2_client());
    let key = CredentialKey::new(tenant(0));
    let dropped = tokio::time::timeout(
        Duration::from_millis(5),
        status_of(&service, tenants.request(&tenant(0))),
    )
    .await;
    assert!(dropped.is_err(), "the call was dropped while its fetch ran");
    // The fetch runs on (its answer still dripping in, a byte per 20 ms, for a second and
    // more): give a fetch that would stop with its last caller the time to, then the next
    // call takes its token.
    assert!(layer.key_stats(&key).is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        answered(&service, tenants.request(&tenant(0))).await,
        StatusCode::OK
    );
    assert_eq!(tenants.token_requests(), 1);
    assert_eq!(tenants.mismatches.load(Ordering::SeqCst), 0);
}

#[cfg(feature = "reqwest-middleware")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_takes_the_key_from_the_requests_extensions() {
    let tenants = Tenants::start(3).await;
    let layer = tenants.layer(100);
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(symbl_auth::SymblAuthMiddleware::from(layer.clone()))
        .build();
    for n in [0, 1, 2, 1, 0] {
        let url = tenants.api.url(&format!("/v1/tenants/{}", tenant(n)));
        let response = client
            .get(&url)
            .with_extension(CredentialKey::new(tenant(n)))
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(tenants.token_requests(), 3);
    assert_eq!(tenants.mismatches.load(Ordering::SeqCst), 0);
    let seen_before = tenants.api.seen().len();
    let error = client
        .get(tenants.api.url("/v1/tenants/none"))
        .send()
        .await
        .unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("expected the middleware's error, got {error:?}");
    };
    assert!(
        matches!(
            error.downcast_ref(),
            Some(Error::MissingCredentialKey { .. })
        ),
        "{error:?}"
    );
    assert_eq!(tenants.api.seen().len(), seen_before, "nothing sent");
}

#[cfg(feature = "websocket")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_handshake_takes_the_key_from_its_requests_extensions() {
    let tenants = Tenants::start(2).await;
    let layer = tenants.layer(100);
    let url = tenants.tokens.streaming_url("keyed");
    let mut request = http::Request::get(url.as_str()).body(()).expect("request");
    request
        .extensions_mut()
        .insert(CredentialKey::new(tenant(1)));
    let (_socket, response) = symbl_auth::websocket::connect(&layer, request)
        .await
        .expect("connect");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let stats = layer
        .key_stats(&CredentialKey::new(tenant(1)))
        .expect("kept");
    assert_eq!(stats.token_requests, 1);
    assert_eq!(tenants.tokens.symbl().handshakes_accepted(), 1);

    let error = symbl_auth::websocket::connect(&layer, url.as_str())
        .await
        .unwrap_err();
    assert!(matches!(
        error.downcast_ref::<Error>(),
        Some(Error::MissingCredentialKey { .. })
    ));
    assert_eq!(tenants.tokens.symbl().handshakes_accepted(), 1);
}
