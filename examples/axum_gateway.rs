//! An axum app whose handlers call Symbl through one shared, authenticated client.
//!
//! ```sh
//! cargo run --example axum_gateway --features test-server
//! ```
//!
//! `GET /conversations` is answered by calling Symbl's `GET /v1/conversations`. The client —
//! a hyper-util client over hyper-rustls behind `SymblAuthLayer` — lives in the app state and
//! is cloned per request; clones share one token cache, so one token fetch serves every
//! inbound request. The same client calls `https://api.symbl.ai` in production (give
//! `Gateway::new` a layer from `SymblAuthLayer::new(Credentials::from_env()?)`).
//!
//! The example serves the app on loopback in front of a local Symbl-compatible server, sends
//! it a burst of requests, and shows the token requests that cost.

use std::process::ExitCode;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::TestServer;
use symbl_auth::{BoxError, ReplayBody, SymblAuth, SymblAuthLayer};
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};

/// The authenticated client the handlers share.
pub type SymblClient = SymblAuth<Client<HttpsConnector<HttpConnector>, ReplayBody<Full<Bytes>>>>;

/// What every handler sees.
#[derive(Clone, Debug)]
pub struct Gateway {
    /// The client, cloned per call; its clones share the token cache.
    pub symbl: SymblClient,
    /// Where Symbl's API lives (`https://api.symbl.ai` in production).
    pub base_url: String,
}

impl Gateway {
    /// A gateway to `base_url` that authenticates with `layer`.
    pub fn new(layer: &SymblAuthLayer, base_url: String) -> std::io::Result<Self> {
        // https for Symbl; plain http too, for the local server here (the layer itself sends
        // its token over plain http only to loopback).
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(rustls::crypto::aws_lc_rs::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            symbl: layer.layer(client),
            base_url,
        })
    }
}

/// The app: its routes over the shared gateway.
pub fn app(gateway: Gateway) -> Router {
    Router::new()
        .route("/conversations", get(conversations))
        .with_state(gateway)
}

async fn conversations(State(gateway): State<Gateway>) -> Response {
    let url = format!("{}/v1/conversations", gateway.base_url);
    let request = match Request::get(url).body(Full::default()) {
        Ok(request) => request,
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    };
    match gateway.symbl.oneshot(request).await {
        Ok(response) => response.map(Body::new).into_response(),
        // Auth failures name what to fix (and never hold a secret), so they can be shown.
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn run() -> Result<(), BoxError> {
    let symbl = TestServer::start().await?;
    let gateway = Gateway::new(&symbl.layer(), symbl.url(""))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app(gateway)).await });
    println!(
        "gateway on http://{addr}/conversations, Symbl at {}",
        symbl.url("")
    );

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut calls = JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        let url = format!("http://{addr}/conversations");
        calls.spawn(async move { client.get(url.parse()?).await.map_err(BoxError::from) });
    }
    let mut ok = 0;
    while let Some(response) = calls.join_next().await {
        ok += usize::from(response??.status() == StatusCode::OK);
    }
    println!(
        "{ok} of 50 inbound requests answered 200 OK, for {} token request",
        symbl.symbl().token_requests()
    );
    server.abort();
    if ok == 50 && symbl.symbl().token_requests() == 1 {
        Ok(())
    } else {
        Err("expected 50 answers for one token request".into())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_gateway failed: {error}");
            ExitCode::FAILURE
        }
    }
}
