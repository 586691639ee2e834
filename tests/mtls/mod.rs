//! The cases of `tests/oidc_mtls.rs` and `tests/oidc_mtls_installed_provider.rs`: a
//! `ClientCredentials` whose built-in token client presents a `ClientIdentity` (RFC 8705),
//! against oidc-provider's TLS listener that asks for client certificates, under whichever TLS
//! feature the test build has.
//!
//! The test CA is trusted the way an app trusts a private CA with that feature: through
//! `http_client` roots (`rustls`, `rustls-no-provider`, `native-tls`), or, under `rustls-ring`
//! (whose built-in client uses the crate's config with the platform's roots), as the
//! platform's roots: `SSL_CERT_FILE`, set once for this process before its first handshake.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, OnceLock};

use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use serde_json::{json, Value};
use symbl_auth::oauth2::{AuthMethod, ClientCredentials, ClientIdentity};
use symbl_auth::{Error, SymblAuthLayer, TokenSource};
use tokio_rustls::rustls;

use crate::oidc_server::OidcServer;

pub use crate::oidc_server::pki::Pki;

/// The test PKI: one set per process (under `rustls-ring` the platform roots are read once per
/// process, and they are this CA).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let pki = crate::oidc_server::pki::generate("mtls-builtin");
        #[cfg(tls_provider = "ring")]
        std::env::set_var("SSL_CERT_FILE", pki.dir.join("ca.pem"));
        pki
    })
}

/// oidc-provider with its TLS listener and two clients that get certificate-bound tokens:
/// `mtls` (tls_client_auth, `CN=mtls-client`) and `bound-post` (client_secret_post).
pub fn server() -> (OidcServer, &'static Pki) {
    let pki = pki();
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
        }, {
            "client_id": "bound-post",
            "client_secret": "a-client-secret-of-more-than-32-bytes",
            "token_endpoint_auth_method": "client_secret_post",
            "tls_client_certificate_bound_access_tokens": true,
            "scope": "read",
        }],
    }));
    (server, pki)
}

pub fn identity(pki: &Pki) -> ClientIdentity {
    ClientIdentity::from_pem(&pki.client_pem, &pki.client_key_pem).expect("identity")
}

/// The test CA trusted by the built-in client: through `http_client` roots where reqwest
/// builds the TLS config; under `rustls-ring`, `SSL_CERT_FILE` (see the module docs).
pub fn trusting(source: ClientCredentials, pki: &Pki) -> ClientCredentials {
    #[cfg(tls_provider = "ring")]
    {
        let _ = pki;
        source
    }
    #[cfg(not(tls_provider = "ring"))]
    {
        let ca = symbl_auth::reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("CA");
        source.http_client(move |client| client.tls_certs_merge([ca.clone()]))
    }
}

/// A GET of `{mtls_base}/api` with `token`, over a connection presenting the client
/// certificate if `with_certificate`: the resource server checks the token through
/// introspection and its `cnf.x5t#S256` against the connection's certificate (RFC 8705 §3).
pub async fn call_api(
    pki: &Pki,
    url: &str,
    token: &str,
    with_certificate: bool,
) -> (StatusCode, Value) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.client_chain[0].clone()).ok();
    roots.add(pki.ca.clone()).expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = if with_certificate {
        builder
            .with_client_auth_cert(pki.client_chain.clone(), pki.client_key.clone_key().into())
            .expect("client certificate")
    } else {
        builder.with_no_client_auth()
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<bytes::Bytes>>(connector);
    let request = http::Request::get(url)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .expect("request");
    let response = client.request(request).await.expect("call");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A `tls_client_auth` source through the built-in client with `client_identity` gets a token
/// from the mTLS alias, authenticated by the certificate alone, and bound to it; a source with
/// another method and the identity gets a bound token from the alias too (§5).
pub async fn the_built_in_client_presents_the_identity_and_gets_bound_tokens() {
    let (server, pki) = server();
    let mtls_base = server.stats().await["mtls_base"]
        .as_str()
        .expect("mtls listener")
        .to_owned();
    let source = trusting(
        ClientCredentials::from_issuer(server.issuer(), "mtls", "")
            .auth_method(AuthMethod::TlsClientAuth)
            .scope("read")
            .client_identity(identity(pki)),
        pki,
    );
    SymblAuthLayer::from_source(source.clone())
        .allow_host("127.0.0.1")
        .build()
        .expect("a layer builds");
    let token = source.fetch_token().await.expect("token");
    assert_eq!(token.token_type(), "Bearer");
    let stats = server.stats().await;
    assert_eq!(stats["auth_methods"], json!(["tls_client_auth"]));
    assert_eq!(
        stats["last_token_form"],
        json!(["client_id", "grant_type", "scope"]),
        "only client_id authenticates besides the certificate"
    );
    let api = format!("{mtls_base}/api");
    let (status, body) = call_api(pki, &api, token.secret(), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["x5t"].is_string(), "a certificate-bound token: {body}");
    // Over a connection without the certificate, the bound token is refused.
    let (status, _) = call_api(pki, &api, token.secret(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.stats().await["api_unauthorized"],
        json!(["cnf.x5t#S256"])
    );

    // client_secret_post with the identity: the request goes to the alias, where the server
    // sees the certificate and binds the token to it.
    let post = trusting(
        ClientCredentials::from_issuer(
            server.issuer(),
            "bound-post",
            "a-client-secret-of-more-than-32-bytes",
        )
        .auth_method(AuthMethod::ClientSecretPost)
        .scope("read")
        .client_identity(identity(pki)),
        pki,
    );
    let token = post.fetch_token().await.expect("token");
    let (status, body) = call_api(pki, &api, token.secret(), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["x5t"].is_string(), "a certificate-bound token: {body}");
    assert_eq!(
        server.stats().await["auth_methods"],
        json!(["tls_client_auth", "client_secret_post"])
    );
}

/// The same source without a certificate is refused before any request, at `build` and at a
/// fetch; with `token_client` too, the identity is refused rather than ignored.
pub async fn tls_client_auth_without_a_certificate_is_refused_clearly() {
    let (server, pki) = server();
    let bare = ClientCredentials::from_issuer(server.issuer(), "mtls", "")
        .auth_method(AuthMethod::TlsClientAuth)
        .scope("read");
    let assert_needs_identity = |error: Error| {
        assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
        assert!(error.to_string().contains("client_identity"), "{error}");
    };
    assert_needs_identity(
        SymblAuthLayer::from_source(bare.clone())
            .allow_host("127.0.0.1")
            .build()
            .expect_err("no certificate"),
    );
    assert_needs_identity(bare.fetch_token().await.expect_err("no certificate"));
    let stats = server.stats().await;
    assert_eq!(
        (
            stats["token_requests"].clone(),
            stats["discovery_requests"].clone()
        ),
        (json!(0), json!(0)),
        "nothing sent"
    );

    // http_client settings without an identity: under rustls-ring (where an identity set there
    // would not be used) refused the same way; elsewhere the server is asked, and says the
    // certificate is missing.
    let mtls_base = server.stats().await["mtls_base"]
        .as_str()
        .expect("mtls listener")
        .to_owned();
    let without = trusting(
        ClientCredentials::new(format!("{mtls_base}/token"), "mtls", "")
            .auth_method(AuthMethod::TlsClientAuth),
        pki,
    );
    let error = without.fetch_token().await.expect_err("no certificate");
    #[cfg(tls_provider = "ring")]
    assert_needs_identity(error);
    #[cfg(not(tls_provider = "ring"))]
    {
        assert!(
            matches!(error, Error::InvalidCredentials { .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("TLS client certificate"),
            "{error}"
        );
    }

    // A key that is not the certificate's: refused by `from_pem` where the provider is known,
    // else by `build` (native-tls: OpenSSL), never found only by the server.
    let mismatched =
        ClientIdentity::from_pem(include_str!("../keys/es256.crt"), &pki.client_key_pem)
            .and_then(|identity| {
                let source = ClientCredentials::new(format!("{mtls_base}/token"), "mtls", "")
                    .auth_method(AuthMethod::TlsClientAuth)
                    .client_identity(identity);
                SymblAuthLayer::from_source(source)
                    .allow_host("127.0.0.1")
                    .build()
                    .map(drop)
            })
            .expect_err("a key that is not the certificate's");
    assert!(
        matches!(mismatched, Error::InvalidConfig { .. }),
        "{mismatched:?}"
    );
    // Named as the mismatch it is under rustls; native-tls has OpenSSL's words in the source.
    let said = format!("{mismatched} | {mismatched:?}");
    let named = if cfg!(tls_rustls) {
        said.contains("does not belong to the first certificate")
    } else {
        said.contains("HTTP client")
    };
    assert!(named, "{said}");
    // Only the one above, which rustls-ring refuses before sending.
    let sent = if cfg!(tls_provider = "ring") { 0 } else { 1 };
    assert_eq!(server.stats().await["token_requests"], json!(sent));

    let both = bare
        .client_identity(identity(pki))
        .token_client(tower::service_fn(
            |_: http::Request<http_body_util::Full<bytes::Bytes>>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::<
                    bytes::Bytes,
                >::default()))
            },
        ));
    let error = SymblAuthLayer::from_source(both)
        .allow_host("127.0.0.1")
        .build()
        .expect_err("both");
    assert!(
        error
            .to_string()
            .contains("client_identity and token_client"),
        "{error}"
    );
}
