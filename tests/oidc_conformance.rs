//! `oauth2::ClientCredentials` at the security profiles of RFC 7523 (client assertions),
//! against oidc-provider (OpenID-certified, FAPI 2.0 profiles included) on loopback
//! (`tests/oidc_server/`): the server checks every assertion's signature, claims and `jti`
//! itself. Counts come from the server's `/stats`.
// The crypto (signing, hashing, randomness) comes from the rustls provider of the feature in
// use; under rustls-no-provider alone the app installs one (tests/installed_provider.rs).
#![cfg(all(feature = "test-server", tls_rustls, not(tls_provider = "installed")))]

mod oidc_server;
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use http::StatusCode;
use oidc_server::{key_file, OidcServer};
use serde_json::{json, Value};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials, ClientIdentity, PrivateKey};
use symbl_auth::{Error, SymblAuthLayer, TokenSource};
use tower::{Layer, ServiceExt};

use support::*;

/// client_secret_jwt's secret: HS256 wants 32 bytes or more (RFC 7518 §3.2).
const SECRET: &str = "a-client-secret-of-more-than-32-bytes";

/// The log of every test in this binary, checked for secrets.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(Captured::install)
}

fn key(name: &str) -> PrivateKey {
    let pem = std::fs::read_to_string(key_file(&format!("{name}.pem"))).expect("key file");
    PrivateKey::from_pem(pem).expect("key")
}

fn jwk_key(name: &str) -> PrivateKey {
    let jwk = std::fs::read_to_string(key_file(&format!("{name}.jwk"))).expect("key file");
    PrivateKey::from_jwk(jwk).expect("key")
}

/// A client registered for `method`, with the key of `key_name` for private_key_jwt.
fn client(id: &str, method: &str, alg: Option<&str>, key_name: Option<&str>) -> Value {
    let mut client = json!({
        "client_id": id,
        "client_secret": SECRET,
        "token_endpoint_auth_method": method,
        "scope": "read write",
    });
    if let Some(alg) = alg {
        client["token_endpoint_auth_signing_alg"] = Value::from(alg);
    }
    if let Some(name) = key_name {
        client["private_jwk"] = Value::from(key_file(&format!("{name}.jwk")));
    }
    client
}

/// Every method, with the client registered for it.
fn methods() -> Vec<(Value, AuthMethod)> {
    vec![
        (
            client("basic", "client_secret_basic", None, None),
            AuthMethod::ClientSecretBasic,
        ),
        (
            client("post", "client_secret_post", None, None),
            AuthMethod::ClientSecretPost,
        ),
        (
            client("hs256", "client_secret_jwt", Some("HS256"), None),
            AuthMethod::ClientSecretJwt,
        ),
        (
            client("es256", "private_key_jwt", Some("ES256"), Some("es256")),
            AuthMethod::PrivateKeyJwt(key("es256")),
        ),
        (
            {
                let mut client = client("eddsa", "private_key_jwt", Some("EdDSA"), Some("eddsa"));
                client["key_id"] = Value::from("ed-1");
                client
            },
            AuthMethod::PrivateKeyJwt(key("eddsa").key_id("ed-1")),
        ),
        (
            client("rs256", "private_key_jwt", Some("RS256"), Some("rs256")),
            AuthMethod::PrivateKeyJwt(key("rs256")),
        ),
        (
            client("ps256", "private_key_jwt", Some("PS256"), Some("rs256")),
            AuthMethod::PrivateKeyJwt(jwk_key("rs256").ps256().expect("RSA")),
        ),
        (
            client("es256-jwk", "private_key_jwt", Some("ES256"), Some("es256")),
            AuthMethod::PrivateKeyJwt(jwk_key("es256")),
        ),
    ]
}

fn source(server: &OidcServer, client: &Value, method: AuthMethod) -> ClientCredentials {
    let secret = match method {
        // No secret is needed, nor sent.
        AuthMethod::PrivateKeyJwt(_) => "",
        _ => SECRET,
    };
    ClientCredentials::new(
        server.url("/token"),
        client["client_id"].as_str().expect("id"),
        secret,
    )
    .scope("read")
    .auth_method(method)
}

#[tokio::test]
async fn every_client_authentication_method_gets_tokens_again_and_again() {
    logs();
    let methods = methods();
    let clients: Vec<Value> = methods.iter().map(|(client, _)| client.clone()).collect();
    let server = OidcServer::start(json!({ "clients": clients }));
    for (client, method) in &methods {
        let name = method.name();
        let source = source(&server, client, method.clone());
        // Two fetches in a row: each with a new assertion, so neither is a replay.
        for _ in 0..2 {
            let token = source
                .fetch_token()
                .await
                .unwrap_or_else(|err| panic!("{} ({name}): {err}", client["client_id"]));
            assert!(token.expires_in() > Duration::from_secs(3500));
        }
        // And through a layer, to the resource server, which checks the token.
        let layer = SymblAuthLayer::from_source(source)
            .allow_host("127.0.0.1")
            .token_retry_budget(Duration::from_secs(1))
            .build()
            .expect("layer");
        let service = layer.layer(http1_client());
        let response = service
            .oneshot(support::get(&server.url("/api")))
            .await
            .expect("call");
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let body: Value = serde_json::from_str(&body_text(response).await).expect("JSON");
        assert_eq!(body["client_id"], client["client_id"]);
        assert_eq!(body["scope"], "read");
    }
    let stats = server.stats().await;
    assert_eq!(stats["token_errors"], json!([]), "{stats}");
    assert_eq!(stats["token_requests"], 3 * methods.len());
    let used: Vec<&str> = methods.iter().map(|(_, method)| method.name()).collect();
    let mut expected = Vec::new();
    for name in used {
        expected.extend([name; 3]);
    }
    assert_eq!(stats["auth_methods"], json!(expected));
    // Each JWT method's three fetches carried three different assertions.
    let jtis: Vec<&str> = stats["assertion_jtis"]
        .as_array()
        .expect("jtis")
        .iter()
        .map(|jti| jti.as_str().expect("jti"))
        .collect();
    assert_eq!(jtis.len(), 3 * 6);
    let unique: std::collections::HashSet<&&str> = jtis.iter().collect();
    assert_eq!(unique.len(), jtis.len(), "a jti was sent twice: {jtis:?}");
    // A private_key_jwt request sends the assertion and no secret.
    assert_eq!(
        stats["last_token_form"],
        json!([
            "client_assertion",
            "client_assertion_type",
            "client_id",
            "grant_type",
            "scope"
        ])
    );
    let text = logs().text();
    assert!(!text.contains(SECRET), "the secret leaked into the log");
}

#[tokio::test]
async fn a_key_the_server_does_not_hold_is_invalid_credentials_naming_invalid_client() {
    logs();
    let registered = client("es256", "private_key_jwt", Some("ES256"), Some("es256"));
    let server = OidcServer::start(json!({ "clients": [registered] }));
    // Signed with another key (the Ed25519 one), and with the right kind of key but the wrong
    // algorithm for the registration.
    for wrong in [key("eddsa"), key("rs256")] {
        let source = source(&server, &registered, AuthMethod::PrivateKeyJwt(wrong));
        let error = source.fetch_token().await.unwrap_err();
        assert!(matches!(error, Error::InvalidCredentials { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains("invalid_client"), "{text}");
        assert!(text.contains("private_key_jwt"), "{text}");
    }
    let stats = server.stats().await;
    assert_eq!(
        stats["token_errors"],
        json!(["invalid_client", "invalid_client"])
    );
}

/// A client whose tokens must be bound to a DPoP key.
fn dpop_client(id: &str) -> Value {
    let mut client = client(id, "private_key_jwt", Some("ES256"), Some("es256"));
    client["dpop_bound_access_tokens"] = Value::Bool(true);
    client
}

/// Calls the resource server with a DPoP-bound token and a proof made with `key`.
async fn call_api(server: &OidcServer, key: &PrivateKey, token: &symbl_auth::AccessToken) -> Value {
    let url = server.url("/api?x=1");
    let proof = key
        .dpop_proof("GET", &url, Some(token.secret()), None)
        .expect("proof");
    let response = server
        .http()
        .get(&url)
        .header("authorization", token.header_value().clone())
        .header("dpop", proof)
        .send()
        .await
        .expect("api");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn dpop_binds_tokens_to_each_kind_of_key_with_and_without_nonces() {
    logs();
    for require_nonce in [false, true] {
        let server = OidcServer::start(json!({
            "clients": [dpop_client("dpop")],
            "requireNonce": require_nonce,
        }));
        let registered = dpop_client("dpop");
        let mut fetches = 0;
        for dpop_key in [
            key("es256"),
            key("eddsa"),
            key("rs256"),
            jwk_key("rs256").ps256().expect("RSA"),
        ] {
            let source = source(
                &server,
                &registered,
                AuthMethod::PrivateKeyJwt(key("es256")),
            )
            .dpop(dpop_key.clone());
            for _ in 0..2 {
                let token = source.fetch_token().await.unwrap_or_else(|err| {
                    panic!("{} (nonce {require_nonce}): {err}", dpop_key.algorithm())
                });
                fetches += 1;
                assert_eq!(token.token_type(), "DPoP");
                assert!(token
                    .header_value()
                    .to_str()
                    .expect("ascii")
                    .starts_with("DPoP "));
                let body = call_api(&server, &dpop_key, &token).await;
                assert_eq!(
                    body["jkt"],
                    dpop_key.thumbprint(),
                    "cnf.jkt is the key's thumbprint"
                );
            }
        }
        let stats = server.stats().await;
        assert_eq!(
            stats["token_errors"].as_array().expect("errors").len(),
            if require_nonce { 4 } else { 0 },
            "{stats}"
        );
        if require_nonce {
            // Each new key's first fetch: asked for a nonce, then once more with it, with a
            // fresh assertion; the second fetch re-uses the nonce it kept.
            assert_eq!(stats["token_errors"], json!(vec!["use_dpop_nonce"; 4]));
            assert_eq!(stats["token_requests"], fetches + 4);
        } else {
            assert_eq!(stats["token_requests"], fetches);
        }
        assert_eq!(stats["dpop_token_proofs"], stats["token_requests"]);
        let jtis = stats["assertion_jtis"].as_array().expect("jtis");
        let unique: std::collections::HashSet<String> =
            jtis.iter().map(|jti| jti.to_string()).collect();
        assert_eq!(unique.len(), jtis.len());
    }
}

#[tokio::test]
async fn a_dpop_bound_client_without_a_key_is_told_to_set_one() {
    logs();
    let registered = dpop_client("dpop");
    let server = OidcServer::start(json!({ "clients": [registered] }));
    let source = source(
        &server,
        &registered,
        AuthMethod::PrivateKeyJwt(key("es256")),
    );
    let error = source.fetch_token().await.unwrap_err();
    let text = error.to_string();
    // oidc-provider hides why (its description is "grant request is invalid"): the message
    // names the likely cause first.
    assert!(text.contains("(invalid_grant): if the client must get sender-constrained tokens, set ClientCredentials::dpop"), "{text}");
}

#[tokio::test]
async fn from_issuer_discovers_the_token_endpoint_once_and_checks_what_the_server_supports() {
    logs();
    let registered = dpop_client("dpop");
    let server = OidcServer::start(json!({ "clients": [registered], "dpopAlgs": ["ES256"] }));
    let issued = |method: AuthMethod| {
        ClientCredentials::from_issuer(server.issuer(), "dpop", "")
            .auth_method(method)
            .scope("read")
    };
    // oidc-provider serves no RFC 8414 document: the OpenID Connect one is read instead, once.
    let source = issued(AuthMethod::PrivateKeyJwt(key("es256"))).dpop(key("es256"));
    for _ in 0..2 {
        let token = source.fetch_token().await.expect("token");
        assert_eq!(token.token_type(), "DPoP");
    }
    let stats = server.stats().await;
    assert_eq!(stats["discovery_requests"], 2, "{stats}");
    assert_eq!(stats["token_requests"], 2);

    // What the server does not support is refused before any token request, by name.
    for (source, named) in [
        (
            issued(AuthMethod::TlsClientAuth).client_identity(
                ClientIdentity::from_pem(
                    include_str!("keys/es256.crt"),
                    include_str!("keys/es256.pem"),
                )
                .expect("identity"),
            ),
            "tls_client_auth (token_endpoint_auth_methods_supported)",
        ),
        (
            issued(AuthMethod::PrivateKeyJwt(key("es256"))).dpop(key("eddsa")),
            "EdDSA DPoP proofs",
        ),
    ] {
        let error = source.fetch_token().await.unwrap_err();
        assert!(matches!(error, Error::InvalidConfig { .. }), "{error}");
        assert!(error.to_string().contains(named), "{error}");
    }
    // An issuer that is not the metadata's own is refused (RFC 8414 §3.3).
    let slash = ClientCredentials::from_issuer(format!("{}/", server.issuer()), "dpop", "")
        .auth_method(AuthMethod::PrivateKeyJwt(key("es256")))
        .dpop(key("es256"));
    let error = slash.fetch_token().await.unwrap_err();
    assert!(error.to_string().contains("trailing slash"), "{error}");
    let stats = server.stats().await;
    assert_eq!(
        stats["token_requests"], 2,
        "no token request after a failed check"
    );
}

use oidc_server::pki::Pki;

/// The app's own client: hyper-rustls trusting the test CA, presenting the client certificate
/// if `with_certificate`.
fn mtls_client<B>(
    pki: &Pki,
    with_certificate: bool,
) -> hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    B,
>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates({
            let mut roots = rustls::RootCertStore::empty();
            roots.add(pki.ca.clone()).expect("root");
            roots
        });
    let config = if with_certificate {
        builder
            .with_client_auth_cert(pki.client_chain.clone(), pki.client_key.clone_key().into())
            .expect("client certificate")
    } else {
        builder.with_no_client_auth()
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

#[tokio::test]
async fn tls_client_auth_gets_certificate_bound_tokens_through_the_mtls_alias() {
    logs();
    let pki = oidc_server::pki::generate("mtls");
    let server = OidcServer::start(json!({
        "tls": {
            "cert": pki.dir.join("server.pem"),
            "key": pki.dir.join("server.key"),
            "ca": pki.dir.join("ca.pem"),
        },
        "clients": [{
            "client_id": "mtls",
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "CN=mtls-client",
            "tls_client_certificate_bound_access_tokens": true,
            "scope": "read",
        }],
    }));
    let mtls_base = server.stats().await["mtls_base"]
        .as_str()
        .expect("mtls listener")
        .to_owned();
    // Discovery over plain http, the token from the https alias, with the certificate.
    let source = ClientCredentials::from_issuer(server.issuer(), "mtls", "")
        .auth_method(AuthMethod::TlsClientAuth)
        .scope("read")
        .token_client(mtls_client::<http_body_util::Full<bytes::Bytes>>(
            &pki, true,
        ));
    let token = source.fetch_token().await.expect("token");
    assert_eq!(token.token_type(), "Bearer");
    let stats = server.stats().await;
    assert_eq!(stats["auth_methods"], json!(["tls_client_auth"]));
    assert_eq!(
        stats["last_token_form"],
        json!(["client_id", "grant_type", "scope"])
    );
    // The resource server checks the token's cnf.x5t#S256 against the connection's certificate.
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .build()
        .expect("layer");
    let service = layer.layer(mtls_client::<
        symbl_auth::ReplayBody<http_body_util::Full<bytes::Bytes>>,
    >(&pki, true));
    let response = service
        .oneshot(support::get(&format!("{mtls_base}/api")))
        .await
        .expect("call");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&body_text(response).await).expect("JSON");
    assert!(body["x5t"].is_string(), "a certificate-bound token: {body}");

    // Without the certificate: invalid_client, saying to check the certificate.
    let bare = ClientCredentials::from_issuer(server.issuer(), "mtls", "")
        .auth_method(AuthMethod::TlsClientAuth)
        .token_client(mtls_client::<http_body_util::Full<bytes::Bytes>>(
            &pki, false,
        ));
    let error = bare.fetch_token().await.unwrap_err();
    assert!(matches!(error, Error::InvalidCredentials { .. }), "{error}");
    assert!(
        error.to_string().contains("TLS client certificate"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&pki.dir);
}
