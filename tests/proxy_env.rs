//! Proxies and the token request: `HTTP_PROXY` reaches the built-in client for a token URL off
//! the machine, and a token URL on loopback is never proxied, whether the proxy comes from the
//! environment or from `http_client`: the request may be plain http (the secret in clear), and
//! nothing needs to leave the machine. Go's `httpproxy` never proxies loopback either.
//!
//! A test binary of its own with a single test: it sets process-wide environment variables,
//! which reqwest reads when the token client is built.
// Over the built-in client, which under rustls-no-provider alone needs a provider the app
// installs: tests/installed_provider.rs covers that build.
#![cfg(all(builtin_client, not(tls_provider = "installed")))]

mod peers;

use peers::{ForwardProxy, Reply, TokenEndpoint};
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::{reqwest, Credentials, SymblAuthLayer, TokenSource};

const SECRET: &str = "secret-that-must-not-be-proxied";

#[tokio::test]
async fn loopback_token_requests_never_go_through_a_proxy() {
    let proxy = ForwardProxy::start().await;
    let endpoint = TokenEndpoint::start(Reply::token("env-token", 3600)).await;
    for name in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        std::env::remove_var(name);
    }
    std::env::set_var("HTTP_PROXY", proxy.url());
    let port = endpoint.port;

    // Loopback, by address and by name: straight to the endpoint, for both sources, with
    // the proxy from the environment and from the settings alike.
    let hook = reqwest::Proxy::all(proxy.url()).expect("proxy");
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{port}/token");
        let source = ClientCredentials::new(&url, "client", SECRET);
        source.fetch_token().await.expect("token");
        let settings = hook.clone();
        let source = ClientCredentials::new(&url, "client", SECRET)
            .http_client(move |client| client.proxy(settings.clone()));
        source.fetch_token().await.expect("token");
        for with_hook in [false, true] {
            let builder = SymblAuthLayer::builder(Credentials::new("app", SECRET)).token_url(&url);
            let settings = hook.clone();
            let builder = match with_hook {
                true => builder.http_client(move |client| client.proxy(settings.clone())),
                false => builder,
            };
            let layer = builder.build().expect("layer");
            // The endpoint answers in OAuth2's form, which Symbl's source refuses: what counts
            // is where the request went.
            layer.access_token().await.expect_err("not Symbl's answer");
        }
    }
    assert_eq!(proxy.seen(), Vec::<String>::new(), "nothing was proxied");
    assert_eq!(endpoint.requests(), 8);

    // A host off the machine (plain http only with the opt-in): the environment's proxy is
    // used. The test proxy sends every request on to 127.0.0.1.
    let remote = format!("http://token.invalid:{port}/token");
    let source = ClientCredentials::new(&remote, "client", SECRET).allow_insecure_http(true);
    source.fetch_token().await.expect("token through the proxy");
    let layer = SymblAuthLayer::builder(Credentials::new("app", SECRET))
        .token_url(&remote)
        .allow_insecure_http(true)
        .build()
        .expect("layer");
    layer.access_token().await.expect_err("not Symbl's answer");
    assert_eq!(
        proxy.seen(),
        [
            format!("POST {remote} HTTP/1.1"),
            format!("POST {remote} HTTP/1.1")
        ]
    );
    assert_eq!(endpoint.requests(), 10);
}
