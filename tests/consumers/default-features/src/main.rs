//! An app on symbl-auth's default features: the built-in client fetches a token over TLS from a
//! token endpoint on loopback whose certificate the app adds through `http_client`, the layer
//! puts it on the app's API calls (a hyper-util client), and no process-level `CryptoProvider`
//! is installed along the way. Exits non-zero on failure.

#[path = "../../common/api.rs"]
mod api;
#[path = "../../common/endpoint.rs"]
mod endpoint;

use std::process::ExitCode;
use std::sync::Arc;

use endpoint::{check, Failure, Served, APP_ID, APP_SECRET};
use http::StatusCode;
use symbl_auth::{reqwest, Credentials, SymblAuthLayer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tower_layer::Layer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    // The token endpoint over TLS; the API over plain http, both on loopback.
    let cert = CertificateDer::from_pem_file(endpoint::CERT_PEM)?;
    let key = PrivateKeyDer::from_pem_file(endpoint::KEY_PEM)?;
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let tls_addr = tls_listener.local_addr()?;
    let served = Arc::new(Served::default());
    let on_server = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((stream, _)) = tls_listener.accept().await {
            let (acceptor, served) = (acceptor.clone(), Arc::clone(&on_server));
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    endpoint::answer(stream, &served).await;
                }
            });
        }
    });
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_base = format!("http://{}", api_listener.local_addr()?);
    endpoint::serve_plain(api_listener, Arc::clone(&served));

    let root = reqwest::Certificate::from_pem(&std::fs::read(endpoint::CERT_PEM)?)?;
    let layer = SymblAuthLayer::builder(Credentials::new(APP_ID, APP_SECRET))
        .token_url(format!("https://{tls_addr}/oauth2/token:generate"))
        .http_client(move |client| client.tls_certs_merge([root.clone()]))
        .build()?;
    let mut symbl = layer.layer(api::api_client());
    for _ in 0..2 {
        let status = api::get_conversations(&mut symbl, &api_base).await?;
        check(status == StatusCode::OK, format!("an API call: {status}"))?;
    }
    check(
        served.tokens() == 1 && served.api_ok() == 2 && served.api_unauthorized() == 0,
        format!("one token over TLS served both API calls: {served:?}"),
    )?;
    check(
        CryptoProvider::get_default().is_none(),
        "symbl-auth installed no process-level CryptoProvider",
    )?;
    Ok(())
}
