//! `rustls-no-provider`: the built-in client runs on the process-level rustls `CryptoProvider`
//! the app installs. Before the app installs one, `build` (and a source's own fetch) fails with
//! an `InvalidConfig` that says what to do, and the crate installs none itself; after, token
//! requests work over plain http and over TLS.
//!
//! Only in a build where the provider is the app's (`rustls-no-provider` without `rustls` or
//! `rustls-ring`), and a test binary of its own with a single test: the provider is
//! process-wide, and the test is about the moment before it is installed.
#![cfg(all(feature = "test-server", tls_provider = "installed"))]

mod peers;

use peers::{Reply, TokenEndpoint};
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::test_server::TestServer;
use symbl_auth::{reqwest, Error, SymblAuthLayer, SymblTokenSource, TokenSource};
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};

fn assert_asks_for_a_provider(err: &Error) {
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("rustls-no-provider") && text.contains("CryptoProvider::install_default"),
        "{text}"
    );
}

#[tokio::test]
async fn the_built_in_client_runs_on_the_provider_the_app_installs() {
    assert!(
        CryptoProvider::get_default().is_none(),
        "a provider was installed before the test began"
    );
    let server = TestServer::start().await.expect("server");
    let credentials = server.symbl().accepted_credentials();

    // Before the app installs a provider: a clear error, at `build` and at a direct fetch.
    let err = SymblAuthLayer::builder(credentials.clone())
        .token_url(server.token_url())
        .build()
        .expect_err("no provider installed");
    assert_asks_for_a_provider(&err);
    let source = SymblTokenSource::new(server.token_url(), credentials.clone());
    let err = source
        .fetch_token()
        .await
        .expect_err("no provider installed");
    assert_asks_for_a_provider(&err);
    let err = SymblAuthLayer::from_source(ClientCredentials::new(
        "https://auth.example/token",
        "client",
        "secret",
    ))
    .allow_host("api.example")
    .build()
    .expect_err("no provider installed");
    assert_asks_for_a_provider(&err);
    assert_eq!(server.symbl().token_requests(), 0);
    assert!(
        CryptoProvider::get_default().is_none(),
        "the crate installed a provider"
    );

    // The app installs one: plain http to loopback works (the test server's layer is the
    // built-in client's here)...
    aws_lc_rs::default_provider()
        .install_default()
        .expect("the first provider installed");
    let token = server.layer().access_token().await.expect("token");
    assert!(token.secret().starts_with("fake-token"), "{token:?}");
    assert_eq!(server.symbl().token_requests(), 1);
    source.fetch_token().await.expect("a direct fetch");
    assert_eq!(server.symbl().token_requests(), 2);

    // ...and so does TLS, with the app's root added through `http_client`.
    let (acceptor, root) = peers::self_signed();
    let endpoint = TokenEndpoint::start_tls(Reply::token("over-tls", 3600), acceptor).await;
    let root = reqwest::Certificate::from_der(&root).expect("root");
    let source = ClientCredentials::new(
        format!("https://127.0.0.1:{}/token", endpoint.port),
        "client",
        "secret",
    )
    .http_client(move |client| client.tls_certs_merge([root.clone()]));
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("api.example")
        .build()
        .expect("layer");
    let token = layer.access_token().await.expect("token over TLS");
    assert_eq!(token.secret(), "over-tls");
    assert_eq!(endpoint.requests(), 1);
}
