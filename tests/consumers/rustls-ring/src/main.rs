//! An app on rustls with ring only, and symbl-auth on `rustls-ring`: the layer fetches a token
//! over TLS from a token endpoint on loopback, installing no process-level `CryptoProvider`;
//! then the app's own `rustls::ClientConfig::builder()` works (it panics when a second provider,
//! aws-lc-rs, is compiled in and none is installed) and makes a TLS connection of its own.
//! Exits non-zero on failure.
//!
//! The endpoint's certificate is trusted the way a system root is: the crate's verifier reads the
//! platform's roots, which on Linux come from `SSL_CERT_FILE` when it is set.

#[path = "../../common/endpoint.rs"]
mod endpoint;

use std::process::ExitCode;
use std::sync::Arc;

use endpoint::{check, Failure, Served, APP_ID, APP_SECRET, TOKEN};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use symbl_auth::{Credentials, SymblAuthLayer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> ExitCode {
    // Before any thread starts: the roots the crate's verifier reads at its first handshake.
    std::env::set_var("SSL_CERT_FILE", endpoint::CERT_PEM);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Failure> {
    let cert = CertificateDer::from_pem_file(endpoint::CERT_PEM)?;
    let key = PrivateKeyDer::from_pem_file(endpoint::KEY_PEM)?;
    // The endpoint names its provider, so that nothing is installed before the checks below.
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let served = Arc::new(Served::default());
    let on_server = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, served) = (acceptor.clone(), Arc::clone(&on_server));
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    endpoint::answer(stream, &served).await;
                }
            });
        }
    });

    let layer = SymblAuthLayer::builder(Credentials::new(APP_ID, APP_SECRET))
        .token_url(format!("https://{addr}/oauth2/token:generate"))
        .build()?;
    let token = layer.access_token().await?;
    check(
        token.secret() == TOKEN && served.tokens() == 1,
        format!("a token fetched over TLS on ring: {token:?}, {served:?}"),
    )?;
    check(
        CryptoProvider::get_default().is_none(),
        "symbl-auth installed no process-level CryptoProvider",
    )?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert)?;
    let built = std::panic::catch_unwind(move || {
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth()
    });
    check(
        built.is_ok(),
        "the app's own rustls::ClientConfig::builder() works (ring is the only provider in the build)",
    )?;
    let config = built.map_err(|_| "ClientConfig::builder() panicked")?;

    // The app's own config on its own connection: a token request by hand.
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    let body = format!(r#"{{"type":"application","appId":"{APP_ID}","appSecret":"{APP_SECRET}"}}"#);
    let request = format!(
        "POST /oauth2/token:generate HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await?;
    check(
        answer.starts_with("HTTP/1.1 200 OK") && served.tokens() == 2,
        "the app's own config made a TLS connection to the same endpoint",
    )?;
    Ok(())
}
