//! DPoP on API requests (RFC 9449 §7, §9) beyond the tower service's usual request: requests
//! without an origin (`dpop_origin`), the reqwest middleware, keyed layers, and tokens shared
//! through Redis; against oidc-provider and its resource server on loopback, which checks
//! each proof itself.
#![cfg(all(feature = "test-server", tls_rustls, not(tls_provider = "installed")))]

mod dpop_api;
mod oidc_server;
mod support;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use serde_json::json;
use symbl_auth::oauth2::{AuthMethod, ClientCredentials};
use symbl_auth::SymblAuthLayer;
use tower::{Layer, Service, ServiceExt};

use dpop_api::*;
use support::*;

/// Sends every request to `origin`, as a tonic `Channel` does below the layer.
#[derive(Clone)]
struct AddOrigin<S> {
    inner: S,
    origin: Uri,
}

impl<S, B> Service<Request<B>> for AddOrigin<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        let mut parts = self.origin.clone().into_parts();
        parts.path_and_query = request.uri().path_and_query().cloned();
        *request.uri_mut() = Uri::from_parts(parts).expect("uri");
        self.inner.call(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_origin_needs_dpop_origin_and_nothing_is_guessed() {
    let server = start(json!({}));
    let origin: Uri = server.issuer().parse().expect("issuer");
    let channel = AddOrigin {
        inner: http1_client::<Full<Bytes>>(),
        origin,
    };
    let path_only = || get("/api/items?x=1");
    // Without the setting: a clear error, and nothing reaches the server.
    let without = layer(&server, key("es256")).layer(channel.clone());
    let error = without.oneshot(path_only()).await.expect_err("no origin");
    let error = auth_error(&error);
    assert!(matches!(error, symbl_auth::Error::InvalidConfig { .. }));
    assert!(error.to_string().contains("dpop_origin"), "{error}");
    assert_eq!(server.stats().await["api_requests"], 0);
    // With it: proofs name that origin.
    let source = ClientCredentials::new(server.url("/token"), "dpop-api", "")
        .auth_method(AuthMethod::PrivateKeyJwt(key("es256")))
        .scope("read")
        .dpop(key("es256"));
    let with = SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .dpop_origin(format!("{}/", server.issuer()))
        .build()
        .expect("layer")
        .layer(channel);
    let response = with.oneshot(path_only()).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.stats().await["api_ok"], 1);
}

#[cfg(feature = "reqwest-middleware")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_clients_send_proofs_and_answer_the_nonce_the_same_way() {
    use symbl_auth::SymblAuthMiddleware;
    let server = start(json!({ "requireApiNonce": true, "apiNonceEvery": 3 }));
    let layer = layer(&server, key("eddsa"));
    let client = reqwest_middleware::ClientBuilder::new(server.http().clone())
        .with(SymblAuthMiddleware::from(layer.clone()))
        .build();
    for n in 0..6 {
        let response = client
            .post(server.url(&format!("/api/{n}?q=1")))
            .body("abc")
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["body_bytes"], 3);
    }
    let stats = layer.stats();
    assert_eq!((stats.token_requests, stats.dpop_nonce_retries), (1, 1));
    assert_eq!(unauthorized(&server.stats().await), ["use_dpop_nonce"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_layer_proves_each_keys_requests_with_its_own_key() {
    use symbl_auth::CredentialKey;
    let server = start(json!({ "requireApiNonce": true }));
    let token_url = server.url("/token");
    let layer = SymblAuthLayer::keyed(move |key: &CredentialKey| {
        let dpop_key = if key.as_str() == "ed" {
            "eddsa"
        } else {
            "es256"
        };
        ClientCredentials::new(token_url.clone(), "dpop-api", "")
            .auth_method(AuthMethod::PrivateKeyJwt(self::key("es256")))
            .scope("read")
            .dpop(self::key(dpop_key))
    })
    .allow_host("127.0.0.1")
    .build()
    .expect("layer");
    let service = api(&layer);
    for tenant in ["ed", "ec", "ed", "ec"] {
        let mut request = get(&server.url("/api"));
        request.extensions_mut().insert(CredentialKey::new(tenant));
        let (status, body) = send(&service, request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let expected = key(if tenant == "ed" { "eddsa" } else { "es256" });
        assert_eq!(body["jkt"], expected.thumbprint(), "{tenant}'s own key");
    }
    let stats = layer.stats();
    // One nonce per origin, learnt by the first request whichever key made it.
    assert_eq!((stats.token_requests, stats.dpop_nonce_retries), (2, 1));
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_token_shared_through_redis_is_bound_again_in_every_process() {
    use support::redis_server::RedisServer;
    use symbl_auth::store::RedisStore;
    let redis = RedisServer::start();
    let server = start(json!({}));
    let store = RedisStore::new(&redis.url()).expect("store");
    // Two processes' layers with the same credential and DPoP key.
    let layers: Vec<_> = (0..2)
        .map(|_| {
            let source = ClientCredentials::new(server.url("/token"), "dpop-api", "")
                .auth_method(AuthMethod::PrivateKeyJwt(key("es256")))
                .scope("read")
                .dpop(key("eddsa"));
            SymblAuthLayer::from_source(source)
                .allow_host("127.0.0.1")
                .shared_store(store.clone())
                .build()
                .expect("layer")
        })
        .collect();
    for layer in &layers {
        let (status, body) = send(&api(layer), get(&server.url("/api"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["jkt"], key("eddsa").thumbprint());
    }
    // One token request fleet-wide; the second layer's token came from Redis and went out as
    // `DPoP` with a proof the resource server accepted.
    assert_eq!(server.stats().await["token_requests"], 1);
    assert_eq!(layers[1].stats().token_requests, 0);
    let token = layers[1].access_token().await.expect("token");
    assert_eq!(token.token_type(), "DPoP");
}
