//! Which requests the token may go to.
//!
//! The rules, in order:
//! 1. A request that already has an `Authorization` header is left as the caller made it.
//! 2. A request whose URI has no authority (tonic's `Channel` and other origin-bound services
//!    add the origin themselves) goes to the wrapped service's own origin: it gets the token.
//! 3. A request to a host that is not allowed passes through untouched. The token URL's host is
//!    allowed, and any added with `allow_host`; ports are not compared.
//! 4. A request to an allowed host over plain `http://` is refused unless the host is loopback
//!    or plain http was allowed explicitly.

use std::borrow::Cow;
use std::net::IpAddr;

use http::uri::Scheme;
use http::Uri;

use crate::builder::LAYER_INSECURE_HTTP;
use crate::redact::redact_url;
use crate::Error;

#[derive(Clone, Debug)]
pub(crate) struct Scope {
    hosts: Vec<String>,
    /// The allowed hosts that are their own host part (no userinfo, no port), each with
    /// whether plain `http://` may go there: an authority equal to one of these is that host,
    /// so the usual request is decided by one comparison.
    exact: Vec<(String, bool)>,
    allow_insecure_http: bool,
}

/// What to do with one request.
#[derive(Debug)]
pub(crate) enum Decision {
    Attach,
    PassThrough,
    Refuse(Error),
}

impl Scope {
    pub(crate) fn new(hosts: Vec<String>, allow_insecure_http: bool) -> Self {
        let exact = hosts
            .iter()
            .filter(|allowed| host_of(allowed) == allowed.as_str())
            .map(|allowed| {
                let plain_http = may_travel(None, allowed, allow_insecure_http);
                (allowed.clone(), plain_http)
            })
            .collect();
        Self {
            hosts,
            exact,
            allow_insecure_http,
        }
    }

    pub(crate) fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The rules above for a request to `uri`, but for the first: the caller checks for its
    /// own `Authorization` where it costs least.
    pub(crate) fn decide(&self, uri: &Uri) -> Decision {
        if let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) {
            let https = *scheme == Scheme::HTTPS;
            if https || *scheme == Scheme::HTTP {
                let exact = self
                    .exact
                    .iter()
                    .find(|(allowed, _)| allowed == authority.as_str());
                if exact.is_some_and(|(_, plain_http)| https || *plain_http) {
                    return Decision::Attach;
                }
            }
        }
        self.decide_target(uri.scheme_str(), host(uri), false)
    }

    /// The rules above for a request to `scheme://host` that has (or has not) its own
    /// `Authorization` header.
    pub(crate) fn decide_target(
        &self,
        scheme: Option<&str>,
        host: Option<&str>,
        authorized: bool,
    ) -> Decision {
        if authorized {
            return Decision::PassThrough;
        }
        let Some(host) = host else {
            return Decision::Attach;
        };
        if !self
            .hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
        {
            return Decision::PassThrough;
        }
        if may_travel(scheme, host, self.allow_insecure_http) {
            Decision::Attach
        } else {
            Decision::Refuse(Error::InsecureTransport {
                host: host.to_owned(),
                setting: LAYER_INSECURE_HTTP,
            })
        }
    }
}

/// An `allow_host` argument as the host the scope compares: lowercase, IPv6 in brackets.
///
/// Only a host name or IP address is taken: a scheme, port, path or userinfo would build a
/// rule that never matches, so each is refused with what to write instead. The message quotes
/// the argument as [`quotable`] makes it, without what may be a secret.
pub(crate) fn allowed_host(host: &str) -> Result<String, Error> {
    let host = host.trim();
    let refuse = |what: &str| {
        Err(Error::config(format!(
            "allow_host({:?}) takes a bare host name or IP address: {what}",
            quotable(host)
        )))
    };
    if host.is_empty() {
        return refuse("it is empty");
    }
    if host.contains("://") {
        return refuse("leave out the scheme (the scheme rules are the same for every host)");
    }
    if host.contains('@') {
        return refuse("leave out the user name and password");
    }
    if host.contains(['/', '?', '#']) {
        return refuse("leave out the path");
    }
    if host.contains('*') {
        return refuse("wildcards are not supported; name each host");
    }
    if let Some(inner) = host.strip_prefix('[') {
        return match inner
            .strip_suffix(']')
            .map(str::parse::<std::net::Ipv6Addr>)
        {
            Some(Ok(_)) => Ok(host.to_ascii_lowercase()),
            _ if inner.contains("]:") => refuse("leave out the port (ports are not compared)"),
            _ => refuse("it is not an IPv6 address in brackets"),
        };
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{}]", host.to_ascii_lowercase()));
    }
    if host.contains(':') {
        return refuse("leave out the port (ports are not compared)");
    }
    let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if !host.bytes().all(valid) {
        return refuse("it has characters a host name cannot have");
    }
    Ok(host.to_ascii_lowercase())
}

/// An `allow_host` argument as an error may quote it: everything before its last `@` (a user
/// name and password, whichever characters they hold: `user:p@ss/w?rd@host`) and any query or
/// fragment replaced by `[redacted]`; a scheme in front is kept.
fn quotable(host: &str) -> Cow<'_, str> {
    let Some(at) = host.rfind('@') else {
        return redact_url(host);
    };
    let scheme = host
        .find("://")
        .filter(|&end| end < at)
        .map_or("", |end| &host[..end + 3]);
    Cow::Owned(format!(
        "{scheme}[redacted]@{}",
        redact_url(&host[at + 1..])
    ))
}

/// The same as `Uri::host`, by plain byte scans: it runs on every request, and `http`'s
/// `rsplit('@')` costs more than the rest of the scope check together.
fn host(uri: &Uri) -> Option<&str> {
    uri.authority().map(|authority| host_of(authority.as_str()))
}

fn host_of(authority: &str) -> &str {
    let bytes = authority.as_bytes();
    let start = bytes
        .iter()
        .rposition(|&b| b == b'@')
        .map_or(0, |at| at + 1);
    let rest = &bytes[start..];
    let len = if rest.first() == Some(&b'[') {
        rest.iter()
            .position(|&b| b == b']')
            .map_or(rest.len(), |end| end + 1)
    } else {
        rest.iter().position(|&b| b == b':').unwrap_or(rest.len())
    };
    // Every split is at an ASCII byte, so always a char boundary.
    authority.get(start..start + len).unwrap_or(authority)
}

/// Whether a token (or the secret that buys one) may travel over `scheme` to `host`.
pub(crate) fn may_travel(scheme: Option<&str>, host: &str, allow_insecure_http: bool) -> bool {
    let encrypted = scheme.is_some_and(|scheme| {
        scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss")
    });
    encrypted || allow_insecure_http || is_loopback(host)
}

/// `localhost`, `*.localhost`, `127.0.0.0/8` and `[::1]`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    // Compared in place: lowering a copy would allocate on every request to a loopback host.
    let subdomain = host
        .len()
        .checked_sub(".localhost".len())
        .and_then(|start| host.get(start..))
        .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"));
    if host.eq_ignore_ascii_case("localhost") || subdomain {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("user:se@cr/et?x@host", r#"allow_host("[redacted]@host")"#),
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
}
