//! A keyed layer's hot path reads a copy of each key's token kept in the map itself; these
//! pin that the copy follows its key's cache: a token rejected with a 401 is not sent again
//! while the next one is fetched, a token past its refresh time starts a refresh, and a
//! refresh cut off with its runtime is started again in the next.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use symbl_auth::{
    AccessToken, CredentialKey, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource,
};
use tokio::runtime::{Builder, Runtime};
use tower::{service_fn, Layer, ServiceExt};

/// Grants `<key>-1`, `<key>-2`, … for `lifetime`; every fetch after the first takes a second.
#[derive(Debug)]
struct Numbered {
    key: String,
    fetches: Arc<AtomicU32>,
    lifetime: Duration,
}

impl TokenSource for Numbered {
    fn fetch_token(&self) -> TokenFuture<'_> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("{}-{n}", self.key);
        let lifetime = self.lifetime;
        Box::pin(async move {
            if n > 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            AccessToken::new(&token, lifetime)
        })
    }
}

/// The `Authorization` values an API saw, or is to refuse.
type Tokens = Arc<Mutex<Vec<String>>>;

/// A keyed layer whose key `a` counts its fetches into the returned counter, and an API that
/// records every token it sees and refuses those in `refused`.
fn setup(lifetime: Duration) -> (SymblAuthLayer, Arc<AtomicU32>, Tokens, Tokens) {
    let fetches = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&fetches);
    let layer = SymblAuthLayer::keyed(move |key: &CredentialKey| Numbered {
        key: key.as_str().to_owned(),
        fetches: if key.as_str() == "a" {
            Arc::clone(&counted)
        } else {
            Arc::default()
        },
        lifetime,
    })
    .allow_host("api.example.com")
    .build()
    .expect("layer");
    (layer, fetches, Arc::default(), Arc::default())
}

async fn send(
    layer: &SymblAuthLayer,
    key: &str,
    seen: &Tokens,
    refused: &Tokens,
) -> (StatusCode, String) {
    let (seen, refused) = (Arc::clone(seen), Arc::clone(refused));
    let api = service_fn(move |request: Request<ReplayBody<String>>| {
        let token = request.headers()["authorization"]
            .to_str()
            .expect("a header of ASCII")
            .to_owned();
        seen.lock().expect("seen").push(token.clone());
        let refuse = refused.lock().expect("refused").contains(&token);
        let status = if refuse {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        let mut response = Response::new(token);
        *response.status_mut() = status;
        async move { Ok::<_, Infallible>(response) }
    });
    let mut request = Request::get("https://api.example.com/v1")
        .body(String::new())
        .expect("request");
    request.extensions_mut().insert(CredentialKey::new(key));
    let response = layer.layer(api).oneshot(request).await.expect("call");
    (response.status(), response.into_body())
}

fn count(seen: &Mutex<Vec<String>>, token: &str) -> usize {
    seen.lock()
        .expect("seen")
        .iter()
        .filter(|t| *t == token)
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_with_a_401_is_not_sent_again_while_the_next_is_fetched() {
    let (layer, fetches, seen, refused) = setup(Duration::from_secs(3600));
    assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
    assert_eq!(send(&layer, "b", &seen, &refused).await.1, "Bearer b-1");
    refused.lock().expect("refused").push("Bearer a-1".into());

    // The first call meets the 401, and waits a second for `a-2`.
    let first = tokio::spawn({
        let (layer, seen, refused) = (layer.clone(), Arc::clone(&seen), Arc::clone(&refused));
        async move { send(&layer, "a", &seen, &refused).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count(&seen, "Bearer a-1"), 2, "the first call was refused");
    // Meanwhile, the next calls of `a` wait for the same fetch; `b` is untouched.
    let second = send(&layer, "a", &seen, &refused).await;
    assert_eq!(second, (StatusCode::OK, "Bearer a-2".to_owned()));
    assert_eq!(
        first.await.expect("first call"),
        (StatusCode::OK, "Bearer a-2".to_owned())
    );
    assert_eq!(send(&layer, "b", &seen, &refused).await.1, "Bearer b-1");

    assert_eq!(
        count(&seen, "Bearer a-1"),
        2,
        "a-1 sent again after its 401"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_token_past_its_refresh_time_starts_one_refresh_and_stays_in_use() {
    // An hour's token: refreshed ahead (the default window, 5 minutes), stale 30 s before expiry.
    let (layer, fetches, seen, refused) = setup(Duration::from_secs(3600));
    assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
    tokio::time::sleep(Duration::from_secs(3400)).await;
    // Past the refresh time: the token is still sent while the refresh runs (a second).
    for _ in 0..5 {
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one refresh started");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-2");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

/// A runtime of paused time; timers only: the source and the API here are in memory.
fn paused() -> Runtime {
    let mut builder = Builder::new_current_thread();
    builder.enable_time().start_paused(true);
    builder.build().expect("runtime")
}

#[test]
fn a_keyed_refresh_cut_off_by_its_runtime_is_started_again_in_the_next() {
    let (layer, fetches, seen, refused) = setup(Duration::from_secs(3600));
    let runtime_a = paused();
    runtime_a.block_on(async {
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
        // Past the refresh time: this call starts a refresh whose task never runs, and the
        // token is kept in use until its stale time.
        tokio::time::advance(Duration::from_secs(3400)).await;
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
    });
    drop(runtime_a);
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the refresh's task never ran"
    );

    // This runtime's clock starts an hour earlier than the first's ended. The refresh is lost,
    // so the map's copy must not keep saying "fresh until the stale time": the next call past
    // the refresh time has to start it again.
    let runtime_b = paused();
    runtime_b.block_on(async {
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(3400)).await;
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-1");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "the refresh ran in this runtime"
        );
        assert_eq!(send(&layer, "a", &seen, &refused).await.1, "Bearer a-2");
    });
}
