//! Client assertions, DPoP proofs and keys on the rustls provider.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::*;

const ES256_PEM: &str = include_str!("../../../tests/keys/es256.pem");
const ES256_JWK: &str = include_str!("../../../tests/keys/es256.jwk");
const EDDSA_PEM: &str = include_str!("../../../tests/keys/eddsa.pem");
const EDDSA_JWK: &str = include_str!("../../../tests/keys/eddsa.jwk");
const RS256_PEM: &str = include_str!("../../../tests/keys/rs256.pem");
const RS256_JWK: &str = include_str!("../../../tests/keys/rs256.jwk");
const ES384_PEM: &str = include_str!("../../../tests/keys/es384.pem");

fn part(jwt: &str, index: usize) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(index).expect("part"))
        .expect("base64url")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

fn assertion_of(source: &ClientCredentials) -> (std::collections::HashMap<String, String>, String) {
    let request = built(source);
    assert!(request.headers().get(header::AUTHORIZATION).is_none());
    let fields = form_fields(&request);
    let jwt = fields["client_assertion"].clone();
    (fields, jwt)
}

#[test]
fn keys_load_from_pem_and_jwk_alike() {
    for (pem, jwk, alg, signature_len) in [
        (ES256_PEM, ES256_JWK, "ES256", 64),
        (EDDSA_PEM, EDDSA_JWK, "EdDSA", 64),
        (RS256_PEM, RS256_JWK, "RS256", 256),
    ] {
        let from_pem = PrivateKey::from_pem(pem).expect("PEM");
        let from_jwk = PrivateKey::from_jwk(jwk).expect("JWK");
        assert_eq!(from_pem.algorithm(), alg);
        assert_eq!(from_jwk.algorithm(), alg);
        // The same key: the same public JWK, which is the JWK's own public members.
        assert_eq!(from_pem.inner.public_jwk, from_jwk.inner.public_jwk);
        let public = json(from_pem.inner.public_jwk.as_bytes());
        let private = json(jwk.as_bytes());
        for (name, value) in public.as_object().expect("object") {
            assert_eq!(&private[name], value, "{alg} {name}");
        }
        let signature = from_pem.inner.sign(from_pem.alg, b"message").expect("sign");
        assert_eq!(signature.len(), signature_len, "{alg}");
    }
    let pss = PrivateKey::from_pem(RS256_PEM)
        .expect("PEM")
        .ps256()
        .expect("RSA");
    assert_eq!(pss.algorithm(), "PS256");
    assert!(PrivateKey::from_pem(ES256_PEM)
        .expect("PEM")
        .ps256()
        .is_err());
}

#[test]
fn unusable_keys_are_config_errors_that_quote_nothing() {
    let es384 = PrivateKey::from_pem(ES384_PEM).unwrap_err();
    assert!(es384.to_string().contains("P-256"), "{es384}");
    let secret_d = json(ES256_JWK.as_bytes())["d"]
        .as_str()
        .expect("d")
        .to_owned();
    let mut wrong = json(ES256_JWK.as_bytes());
    wrong["crv"] = Value::from("P-521");
    let truncated = &ES256_JWK[..ES256_JWK.len() / 2];
    for bad in [
        PrivateKey::from_pem("not a pem").unwrap_err(),
        PrivateKey::from_pem(&ES256_PEM[..ES256_PEM.len() / 2]).unwrap_err(),
        PrivateKey::from_jwk(truncated).unwrap_err(),
        PrivateKey::from_jwk(wrong.to_string()).unwrap_err(),
        PrivateKey::from_jwk(r#"{"kty":"EC","crv":"P-256","d":"!!","x":"","y":""}"#).unwrap_err(),
    ] {
        assert!(matches!(bad, Error::InvalidConfig { .. }), "{bad}");
        let text = format!("{bad} {bad:?}");
        assert!(!text.contains(&secret_d) && !text.contains("MIG"), "{text}");
    }
    let key = PrivateKey::from_jwk(ES256_JWK).expect("JWK").key_id("k1");
    let debug = format!("{key:?} {:?}", AuthMethod::PrivateKeyJwt(key.clone()));
    assert!(debug.contains("ES256") && debug.contains("k1"), "{debug}");
    assert!(!debug.contains(&secret_d), "{debug}");
}

#[test]
fn private_key_jwt_sends_a_new_assertion_every_time() {
    let url = "https://auth.example/oauth2/token";
    let key = PrivateKey::from_pem(ES256_PEM).expect("PEM").key_id("k1");
    let source =
        ClientCredentials::new(url, "client-1", "").auth_method(AuthMethod::PrivateKeyJwt(key));
    let (fields, first) = assertion_of(&source);
    assert_eq!(
        fields["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(fields["client_id"], "client-1");
    assert!(!fields.contains_key("client_secret"));
    let header = json(&part(&first, 0));
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
    );
    let claims = json(&part(&first, 1));
    assert_eq!(claims["iss"], "client-1");
    assert_eq!(claims["sub"], "client-1");
    assert_eq!(claims["aud"], url);
    let iat = claims["iat"].as_u64().expect("iat");
    let exp = claims["exp"].as_u64().expect("exp");
    assert!(exp > iat && exp - iat <= 60, "{claims}");
    let now = super::super::jose::now_secs();
    assert!(iat.abs_diff(now) <= 5);
    assert_eq!(part(&first, 2).len(), 64);
    let (_, second) = assertion_of(&source);
    assert_ne!(json(&part(&second, 1))["jti"], claims["jti"]);
}

#[test]
fn client_secret_jwt_is_hs256_under_the_secret() {
    let secret = "a secret of at least thirty-two bytes!";
    let source = ClientCredentials::new("https://auth.example/token", "c", secret)
        .auth_method(AuthMethod::ClientSecretJwt);
    let (fields, jwt) = assertion_of(&source);
    assert!(!body_of(&built(&source)).contains("thirty"));
    assert_eq!(fields["client_id"], "c");
    assert_eq!(
        json(&part(&jwt, 0)),
        serde_json::json!({"alg": "HS256", "typ": "JWT"})
    );
    let (input, _) = jwt.rsplit_once('.').expect("signed");
    let provider = crate::tls::provider().expect("provider");
    let tag = super::super::jose::hmac_sha256(&provider, secret.as_bytes(), input.as_bytes())
        .expect("hmac");
    assert_eq!(part(&jwt, 2), tag);
}

#[test]
fn an_assertion_file_is_read_at_every_request() {
    let dir = std::env::temp_dir().join(format!("symbl-auth-assertion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("token");
    std::fs::write(&path, "first.jwt.x\n").expect("write");
    let source = ClientCredentials::new("https://auth.example/token", "c", "")
        .auth_method(AuthMethod::ClientAssertion(ClientAssertion::file(&path)));
    assert_eq!(assertion_of(&source).1, "first.jwt.x");
    std::fs::write(&path, "second.jwt.y").expect("write");
    assert_eq!(assertion_of(&source).1, "second.jwt.y");
    std::fs::remove_file(&path).expect("remove");
    let error = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(source.request(source.token_url()))
        .unwrap_err();
    assert!(matches!(error, Error::CredentialsFile { .. }), "{error}");
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn an_assertion_function_gets_the_client_and_audience() {
    let source = ClientCredentials::new("https://auth.example/token", "c", "").auth_method(
        AuthMethod::ClientAssertion(ClientAssertion::from_fn(|request| {
            let made = format!("{}|{}", request.client_id(), request.audience());
            async move { Ok(made) }
        })),
    );
    assert_eq!(assertion_of(&source).1, "c|https://auth.example/token");
}
