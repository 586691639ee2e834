//! Where a secret (an access token, or the credentials that buy one) may travel in clear: the
//! one rule behind the host scope, the token URL check and the WebSocket's `ws://` check.

use std::net::IpAddr;

/// Whether a token (or the secret that buys one) may travel over `scheme` to `host`: over
/// `https`/`wss` anywhere, over anything else only to loopback or where plain http is
/// allowed explicitly.
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
