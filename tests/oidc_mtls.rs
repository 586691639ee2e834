//! RFC 8705 mutual TLS through the built-in token client: `ClientIdentity` under each TLS
//! feature (`rustls`, `rustls-ring`, `native-tls`; `rustls-no-provider` in
//! `tests/oidc_mtls_installed_provider.rs`), against oidc-provider's listener that asks for
//! client certificates (`tests/oidc_server/`). The cases are in `tests/mtls/`.
#![cfg(all(
    feature = "test-server",
    builtin_client,
    not(tls_provider = "installed")
))]

mod mtls;
mod oidc_server;

#[tokio::test]
async fn the_built_in_client_presents_the_identity_and_gets_bound_tokens() {
    mtls::the_built_in_client_presents_the_identity_and_gets_bound_tokens().await;
}

#[tokio::test]
async fn tls_client_auth_without_a_certificate_is_refused_clearly() {
    mtls::tls_client_auth_without_a_certificate_is_refused_clearly().await;
}
