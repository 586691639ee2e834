//! A test PKI for oidc-provider's TLS listener (RFC 8705 tests): a CA, a server certificate for
//! 127.0.0.1 and a client certificate `CN=mtls-client`, with `ca.pem`, `server.pem` and
//! `server.key` written to a directory of their own for `server.mjs`.

use std::path::PathBuf;

use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

pub struct Pki {
    /// Holds `ca.pem`, `server.pem` and `server.key`.
    pub dir: PathBuf,
    pub ca: CertificateDer<'static>,
    pub ca_pem: String,
    pub client_pem: String,
    pub client_key_pem: String,
    pub client_chain: Vec<CertificateDer<'static>>,
    pub client_key: PrivatePkcs8KeyDer<'static>,
}

/// A new PKI, its files under a temporary directory named after `tag` and this process.
pub fn generate(tag: &str) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    };
    let dir = std::env::temp_dir().join(format!("symbl-auth-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let named = |common_name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
    };
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = named("symbl-auth test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let client_key = KeyPair::generate().expect("key");
    let client = named("mtls-client")
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    let ca_pem = pem("CERTIFICATE", ca.der());
    for (name, text) in [
        ("ca.pem", ca_pem.clone()),
        ("server.pem", pem("CERTIFICATE", server.der())),
        (
            "server.key",
            pem("PRIVATE KEY", &server_key.serialize_der()),
        ),
    ] {
        std::fs::write(dir.join(name), text).expect("write");
    }
    Pki {
        dir,
        ca: ca.der().clone(),
        ca_pem,
        client_pem: pem("CERTIFICATE", client.der()),
        client_key_pem: pem("PRIVATE KEY", &client_key.serialize_der()),
        client_chain: vec![client.der().clone()],
        client_key: client_key.serialize_der().into(),
    }
}

/// `der` in PEM, under `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
