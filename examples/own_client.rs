//! One HTTP client for everything: the app's own hyper-util client, on hyper-rustls with the
//! ring provider, carries both the token requests (`token_client`) and the API calls the
//! layer authenticates. No reqwest needed, no process-level `CryptoProvider` installed.
//!
//! ```sh
//! cargo run --example own_client --features test-server
//! ```
//!
//! With no credentials in the environment it talks to a Symbl-compatible server on loopback
//! (plain http, which the same connector allows for loopback here); with `SYMBL_APP_ID` and
//! `SYMBL_APP_SECRET` set, to `https://api.symbl.ai`. In your own `Cargo.toml`:
//!
//! ```toml
//! symbl-auth = { version = "0.1", default-features = false }
//! hyper-rustls = { version = "0.27", default-features = false, features = ["http1", "ring", "tls12", "rustls-platform-verifier"] }
//! hyper-util = { version = "0.1", features = ["client-legacy", "http1", "tokio"] }
//! rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::TestServer;
use symbl_auth::{BoxError, Credentials, ReplayBody, SymblAuthLayer};
use tower::{ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Counts the connections the one client opens, to show the token requests share its pool.
    let opened = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&opened);
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let counted = tower::ServiceExt::map_request(http, move |uri: http::Uri| {
        count.fetch_add(1, Ordering::SeqCst);
        uri
    });
    let provider = rustls::crypto::ring::default_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(provider)?
        .https_or_http()
        .enable_http1()
        .wrap_connector(counted);
    // The body type the layer hands its inner service; token requests (`Full<Bytes>`) become
    // one too, so this one client serves both.
    let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Full<Bytes>>>(https);

    let server;
    let (builder, url) = match Credentials::from_env() {
        Ok(credentials) => (
            SymblAuthLayer::builder(credentials),
            "https://api.symbl.ai/v1/conversations".to_owned(),
        ),
        Err(_) => {
            server = TestServer::start().await?;
            println!("No SYMBL_APP_ID / SYMBL_APP_SECRET: using a local Symbl-compatible server");
            let builder = SymblAuthLayer::builder(server.symbl().accepted_credentials())
                .token_url(server.token_url());
            (builder, server.url("/v1/conversations"))
        }
    };
    let layer = builder.token_client(client.clone()).build()?;
    let symbl = ServiceBuilder::new().layer(layer.clone()).service(client);

    for _ in 0..3 {
        let request = Request::get(&url).body(Full::new(Bytes::new()))?;
        let response = symbl.clone().oneshot(request).await?;
        println!("GET {url} -> {}", response.status());
        if !response.status().is_success() {
            return Err(format!("expected a success, got {}", response.status()).into());
        }
    }
    let stats = layer.stats();
    let connections = opened.load(Ordering::SeqCst);
    println!(
        "{} token request, {connections} connection(s) for the token and the API calls",
        stats.token_requests
    );
    if stats.token_requests != 1 {
        return Err(format!("expected 1 token request, saw {}", stats.token_requests).into());
    }
    Ok(())
}
