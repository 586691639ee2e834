//! Any OAuth2 API: client credentials (RFC 6749 §4.4) behind `SymblAuthLayer`.
//!
//! ```sh
//! cargo run --example oauth2_client_credentials
//! ```
//!
//! With no settings it starts Authlib's authorization server (`tests/oauth2_server/`) on
//! loopback, installing it into `target/test-python` on first run (needs Python 3 with venv and
//! pip), and calls a protected route on it: one token serves both calls, and a token revoked
//! on the server costs one 401, one refresh and one retry.
//!
//! Against your own server (`OAUTH2_SCOPE` and `OAUTH2_API_URL` are optional):
//!
//! ```sh
//! OAUTH2_TOKEN_URL=https://auth.example.com/oauth2/token OAUTH2_CLIENT_ID=… \
//! OAUTH2_CLIENT_SECRET=… OAUTH2_SCOPE="read write" OAUTH2_API_URL=https://api.example.com/v1/me \
//! cargo run --example oauth2_client_credentials
//! ```

#[path = "../tests/oauth2_server/mod.rs"]
mod oauth2_server;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::oauth2::ClientCredentials;
use symbl_auth::{BoxError, ReplayBody, SymblAuth, SymblAuthLayer};
use tower::{Layer, ServiceExt};

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type Api = SymblAuth<Client<Https, ReplayBody<Full<Bytes>>>>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(https);

    let Ok(token_url) = std::env::var("OAUTH2_TOKEN_URL") else {
        return against_authlib(client).await;
    };
    let mut source = ClientCredentials::new(
        &token_url,
        std::env::var("OAUTH2_CLIENT_ID")?,
        std::env::var("OAUTH2_CLIENT_SECRET")?,
    );
    if let Ok(scope) = std::env::var("OAUTH2_SCOPE") {
        source = source.scope(scope);
    }
    let api_url = std::env::var("OAUTH2_API_URL").ok();
    // Only the API's host gets the token (the token URL's, if no API is named).
    let api_host = api_url
        .as_deref()
        .unwrap_or(&token_url)
        .parse::<http::Uri>()?;
    let layer = SymblAuthLayer::from_source(source)
        .allow_host(api_host.host().ok_or("the URL has no host")?)
        .build()?;
    let token = layer.access_token().await?;
    println!("token granted, valid for {:?}", token.expires_in());
    if let Some(url) = api_url {
        call(&layer.layer(client), &url).await?;
    }
    Ok(())
}

/// The whole round against Authlib's server on loopback.
async fn against_authlib(client: Client<Https, ReplayBody<Full<Bytes>>>) -> Result<(), BoxError> {
    let registered = oauth2_server::Client {
        id: "example-client",
        secret: "an example secret: with + / % and spaces",
        auth_method: "client_secret_basic",
        scope: "read write",
        grant_allowed: true,
    };
    let server = oauth2_server::AuthServer::start(std::slice::from_ref(&registered), 3600);
    println!("Authlib's authorization server at {}", server.url(""));

    let source = ClientCredentials::new(server.url("/token"), registered.id, registered.secret)
        .scope("read");
    let layer = SymblAuthLayer::from_source(source)
        .allow_host("127.0.0.1")
        .build()?;
    let api = layer.layer(client);
    let url = server.url("/api/read");

    call(&api, &url).await?;
    call(&api, &url).await?;
    println!("two calls, {} token request", layer.stats().token_requests);

    let token = layer.access_token().await?;
    server.revoke(&registered, token.secret()).await;
    println!("token revoked on the server (RFC 7009)");
    call(&api, &url).await?;
    let stats = layer.stats();
    println!(
        "after the revocation: {} token requests, {} retry after a 401",
        stats.token_requests, stats.retries
    );
    let seen = server.stats().await;
    println!(
        "the server saw {} token requests and {} API requests, {} of them answered 401",
        seen["token_requests"], seen["api_requests"], seen["api_unauthorized"]
    );
    assert_eq!((stats.token_requests, stats.retries), (2, 1));
    Ok(())
}

async fn call(api: &Api, url: &str) -> Result<(), BoxError> {
    let request = http::Request::get(url).body(Full::new(Bytes::new()))?;
    let response = api.clone().oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!(
        "GET {url} -> {status} {}",
        String::from_utf8_lossy(&body).trim_end()
    );
    Ok(())
}
