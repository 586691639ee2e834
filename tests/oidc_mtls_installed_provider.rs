//! `tests/oidc_mtls.rs` under `rustls-no-provider` alone: the identity is loaded by the
//! provider the app installs (aws-lc-rs here), in a test binary of its own, as the provider is
//! process-wide.
#![cfg(all(feature = "test-server", tls_provider = "installed"))]

mod mtls;
mod oidc_server;

fn install_provider() {
    use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
    // Both tests install it; the second finds it there.
    let _ = CryptoProvider::install_default(aws_lc_rs::default_provider());
}

#[tokio::test]
async fn the_built_in_client_presents_the_identity_and_gets_bound_tokens() {
    install_provider();
    mtls::the_built_in_client_presents_the_identity_and_gets_bound_tokens().await;
}

#[tokio::test]
async fn tls_client_auth_without_a_certificate_is_refused_clearly() {
    install_provider();
    mtls::tls_client_auth_without_a_certificate_is_refused_clearly().await;
}
