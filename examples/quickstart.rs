//! The quickstart: symbl-auth in front of a hyper-util client.
//!
//! ```sh
//! cargo run --example quickstart --features test-server
//! ```
//!
//! With no credentials in the environment it starts a Symbl-compatible server on loopback and
//! shows the layer at work: the first call fetches a token, later calls reuse it, a burst of
//! concurrent calls shares one fetch, and a token revoked on the server costs one 401, one
//! refresh and one retry. With `SYMBL_APP_ID` and `SYMBL_APP_SECRET` (or `APP_ID` and
//! `APP_SECRET`) set, it calls the real `https://api.symbl.ai/v1/conversations` instead.
//!
//! Exits 0 when everything behaved as shown, 1 with the reason otherwise.

use std::process::ExitCode;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use symbl_auth::test_server::TestServer;
use symbl_auth::{BoxError, Credentials, ReplayBody, SymblAuth, SymblAuthLayer};
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};

type Symbl<C> = SymblAuth<Client<C, ReplayBody<Full<Bytes>>>>;

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = if credentials_in_env() {
        against_symbl().await
    } else {
        against_local_server().await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn credentials_in_env() -> bool {
    ["SYMBL_APP_ID", "SYMBL_APP_SECRET", "APP_ID", "APP_SECRET"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

async fn get<C>(symbl: &Symbl<C>, url: &str) -> Result<StatusCode, BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request = Request::get(url).body(Full::new(Bytes::new()))?;
    Ok(symbl.clone().oneshot(request).await?.status())
}

/// Checks one expectation and prints it as a line of the report.
fn expect(ok: bool, line: &str, detail: &str) -> Result<(), BoxError> {
    if ok {
        println!("  ✓ {line}: {detail}");
        Ok(())
    } else {
        println!("  ✗ {line}: {detail}");
        Err(format!("expected: {line} (got {detail})").into())
    }
}

async fn against_local_server() -> Result<(), BoxError> {
    let server = TestServer::start().await?;
    let symbl = server.symbl();
    println!("No SYMBL_APP_ID / SYMBL_APP_SECRET set: using a local Symbl-compatible server");
    println!("  token endpoint {}\n", server.token_url());

    let client = Client::builder(TokioExecutor::new()).build_http();
    let service = server.layer().layer(client.clone());
    let url = server.url("/v1/conversations");

    let status = get(&service, &url).await?;
    expect(
        status == StatusCode::OK && symbl.token_requests() == 1,
        "the first call fetches a token",
        &format!("{status}, {} token request", symbl.token_requests()),
    )?;

    for _ in 0..10 {
        get(&service, &url).await?;
    }
    expect(
        symbl.token_requests() == 1,
        "ten more calls reuse it",
        &format!("still {} token request", symbl.token_requests()),
    )?;

    // A second layer, so its cache starts cold.
    let cold = server.layer().layer(client);
    let mut burst = JoinSet::new();
    for _ in 0..100 {
        let cold = cold.clone();
        let url = url.clone();
        burst.spawn(async move { get(&cold, &url).await });
    }
    let mut ok = 0;
    while let Some(status) = burst.join_next().await {
        ok += usize::from(status?? == StatusCode::OK);
    }
    expect(
        ok == 100 && symbl.token_requests() == 2,
        "100 concurrent calls on a cold cache share one fetch",
        &format!(
            "{ok} × 200 OK, 1 more token request ({} in all)",
            symbl.token_requests()
        ),
    )?;

    let (tokens_before, calls_before) = (symbl.token_requests(), symbl.api_requests());
    symbl.revoke_tokens();
    let status = get(&service, &url).await?;
    let refreshes = symbl.token_requests() - tokens_before;
    let sends = symbl.api_requests() - calls_before;
    expect(
        status == StatusCode::OK && refreshes == 1 && sends == 2,
        "a revoked token costs one 401, one refresh and one retry",
        &format!("{status} after {sends} sends and {refreshes} refresh"),
    )?;

    println!("\nAll as expected. Set SYMBL_APP_ID and SYMBL_APP_SECRET to call api.symbl.ai.");
    Ok(())
}

async fn against_symbl() -> Result<(), BoxError> {
    let credentials = Credentials::from_env()?;
    println!(
        "Calling https://api.symbl.ai as app {}",
        credentials.app_id()
    );
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(rustls::crypto::aws_lc_rs::default_provider())?
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(https);
    let service = SymblAuthLayer::new(credentials).layer(client);

    let url = "https://api.symbl.ai/v1/conversations";
    let first = get(&service, url).await?;
    println!("  GET {url} → {first}");
    let second = get(&service, url).await?;
    println!("  again (cached token) → {second}");
    if !first.is_success() || !second.is_success() {
        return Err(format!("Symbl answered {first} and {second}").into());
    }
    println!("\nAuthenticated with Symbl.");
    Ok(())
}
