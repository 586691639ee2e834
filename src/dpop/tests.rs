use http::HeaderValue;

use super::*;

fn uri(text: &str) -> Uri {
    text.parse().expect("uri")
}

#[test]
fn htu_is_scheme_authority_and_path_without_query_fragment_or_userinfo() {
    let of = |text: &str| htu(&uri(text), None).expect("htu");
    assert_eq!(
        of("https://api.example.com/v1/items?page=2"),
        ("https://api.example.com/v1/items".to_owned(), 23)
    );
    assert_eq!(of("https://api.example.com").0, "https://api.example.com/");
    assert_eq!(
        of("https://user:pw@api.example.com:8443/x").0,
        "https://api.example.com:8443/x"
    );
    assert_eq!(
        of("http://127.0.0.1:3000/a").1,
        "http://127.0.0.1:3000".len()
    );
}

#[test]
fn a_request_without_an_origin_takes_the_setting_or_fails() {
    let path_only = uri("/pkg.Service/Method");
    let error = htu(&path_only, None).expect_err("no origin, no guess");
    assert!(error.to_string().contains("dpop_origin"), "{error}");
    let (htu, origin) = htu(&path_only, Some("https://grpc.example.com")).expect("htu");
    assert_eq!(htu, "https://grpc.example.com/pkg.Service/Method");
    assert_eq!(&htu[..origin], "https://grpc.example.com");
    assert!(super::htu(&uri("api.example.com:443"), None).is_err());
}

#[test]
fn the_origin_setting_is_an_origin_and_nothing_more() {
    assert_eq!(
        checked_origin("https://api.example.com/").expect("origin"),
        "https://api.example.com"
    );
    assert!(checked_origin("http://127.0.0.1:8080").is_ok());
    for bad in [
        "api.example.com",
        "ftp://api.example.com",
        "https://api.example.com/v1",
        "https://api.example.com?x=1",
        "https://user:secret@api.example.com",
        "",
    ] {
        let error = checked_origin(bad).expect_err(bad);
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}

#[test]
fn only_a_dpop_challenge_for_a_nonce_with_the_nonce_asks_for_one() {
    let answer = |challenge: &'static str, nonce: bool| {
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        if nonce {
            headers.insert(DPOP_NONCE, HeaderValue::from_static("n-1"));
        }
        headers
    };
    let asking = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
    assert!(asks_for_nonce(&answer(asking, true)));
    assert!(asks_for_nonce(&answer(
        r#"dpop algs="ES256", error="use_dpop_nonce""#,
        true
    )));
    assert!(!asks_for_nonce(&answer(asking, false)), "no nonce to use");
    assert!(!asks_for_nonce(&answer(
        r#"DPoP error="invalid_token""#,
        true
    )));
    assert!(!asks_for_nonce(&answer(
        r#"Bearer error="use_dpop_nonce""#,
        true
    )));
    assert!(!asks_for_nonce(&answer(
        r#"DPoPX error="use_dpop_nonce""#,
        true
    )));
    // Several challenges in one field, in either order; the error of the DPoP one counts.
    assert!(asks_for_nonce(&answer(
        r#"Bearer realm="api", DPoP algs="ES256 EdDSA", error="use_dpop_nonce""#,
        true
    )));
    assert!(asks_for_nonce(&answer(
        r#"DPoP error=use_dpop_nonce, Bearer"#,
        true
    )));
    assert!(!asks_for_nonce(&answer(
        r#"DPoP algs="ES256", Bearer error="use_dpop_nonce""#,
        true
    )));
    // The words elsewhere, quoted commas included, are not the error.
    assert!(!asks_for_nonce(&answer(
        r#"DPoP error="invalid_token", error_description="not use_dpop_nonce, really""#,
        true
    )));
    assert!(!asks_for_nonce(&answer(
        r#"DPoP error_description="a, error=use_dpop_nonce", error="invalid_token""#,
        true
    )));
}

#[test]
fn nonces_are_kept_per_origin_bounded_and_checked() {
    let nonces = Nonces::default();
    nonces.update("https://a", "n-a");
    nonces.update("https://b", "n-b");
    nonces.update("https://a", "n-a2");
    assert_eq!(nonces.get("https://a").as_deref(), Some("n-a2"));
    assert_eq!(nonces.get("https://b").as_deref(), Some("n-b"));
    // Not NQCHAR, or too long: ignored.
    nonces.update("https://a", "has space");
    nonces.update("https://a", "quote\"");
    nonces.update("https://a", &"x".repeat(MAX_NONCE_LEN + 1));
    assert_eq!(nonces.get("https://a").as_deref(), Some("n-a2"));
    // Full: the origin updated longest ago goes first.
    for n in 0..MAX_NONCE_ORIGINS {
        nonces.update(&format!("https://o{n}"), "n");
    }
    assert_eq!(nonces.get("https://b"), None);
    assert_eq!(nonces.get("https://a"), None);
    assert_eq!(nonces.0.lock().expect("lock").len(), MAX_NONCE_ORIGINS);
    nonces.update("https://o0", "again");
    nonces.update("https://new", "n");
    assert_eq!(
        nonces.get("https://o0").as_deref(),
        Some("again"),
        "recently updated: kept"
    );
    assert_eq!(nonces.get("https://o1"), None, "the oldest went");
}
