//! The builder's checks and its `Debug`.

use super::*;

fn builder() -> SymblAuthLayerBuilder {
    SymblAuthLayer::builder(Credentials::new("id", "secret"))
}

#[test]
fn token_url_host_is_allowed_by_default() {
    let layer = builder()
        .token_url("http://127.0.0.1:9999/oauth2/token:generate")
        .allow_host("Example.COM")
        .build()
        .expect("valid");
    assert_eq!(layer.shared.scope.hosts(), ["127.0.0.1", "example.com"]);
    let layer = SymblAuthLayer::new(Credentials::new("id", "secret"));
    assert_eq!(
        layer.shared.scope.hosts(),
        ["api.symbl.ai", "api-labs.symbl.ai"]
    );
}

#[test]
fn a_layer_from_a_source_needs_its_hosts_named() {
    #[derive(Debug)]
    struct Never;
    impl TokenSource for Never {
        fn fetch_token(&self) -> crate::TokenFuture<'_> {
            Box::pin(std::future::pending())
        }
    }
    let err = SymblAuthLayer::from_source(Never).build().unwrap_err();
    assert!(err.to_string().contains("allow_host"), "{err}");
    let err = SymblAuthLayer::from_source(Never)
        .allow_host("api.example.com")
        .token_url("https://api.example.com/token")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("token_url"), "{err}");
    let layer = SymblAuthLayer::from_source(Never)
        .allow_host("API.example.com")
        .build()
        .expect("valid");
    assert_eq!(layer.shared.scope.hosts(), ["api.example.com"]);
}

#[test]
fn refuses_plain_http_token_url_to_remote_hosts() {
    let err = builder()
        .token_url("http://auth.example.com/token")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InsecureTransport { .. }));
    builder()
        .token_url("http://auth.example.com/token")
        .allow_insecure_http(true)
        .build()
        .expect("opted in");
}

#[test]
fn rejects_bad_settings_with_clear_errors() {
    for url in [
        "not a url",
        "/relative/path",
        "ftp://host/x",
        "https://user:pw@host/x",
    ] {
        let err = builder().token_url(url).build().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{url}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    for host in [" ", "127.0.0.2:8080", "http://host", "host/"] {
        let err = builder().allow_host(host).build().unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{host}");
    }
    let err = builder()
        .token_request_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }));
}

#[test]
fn debug_hides_the_token_urls_query_and_userinfo() {
    let text = format!(
        "{:?}",
        builder().token_url("https://user:pw@auth.example/token?key=KEY123")
    );
    assert!(text.contains("auth.example/token"), "{text}");
    assert!(!text.contains("KEY123") && !text.contains("pw"), "{text}");
}

#[test]
fn debug_shows_settings_but_not_the_secret() {
    let text = format!("{:?}", builder().allow_host("x.example"));
    assert!(text.contains("x.example"));
    assert!(!text.contains("secret\""));
    let text = format!("{:?}", builder().build().expect("valid"));
    assert!(text.contains("api.symbl.ai"));
    assert!(!text.contains("\"secret\""));
}
