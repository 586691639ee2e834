//! What the DPoP tests share: oidc-provider with a DPoP-bound client, layers over a real
//! hyper-util client, and the resource server's counters.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials, PrivateKey};
use symbl_auth::{SymblAuth, SymblAuthLayer};
use tower::{Layer, Service, ServiceExt};

use crate::oidc_server::{key_file, OidcServer};
use crate::support::{http1_client, HttpClient};

pub fn key(name: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(key_file(&format!("{name}.pem"))).expect("key file");
    PrivateKey::from_pem(pem).expect("key")
}

/// A client whose tokens are bound to a DPoP key; it authenticates with private_key_jwt.
pub fn registered() -> Value {
    json!({
        "client_id": "dpop-api",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "private_jwk": key_file("es256.jwk"),
        "dpop_bound_access_tokens": true,
        "scope": "read",
    })
}

pub fn start(config: Value) -> OidcServer {
    let mut config = config;
    config["clients"] = json!([registered()]);
    OidcServer::start(config)
}

pub fn layer(server: &OidcServer, dpop_key: PrivateKey) -> SymblAuthLayer {
    let source = ClientCredentials::new(server.url("/token"), "dpop-api", "")
        .auth_method(AuthMethod::PrivateKeyJwt(key("es256")))
        .scope("read")
        .dpop(dpop_key);
    SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .build()
        .expect("layer")
}

pub type Api = SymblAuth<HttpClient>;

pub fn api(layer: &SymblAuthLayer) -> Api {
    layer.layer(http1_client())
}

/// Sends `request` and returns its status and JSON body.
pub async fn send<S>(service: &S, request: Request<Full<Bytes>>) -> (StatusCode, Value)
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<hyper::body::Incoming>> + Clone,
    S::Error: std::fmt::Debug,
{
    let response = service.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub fn unauthorized(stats: &Value) -> Vec<String> {
    let seen = stats["api_unauthorized"].as_array().expect("list");
    seen.iter()
        .map(|s| s.as_str().unwrap_or("").to_owned())
        .collect()
}
