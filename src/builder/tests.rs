//! The builder's checks and its `Debug`.

use super::*;
use crate::SymblAuthLayer;

/// A builder for Symbl's endpoint; without a built-in client, with a token client that is never
/// called (these tests build layers and fetch nothing).
fn builder() -> SymblAuthLayerBuilder {
    let builder = SymblAuthLayer::builder(Credentials::new("id", "secret"));
    #[cfg(any(not(builtin_client), tls_provider = "installed"))]
    let builder = builder.token_client(Unused);
    builder
}

/// A tower HTTP service for `token_client` that these tests never call.
#[cfg(any(not(builtin_client), tls_provider = "installed"))]
#[derive(Clone)]
struct Unused;

#[cfg(any(not(builtin_client), tls_provider = "installed"))]
impl tower_service::Service<http::Request<http_body_util::Full<bytes::Bytes>>> for Unused {
    type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = crate::BoxError;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<http_body_util::Full<bytes::Bytes>>) -> Self::Future {
        unreachable!("these tests fetch no token")
    }
}

#[test]
fn token_url_host_is_allowed_by_default() {
    let layer = builder()
        .token_url("http://127.0.0.1:9999/oauth2/token:generate")
        .allow_host("Example.COM")
        .build()
        .expect("valid");
    assert_eq!(layer.shared.scope.hosts(), ["127.0.0.1", "example.com"]);
    let layer = builder().build().expect("the defaults are valid");
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

/// A source for the tests that need a layer but no token: it needs no HTTP client, so they
/// build under every feature set.
#[derive(Debug)]
struct NoTokens;

impl TokenSource for NoTokens {
    fn fetch_token(&self) -> crate::TokenFuture<'_> {
        Box::pin(std::future::pending())
    }
}

fn from_source() -> SymblAuthLayerBuilder {
    SymblAuthLayer::from_source(NoTokens).allow_host("api.example.com")
}

/// This file's source, whose doc comments the tests below hold to the code.
const SOURCE: &str = include_str!("settings.rs");

/// The doc comment of `pub fn {name}` in this module, its lines joined with spaces.
fn doc_of(name: &str) -> String {
    let at = SOURCE
        .find(&format!("pub fn {name}("))
        .unwrap_or_else(|| panic!("no `pub fn {name}` in builder/settings.rs"));
    let mut lines: Vec<&str> = SOURCE[..at]
        .lines()
        .rev()
        .skip(1) // the indentation before `pub fn`
        .map(str::trim)
        .skip_while(|line| line.starts_with("#[")) // its attributes
        .take_while(|line| line.starts_with("///"))
        .map(|line| line.trim_start_matches('/').trim())
        .collect();
    lines.reverse();
    lines.join(" ")
}

/// `"5 minutes"`, `"10 s"`, `"64 KiB"`, … as a number of the base unit (seconds or bytes),
/// from the start of `text`.
fn amount(text: &str) -> u64 {
    let mut words = text.split_whitespace();
    let number: u64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number at the start of {text:?}"));
    let unit = words.next().unwrap_or_default();
    let unit = unit.trim_end_matches([',', '.', ';', ')']);
    number
        * match unit {
            "s" | "second" | "seconds" => 1,
            "min" | "minute" | "minutes" => 60,
            "KiB" => 1024,
            "bytes" => 1,
            _ => panic!("unknown unit in {text:?}"),
        }
}

/// The numeric settings: their name, the constant their doc links as the default, its value
/// in seconds or bytes, what a fresh builder holds, and a builder with the setting at zero.
#[allow(clippy::type_complexity)]
fn numeric_settings() -> Vec<(&'static str, &'static str, u64, u64, SymblAuthLayerBuilder)> {
    type B = SymblAuthLayerBuilder;
    let fresh = from_source();
    let secs = |d: Duration| d.as_secs();
    #[allow(unused_mut)]
    let mut settings = vec![
        (
            "refresh_window",
            "Self::DEFAULT_REFRESH_WINDOW",
            secs(B::DEFAULT_REFRESH_WINDOW),
            secs(fresh.timings.refresh_window),
            from_source().refresh_window(Duration::ZERO),
        ),
        (
            "token_request_timeout",
            "Self::DEFAULT_TOKEN_REQUEST_TIMEOUT",
            secs(B::DEFAULT_TOKEN_REQUEST_TIMEOUT),
            secs(fresh.timings.attempt_timeout),
            from_source().token_request_timeout(Duration::ZERO),
        ),
        (
            "token_retry_budget",
            "Self::DEFAULT_TOKEN_RETRY_BUDGET",
            secs(B::DEFAULT_TOKEN_RETRY_BUDGET),
            secs(fresh.timings.retry_budget),
            from_source().token_retry_budget(Duration::ZERO),
        ),
        (
            "failure_cooldown",
            "Self::DEFAULT_FAILURE_COOLDOWN",
            secs(B::DEFAULT_FAILURE_COOLDOWN),
            secs(fresh.timings.failure_cooldown),
            from_source().failure_cooldown(Duration::ZERO),
        ),
        (
            "replay_limit",
            "crate::DEFAULT_REPLAY_LIMIT",
            DEFAULT_REPLAY_LIMIT as u64,
            fresh.replay_limit as u64,
            from_source().replay_limit(0),
        ),
    ];
    #[cfg(feature = "websocket")]
    settings.push((
        "handshake_timeout",
        "Self::DEFAULT_HANDSHAKE_TIMEOUT",
        secs(B::DEFAULT_HANDSHAKE_TIMEOUT),
        secs(fresh.handshake_timeout),
        from_source().handshake_timeout(Duration::ZERO),
    ));
    settings
}

#[test]
fn each_setting_documents_the_default_a_fresh_builder_uses() {
    for (name, constant, value, fresh, _) in numeric_settings() {
        assert_eq!(fresh, value, "a fresh builder's {name} is not {constant}");
        let doc = doc_of(name);
        let link = format!("]({constant})");
        let end = doc
            .find(&link)
            .unwrap_or_else(|| panic!("{name}'s doc does not link {constant}: {doc}"));
        let start = doc[..end].rfind('[').expect("a link text");
        assert!(
            doc[..start].to_lowercase().trim_end().ends_with("default"),
            "{name}'s doc does not call {constant} its default: {doc}"
        );
        assert_eq!(
            amount(&doc[start + 1..end]),
            value,
            "{name}'s doc says its default is {:?}, but {constant} is {value}",
            &doc[start + 1..end]
        );
    }
}

#[test]
fn the_readme_table_states_the_same_defaults_and_zeros() {
    let readme = include_str!("../../README.md");
    for (name, constant, value, _, _) in numeric_settings() {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}`")))
            .unwrap_or_else(|| panic!("no row for {name} in the README's configuration table"));
        let columns: Vec<&str> = row.split('|').map(str::trim).collect();
        let (default, zero) = (columns[2], columns[3]);
        assert_eq!(
            amount(default),
            value,
            "the README says {name}'s default is {default:?}, but {constant} is {value}"
        );
        assert_eq!(
            zero.starts_with("refused"),
            doc_of(name).contains("Zero is refused"),
            "the README's `0` column for {name} ({zero:?}) and its doc disagree"
        );
    }
}

#[test]
fn zero_is_refused_at_build_exactly_where_the_doc_says_so() {
    for (name, _, _, _, zero) in numeric_settings() {
        let doc = doc_of(name);
        assert!(
            doc.contains("Zero "),
            "{name}'s doc does not say what zero means: {doc}"
        );
        let refused = doc.contains("Zero is refused");
        match zero.build() {
            Err(Error::InvalidConfig { reason }) if refused => {
                assert!(reason.to_string().contains(name), "{name}: {reason}");
            }
            Ok(_) if !refused => {}
            other => panic!("{name}(0): the doc says refused: {refused}; build gave {other:?}"),
        }
    }
}
