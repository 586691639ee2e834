//! `HTTP_PROXY` and `NO_PROXY` reach the token request when the settings name no proxy, and
//! a proxy (or `no_proxy`) in `http_client` replaces them.
//!
//! A test binary of its own with a single test: it sets process-wide environment variables,
//! which reqwest reads when the token client is built.

mod peers;

use peers::{ForwardProxy, Reply, TokenEndpoint};
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::{Credentials, SymblAuthLayer, TokenSource};

#[tokio::test]
async fn proxy_environment_variables_are_honoured() {
    let proxy = ForwardProxy::start().await;
    let endpoint = TokenEndpoint::start(Reply::token("env-token", 3600)).await;
    for name in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "http_proxy",
        "no_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", proxy.url());
    std::env::set_var("NO_PROXY", "localhost");
    let via_proxy = format!("http://127.0.0.1:{}/token", endpoint.port);
    let direct = format!("http://localhost:{}/token", endpoint.port);

    // HTTP_PROXY: through the proxy, for both sources.
    let source = ClientCredentials::new(&via_proxy, "client", "secret");
    source.fetch_token().await.expect("token");
    let layer = SymblAuthLayer::builder(Credentials::new("app", "secret"))
        .token_url(&via_proxy)
        .build()
        .expect("layer");
    layer
        .access_token()
        .await
        .expect_err("a Symbl answer is expected, not OAuth2's");
    assert_eq!(proxy.seen().len(), 2, "{:?}", proxy.seen());

    // NO_PROXY: a host it names is reached directly.
    let source = ClientCredentials::new(&direct, "client", "secret");
    source.fetch_token().await.expect("token");
    // `no_proxy()` in the settings turns the environment off.
    let source = ClientCredentials::new(&via_proxy, "client", "secret")
        .http_client(|client| client.no_proxy());
    source.fetch_token().await.expect("token");

    assert_eq!(proxy.seen().len(), 2, "{:?}", proxy.seen());
    assert_eq!(endpoint.requests(), 4);
}
