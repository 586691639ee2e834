//! What the fleet's store holds (feature `redis`), on a real `redis-server`: entries written by
//! hand are refused, nothing stored shows a secret, and which sources can be sealed: with a
//! secret of their own (a client secret, a private key), or with the app's seal key.
#![cfg(all(feature = "redis", feature = "test-server"))]

mod peers;
mod support;

use std::time::Duration;

use base64::Engine as _;
use symbl_auth::test_server::{FakeSymbl, TestServer, TEST_APP_ID, TEST_APP_SECRET};
use symbl_auth::{Credentials, SymblAuthLayer};

use support::fleet::*;
use support::redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_by_hand_are_refused_never_sent_and_overwritten() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (first, plan) = members(1, &redis, &server);
    all_at_once(&first, &plan).await.expect("call");
    let (key, _) = token_key(&redis);

    // A token sealed under another credential, moved to this credential's key.
    let other = TestServer::serve(
        FakeSymbl::new().credentials(Credentials::new("other-app", "other-secret")),
    )
    .await
    .expect("server");
    let foreign_layer = other
        .layer_builder()
        .shared_store(store(&redis.url()))
        .build()
        .expect("layer");
    foreign_layer.access_token().await.expect("token");
    let foreign = redis
        .dump()
        .into_iter()
        .find(|(k, _)| *k != key && !k.ends_with(":lease"))
        .expect("the other credential's entry")
        .1;

    let planted_token = "fake-token-planted";
    let plants: [(&str, Vec<u8>); 3] = [
        ("a plain token", planted_token.as_bytes().to_vec()),
        ("an entry sealed under another credential", foreign),
        ("garbage", vec![0xA5; 200]),
    ];
    for (n, (what, value)) in plants.into_iter().enumerate() {
        redis.set(&key, &value, Duration::from_secs(3_600));
        let (fresh, _) = members(1, &redis, &server);
        let token = fresh[0].layer.access_token().await.expect("token");
        assert_ne!(token.secret(), planted_token, "{what}: sent");
        assert!(
            server.symbl().is_authorized(Some(token.header_value())),
            "{what}: a real token"
        );
        assert_eq!(
            server.symbl().token_requests(),
            2 + n,
            "{what}: refused, so fetched"
        );
        let now = redis.get(&key).expect("an entry");
        assert_ne!(now, value, "{what}: overwritten");
        // The calls made with it reach the API with a token it accepts.
        all_at_once(&fresh, &plan).await.expect("call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_value_shows_the_token_or_the_secret() {
    let redis = RedisServer::start();
    let server = TestServer::start().await.expect("server");
    let (members, plan) = members(2, &redis, &server);
    all_at_once(&members, &plan).await.expect("calls");
    let token = members[0].layer.access_token().await.expect("token");
    let token = token.secret().to_owned();
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut needles = vec![
        token.clone(),
        TEST_APP_SECRET.to_owned(),
        "fake-token".to_owned(),
    ];
    for secret in [&token, &TEST_APP_SECRET.to_owned()] {
        for engine in &engines {
            // Base64 of the whole, and of it at each offset mod 3 (as inside a longer text).
            for skip in 0..3 {
                let encoded = engine.encode(&secret.as_bytes()[skip..]);
                needles.push(encoded[4..encoded.len() - 4].to_owned());
            }
        }
    }
    let dump = redis.dump();
    assert!(!dump.is_empty());
    for (key, value) in dump {
        for needle in &needles {
            let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found(key.as_bytes()), "key {key} shows a secret");
            assert!(!found(&value), "the value of {key} shows a secret");
        }
        assert!(!key.contains(TEST_APP_ID), "the key is a fingerprint");
    }
}

#[tokio::test]
async fn a_source_that_cannot_say_what_determines_its_tokens_is_not_shared() {
    let source = support::ScriptedSource::new(FakeSymbl::new());
    let error = SymblAuthLayer::from_source(source)
        .allow_host("api.example.com")
        .shared_store(store("redis://127.0.0.1:1"))
        .build()
        .expect_err("refused");
    assert!(error.to_string().contains("cache_key"), "{error}");
}

/// Two layers of one OAuth2 client, each with a store connection of its own, and how many
/// token requests they made between them.
#[cfg(all(tls_rustls, not(tls_provider = "installed")))]
mod oauth2 {
    use symbl_auth::oauth2::{AuthMethod, ClientAssertion, ClientCredentials, PrivateKey};
    use symbl_auth::store::RedisStore;
    use symbl_auth::Error;

    use super::peers::{Reply, TokenEndpoint};
    use super::*;

    async fn two_layers(
        method: impl Fn() -> AuthMethod,
        store: impl Fn() -> RedisStore,
    ) -> Result<usize, Error> {
        let endpoint = TokenEndpoint::start(Reply::token("the-token", 3_600)).await;
        for _ in 0..2 {
            let source =
                ClientCredentials::new(endpoint.url("/token"), "client", "").auth_method(method());
            let layer = SymblAuthLayer::from_source(source)
                .allow_host("api.example.com")
                .shared_store(store())
                .build()?;
            layer.access_token().await.expect("a token");
        }
        Ok(endpoint.requests())
    }

    fn private_key() -> AuthMethod {
        let pem = include_str!("keys/es256.pem");
        AuthMethod::PrivateKeyJwt(PrivateKey::from_pem(pem).expect("key"))
    }

    fn assertion() -> AuthMethod {
        AuthMethod::ClientAssertion(ClientAssertion::from_fn(|_| async {
            Ok("a.signed.assertion".to_owned())
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_private_key_client_shares_sealed_under_its_key() {
        let redis = RedisServer::start();
        let store = || store(&redis.url());
        assert_eq!(two_layers(private_key, store).await.expect("built"), 1);
        // Another key, the same client: another entry, its own token request.
        let other = || {
            let pem = include_str!("keys/eddsa.pem");
            AuthMethod::PrivateKeyJwt(PrivateKey::from_pem(pem).expect("key"))
        };
        let key_count = redis.dump().len();
        two_layers(other, store).await.expect("built");
        assert_eq!(redis.dump().len(), key_count + 1, "an entry of its own");
        let pem = include_str!("keys/es256.pem");
        for (key, value) in redis.dump() {
            assert!(!key.contains("client"), "{key}");
            assert!(!String::from_utf8_lossy(&value).contains("the-token"));
            assert!(!String::from_utf8_lossy(&value).contains(&pem[40..80]));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_assertion_made_outside_shares_only_with_the_apps_seal_key() {
        let redis = RedisServer::start();
        let plain = || store(&redis.url());
        let error = two_layers(assertion, plain)
            .await
            .expect_err("nothing to seal under");
        assert!(
            error.to_string().contains("RedisStore::seal_key"),
            "{error}"
        );
        let keyed = || plain().seal_key([0x5e; 32]).expect("32 bytes");
        assert_eq!(two_layers(assertion, keyed).await.expect("built"), 1);
        for (key, value) in redis.dump() {
            assert!(
                !String::from_utf8_lossy(&value).contains("the-token"),
                "{key}"
            );
        }
    }
}
