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

use http::uri::Scheme;
use http::Uri;

use crate::cleartext::may_travel;
use crate::redact::redact_url;
use crate::Error;

/// The setting [`Error::InsecureTransport`] names for what a layer sends: its token request
/// and the requests it attaches the token to.
pub(crate) const LAYER_INSECURE_HTTP: &str = "SymblAuthLayerBuilder::allow_insecure_http";

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
/// the argument as [`redact_url`] prints any URL, without what may be a secret.
pub(crate) fn allowed_host(host: &str) -> Result<String, Error> {
    let host = host.trim();
    let refuse = |what: &str| {
        Err(Error::config(format!(
            "allow_host({:?}) takes a bare host name or IP address: {what}",
            redact_url(host)
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

#[cfg(test)]
mod tests;
