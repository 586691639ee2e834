use super::*;

/// A self-signed certificate for a new key of `alg`: its PEM, the key's PKCS#8 DER.
fn generated(alg: &'static rcgen::SignatureAlgorithm) -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(alg).expect("key");
    let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    (pem::encode("CERTIFICATE", cert.der()), key.serialize_der())
}

/// The key inside a PKCS#8 `PrivateKeyInfo` (PKCS#1 for RSA, SEC1 for EC).
fn inner(pkcs8: &[u8]) -> Vec<u8> {
    let (body, _) = der(0x30, pkcs8);
    let (_, rest) = der(0x02, body);
    let (_, rest) = der(0x30, rest);
    der(0x04, rest).0.to_vec()
}

fn der(tag: u8, input: &[u8]) -> (&[u8], &[u8]) {
    assert_eq!(input[0], tag);
    let (len, start) = match input[1] {
        short if short < 0x80 => (usize::from(short), 2),
        0x81 => (usize::from(input[2]), 3),
        0x82 => (usize::from(input[2]) << 8 | usize::from(input[3]), 4),
        other => panic!("length form {other:#x}"),
    };
    (&input[start..start + len], &input[start + len..])
}

/// Whether the TLS of this build takes the identity: the crate's rustls config, or a reqwest
/// client on native-tls (whose OpenSSL checks the key against the certificate).
fn usable(identity: &ClientIdentity) -> Result<(), Error> {
    #[cfg(tls_rustls)]
    return identity.rustls_config().map(drop);
    #[cfg(not(tls_rustls))]
    return reqwest::Client::builder()
        .tls_backend_native()
        .identity(identity.reqwest()?)
        .build()
        .map(drop)
        .map_err(|err| Error::config("refused").with_source(err));
}

/// Under rustls-no-provider nothing installs a provider in this process.
const PROVIDER_KNOWN: bool = !cfg!(tls_provider = "installed");

#[test]
fn pkcs8_pkcs1_and_sec1_keys_are_taken() {
    let (cert, pkcs8) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (rsa_cert, rsa_pkcs8) = generated(&rcgen::PKCS_RSA_SHA256);
    // SEC1 with its curve (`[0]` prime256v1), as `openssl ecparam -genkey` writes it.
    let sec1 = inner(&pkcs8);
    let (body, _) = der(0x30, &sec1);
    let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (version, rest) = body.split_at(3);
    let (private, public) = rest.split_at(2 + usize::from(rest[1]));
    let mut content = [
        version,
        private,
        &[0xa0, p256.len() as u8],
        &p256[..],
        public,
    ]
    .concat();
    content.splice(0..0, [0x30, content.len() as u8]);
    for (cert, label, der) in [
        (&cert, "PRIVATE KEY", pkcs8.clone()),
        (&cert, "EC PRIVATE KEY", content),
        (&rsa_cert, "RSA PRIVATE KEY", inner(&rsa_pkcs8)),
        (&rsa_cert, "PRIVATE KEY", rsa_pkcs8.clone()),
    ] {
        // Explanatory text and other blocks around the key are skipped.
        let key = format!(
            "a comment\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC \
             PARAMETERS-----\n{}",
            pem::encode(label, &der)
        );
        let identity = ClientIdentity::from_pem(cert, &key).expect(label);
        if PROVIDER_KNOWN {
            usable(&identity).unwrap_or_else(|err| panic!("{label}: {err:?}"));
        }
        // One file holding both, passed twice.
        let both = format!("{cert}{key}");
        ClientIdentity::from_pem(&both, &both).expect("one file");
    }
}

#[test]
fn bad_pem_is_invalid_config_without_quoting_it() {
    let (cert, pkcs8) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let key = pem::encode("PRIVATE KEY", &pkcs8);
    let key_text = key.lines().nth(1).expect("a base64 line").to_owned();
    let truncated = key.lines().take(2).collect::<Vec<_>>().join("\n");
    let bad_base64 = key.replacen(&key_text[..8], "!!!!!!!!", 1);
    let encrypted = key.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY");
    let rfc1421 = key.replacen('\n', "\nProc-Type: 4,ENCRYPTED\n", 1);
    let two = format!("{key}{key}");
    for (cert, key, says) in [
        ("not pem", key.as_str(), "no CERTIFICATE"),
        ("", key.as_str(), "no CERTIFICATE"),
        (cert.as_str(), "", "no PRIVATE KEY"),
        (cert.as_str(), cert.as_str(), "no PRIVATE KEY"),
        (cert.as_str(), truncated.as_str(), "not valid PEM"),
        (cert.as_str(), bad_base64.as_str(), "not valid PEM"),
        (cert.as_str(), encrypted.as_str(), "encrypted"),
        (cert.as_str(), rfc1421.as_str(), "encrypted"),
        (cert.as_str(), two.as_str(), "more than one key"),
    ] {
        let error = ClientIdentity::from_pem(cert, key).expect_err(says);
        assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        assert!(text.contains(says), "{says}: {text}");
        assert!(!text.contains(&key_text[10..30]), "{text}");
    }
    let error = ClientIdentity::from_pem([0xff, 0xfe], &key).expect_err("not UTF-8");
    assert!(error.to_string().contains("not PEM text"), "{error}");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    if !PROVIDER_KNOWN {
        return;
    }
    let (cert, _) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (_, other) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let error = ClientIdentity::from_pem(&cert, pem::encode("PRIVATE KEY", &other))
        .and_then(|identity| usable(&identity))
        .expect_err("a key of another certificate");
    assert!(matches!(error, Error::InvalidConfig { .. }), "{error:?}");
    #[cfg(tls_rustls)]
    assert!(error.to_string().contains("does not belong"), "{error}");
}

#[test]
fn debug_shows_no_key_material() {
    let (cert, pkcs8) = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
    let key = pem::encode("PRIVATE KEY", &pkcs8);
    let identity = ClientIdentity::from_pem(&cert, &key).expect("identity");
    let debug = format!("{identity:?} {identity:#?}");
    assert!(debug.contains("certificates: 1"), "{debug}");
    assert!(debug.contains("PRIVATE KEY [redacted]"), "{debug}");
    let base64 = key.lines().nth(1).expect("a line");
    assert!(!debug.contains(&base64[..16]), "{debug}");
    assert!(!debug.contains(&format!("{:?}", &pkcs8[..8])), "{debug}");
}
