//! Names for what the feature combination means, so that the code states each rule once:
//!
//! - `builtin_client`: the built-in token client (reqwest) is compiled in: any of `rustls`,
//!   `rustls-ring`, `rustls-no-provider`, `native-tls`.
//! - `tls_provider = "aws-lc-rs" | "ring" | "installed"`: the rustls crypto provider, the first
//!   of `rustls`, `rustls-ring`, `rustls-no-provider` that is on (features are additive, so
//!   several may be).
//! - `tls_rustls`: any of those three, so rustls is the TLS, and the crate builds rustls
//!   configs itself (with the provider above): for reqwest under ring, which cannot take a
//!   provider otherwise, for a plain-http token URL (no CA store read), and for the WebSocket.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(builtin_client, tls_rustls)");
    println!(
        "cargo::rustc-check-cfg=cfg(tls_provider, values(\"aws-lc-rs\", \"ring\", \"installed\"))"
    );
    let on = |feature: &str| {
        let name = feature.to_uppercase().replace('-', "_");
        std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some()
    };
    let provider = [
        ("rustls", "aws-lc-rs"),
        ("rustls-ring", "ring"),
        ("rustls-no-provider", "installed"),
    ]
    .into_iter()
    .find(|(feature, _)| on(feature))
    .map(|(_, provider)| provider);
    if provider.is_some() || on("native-tls") {
        println!("cargo::rustc-cfg=builtin_client");
    }
    if let Some(provider) = provider {
        println!("cargo::rustc-cfg=tls_rustls");
        println!("cargo::rustc-cfg=tls_provider=\"{provider}\"");
    }
}
