use super::*;
use crate::cleartext::is_loopback;

fn scope(allow_insecure_http: bool) -> Scope {
    Scope::new(
        vec!["api.symbl.ai".into(), "127.0.0.1".into()],
        allow_insecure_http,
    )
}

fn decide(scope: &Scope, uri: &str) -> Decision {
    scope.decide(&uri.parse().expect("uri"))
}

#[test]
fn attaches_to_allowed_hosts_over_https() {
    let scope = scope(false);
    assert!(matches!(
        decide(&scope, "https://api.symbl.ai/v1/x"),
        Decision::Attach
    ));
    assert!(matches!(
        decide(&scope, "https://API.Symbl.AI:443/v1/x"),
        Decision::Attach
    ));
    assert!(matches!(
        decide(&scope, "http://127.0.0.1:8080/v1"),
        Decision::Attach
    ));
    assert!(matches!(
        decide(&scope, "http://127.0.0.1/v1"),
        Decision::Attach
    ));
}

#[test]
fn passes_other_hosts_through() {
    let scope = scope(false);
    for uri in [
        "https://example.com/",
        "https://api.symbl.ai.evil.com/",
        "https://evil.com/api.symbl.ai",
    ] {
        assert!(
            matches!(decide(&scope, uri), Decision::PassThrough),
            "{uri}"
        );
    }
}

#[test]
fn requests_without_authority_get_the_token() {
    assert!(matches!(
        decide(&scope(false), "/grpc.health.v1.Health/Check"),
        Decision::Attach
    ));
}

#[test]
fn keeps_the_callers_own_authorization() {
    let scope = scope(false);
    assert!(matches!(
        scope.decide_target(Some("https"), Some("api.symbl.ai"), true),
        Decision::PassThrough
    ));
    assert!(matches!(
        scope.decide_target(Some("http"), Some("api.symbl.ai"), true),
        Decision::PassThrough
    ));
}

#[test]
fn refuses_plain_http_to_remote_hosts_unless_allowed() {
    assert!(matches!(
        decide(&scope(false), "http://api.symbl.ai/v1"),
        Decision::Refuse(Error::InsecureTransport { .. })
    ));
    assert!(matches!(
        decide(&scope(true), "http://api.symbl.ai/v1"),
        Decision::Attach
    ));
}

#[test]
fn finds_the_host_as_http_does() {
    for uri in [
        "https://api.symbl.ai/v1",
        "https://api.symbl.ai:443/v1",
        "https://user:pass@api.symbl.ai:8443/v1",
        "http://[::1]:8080/x",
        "http://user@[::1]/x",
        "http://127.0.0.1/",
        "/grpc.health.v1.Health/Check",
    ] {
        let uri: Uri = uri.parse().expect("uri");
        assert_eq!(host(&uri), uri.host(), "{uri}");
    }
}

#[test]
fn only_hosts_without_userinfo_or_port_are_compared_whole() {
    let hosts = [
        "api.symbl.ai",
        "user@api.symbl.ai",
        "api.symbl.ai:443",
        "[::1]",
    ];
    let scope = Scope::new(hosts.map(String::from).to_vec(), false);
    let exact: Vec<_> = scope.exact.iter().map(|(host, _)| host.as_str()).collect();
    assert_eq!(exact, ["api.symbl.ai", "[::1]"]);
    assert!(matches!(
        decide(&scope, "https://user@api.symbl.ai/v1"),
        Decision::Attach
    ));
    assert!(matches!(
        decide(&scope, "http://api.symbl.ai/v1"),
        Decision::Refuse(_)
    ));
}

#[test]
fn allowed_hosts_are_bare_hosts() {
    for (given, taken) in [
        ("api.symbl.ai", "api.symbl.ai"),
        (" API.Symbl.AI ", "api.symbl.ai"),
        ("127.0.0.2", "127.0.0.2"),
        ("[::1]", "[::1]"),
        ("::1", "[::1]"),
        ("my_host.internal", "my_host.internal"),
    ] {
        assert_eq!(allowed_host(given).expect(given), taken);
    }
    for (given, says) in [
        ("127.0.0.2:8080", "port"),
        ("[::1]:8080", "port"),
        ("http://host", "scheme"),
        ("host/", "path"),
        ("host/v1", "path"),
        ("user:secret@host", "password"),
        ("*.symbl.ai", "wildcards"),
        ("", "empty"),
        ("ho st", "characters"),
        ("[zz]", "IPv6"),
    ] {
        let error = allowed_host(given).expect_err(given).to_string();
        assert!(error.contains(says), "{given}: {error}");
        assert!(!error.contains("secret"), "{error}");
    }
}

#[test]
fn a_refused_host_is_quoted_without_its_user_name_and_password() {
    for (given, shown) in [
        ("user@host", r#"allow_host("[redacted]@host")"#),
        ("user:secret@host", r#"allow_host("[redacted]@host")"#),
        ("user:se@cr/et?x@host", r#"allow_host("[redacted]")"#),
        (
            "https://user:secret@host/v1",
            r#"allow_host("https://[redacted]@host/v1")"#,
        ),
        ("host/v1?key=secret", r#"allow_host("host/v1?[redacted]")"#),
        ("host:8080", r#"allow_host("host:8080")"#),
    ] {
        let error = allowed_host(given).expect_err(given).to_string();
        assert!(error.contains(shown), "{given}: {error}");
        assert!(
            !error.contains("secret") && !error.contains("user@") && !error.contains("user:"),
            "{error}"
        );
    }
}

#[test]
fn knows_loopback_hosts() {
    for host in [
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "127.0.0.1",
        "127.9.9.9",
        "[::1]",
    ] {
        assert!(is_loopback(host), "{host}");
    }
    for host in [
        "10.0.0.1",
        "localhost.evil.com",
        "api.symbl.ai",
        "[::2]",
        "128.0.0.1",
    ] {
        assert!(!is_loopback(host), "{host}");
    }
}
