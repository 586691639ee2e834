//! The token store's seal where the features bring no crypto provider (`redis` alone, or with
//! `native-tls`): `build` says what to do, a provider given to the store serves, and so does
//! one the app installs for the process (this test binary installs one, so it has a binary of
//! its own).
#![cfg(all(
    feature = "redis",
    not(any(tls_provider = "aws-lc-rs", tls_provider = "ring"))
))]

use std::sync::Arc;
use std::time::Duration;

use symbl_auth::store::RedisStore;
use symbl_auth::{AccessToken, CacheKey, Error, SymblAuthLayer, TokenFuture, TokenSource};

/// A source that says what determines its tokens (it is never asked for one here).
#[derive(Debug)]
struct Determined;

impl TokenSource for Determined {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async { AccessToken::new("t", Duration::from_secs(60)) })
    }

    fn cache_key(&self) -> Option<symbl_auth::CacheKey> {
        Some(CacheKey::new("the-secret").part("source", "test"))
    }
}

fn build(store: RedisStore) -> Result<SymblAuthLayer, Error> {
    SymblAuthLayer::from_source(Determined)
        .allow_host("api.example.com")
        .shared_store(store)
        .build()
}

fn store() -> RedisStore {
    RedisStore::new("redis://127.0.0.1:1").expect("url")
}

#[tokio::test]
async fn without_a_provider_build_says_how_to_give_one_and_either_way_serves() {
    let error = build(store()).expect_err("no provider");
    let keyed = SymblAuthLayer::keyed(|_| Determined)
        .allow_host("api.example.com")
        .shared_store(store())
        .build()
        .expect_err("no provider for a keyed layer either");
    assert_eq!(keyed.to_string(), error.to_string());
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("install_default"), "{text}");
    assert!(text.contains("RedisStore::crypto_provider"), "{text}");

    let given = store().crypto_provider(Arc::new(rustls::crypto::ring::default_provider()));
    build(given).expect("a provider given to the store");

    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("the first install in this process");
    build(store()).expect("the process default");
}
