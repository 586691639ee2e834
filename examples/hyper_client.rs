//! The plain stack: a hyper-util client over HTTPS behind `SymblAuthLayer`.
//!
//! ```sh
//! SYMBL_APP_ID=… SYMBL_APP_SECRET=… cargo run --example hyper_client
//! ```
//!
//! Lists your conversations. (No credentials? `examples/quickstart.rs` runs the same stack
//! against a local Symbl-compatible server.) In your own `Cargo.toml`:
//!
//! ```toml
//! symbl-auth = "0.1"
//! bytes = "1"
//! http = "1"
//! http-body-util = "0.1"
//! hyper-rustls = { version = "0.27", features = ["http2", "rustls-platform-verifier"] }
//! hyper-util = { version = "0.1", features = ["client-legacy", "http1", "http2", "tokio"] }
//! rustls = { version = "0.23", default-features = false, features = ["aws_lc_rs"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! tower = { version = "0.5", features = ["util"] }
//! ```
//!
//! The rustls provider is named, not left to rustls' crate features: with both of its
//! providers in the tree (aws-lc-rs from one crate, ring from another)
//! `try_with_platform_verifier()` panics.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::{BoxError, Credentials, ReplayBody, SymblAuthLayer};
use tower::{ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(provider)?
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    // The client's body type is the layer's wrapper around yours.
    let client = Client::builder(TokioExecutor::new()).build::<_, ReplayBody<Full<Bytes>>>(https);
    let symbl = ServiceBuilder::new()
        .layer(SymblAuthLayer::new(Credentials::from_env()?))
        .service(client);

    let request = http::Request::get("https://api.symbl.ai/v1/conversations")
        .body(Full::new(Bytes::new()))?;
    let response = symbl.oneshot(request).await?;
    println!("{}", response.status());
    let body = response.into_body().collect().await?.to_bytes();
    println!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
