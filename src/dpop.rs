//! DPoP on API requests (RFC 9449 §7): a fresh proof with each request that carries a token
//! bound to a key, and the resource servers' nonces, kept per origin (§9).
//!
//! Nothing here runs for a Bearer token: the request path asks the token for its binding and
//! goes on as before when it has none.

use std::fmt;
use std::sync::{Arc, Mutex};

use http::header::{HeaderName, AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, Uri};

use crate::cache::Token;
use crate::Error;

/// The header that carries a proof, and the one that carries a server's nonce (§4.1, §8.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The most origins whose nonce a layer keeps; the one updated longest ago goes first. A layer
/// talks to a handful of APIs; the bound keeps a stream of redirects or hostile hosts from
/// growing it.
pub(crate) const MAX_NONCE_ORIGINS: usize = 64;

/// The longest nonce kept (§8.1: `1*NQCHAR`, opaque): a longer one is ignored, so a hostile
/// server cannot grow every proof.
const MAX_NONCE_LEN: usize = 512;

/// A layer's DPoP state: the origin for requests without one, and the servers' nonces.
#[derive(Debug, Default)]
pub(crate) struct Dpop {
    /// `scheme://authority` for a request whose URI has none (`SymblAuthLayerBuilder::dpop_origin`).
    origin: Option<String>,
    nonces: Arc<Nonces>,
}

/// The latest nonce of each origin, most recently updated last.
#[derive(Debug, Default)]
struct Nonces(Mutex<Vec<(Box<str>, Box<str>)>>);

/// One request sent with a key-bound token: what its proof was made for, so the nonce its
/// answer carries is kept for the right origin and a nonce retry can be proven again.
pub(crate) struct Proven {
    /// The token the request carried (its binding makes the next proof).
    pub(crate) token: Token,
    method: Method,
    /// The proof's `htu`; its first `origin` bytes are the origin.
    htu: String,
    origin: usize,
    nonces: Arc<Nonces>,
}

impl Dpop {
    pub(crate) fn new(origin: Option<String>) -> Self {
        Self {
            origin,
            nonces: Arc::default(),
        }
    }

    /// Adds `token` to `request`: its `Authorization: DPoP …` and a proof for this request.
    /// Fails, sending nothing, when the proof cannot be made: a request without an origin and
    /// no `dpop_origin` (a guessed `htu` would be refused, or worse, accepted elsewhere), or a
    /// signer that fails.
    pub(crate) fn prove<B>(
        &self,
        request: &mut Request<B>,
        token: Token,
    ) -> Result<Box<Proven>, Error> {
        let method = request.method().clone();
        let (htu, origin) = htu(request.uri(), self.origin.as_deref())?;
        self.proven(method, htu, origin, request.headers_mut(), token)
    }

    /// [`prove`](Self::prove), for a request given as its parts (reqwest's).
    #[cfg(feature = "reqwest-middleware")]
    pub(crate) fn prove_parts(
        &self,
        method: Method,
        uri: &Uri,
        headers: &mut HeaderMap,
        token: Token,
    ) -> Result<Box<Proven>, Error> {
        let (htu, origin) = htu(uri, self.origin.as_deref())?;
        self.proven(method, htu, origin, headers, token)
    }

    fn proven(
        &self,
        method: Method,
        htu: String,
        origin: usize,
        headers: &mut HeaderMap,
        token: Token,
    ) -> Result<Box<Proven>, Error> {
        let proven = Box::new(Proven {
            token,
            method,
            htu,
            origin,
            nonces: Arc::clone(&self.nonces),
        });
        proven.attach(headers)?;
        Ok(proven)
    }
}

impl Proven {
    /// Puts the token and a fresh proof, with the origin's latest nonce, in `headers`.
    fn attach(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let Some(binding) = &self.token.binding else {
            return Err(Error::config("a DPoP proof was asked for a Bearer token"));
        };
        let nonce = self.nonces.get(self.origin());
        let proof = binding.proof(&self.method, &self.htu, nonce.as_deref())?;
        headers.insert(AUTHORIZATION, self.token.header.clone());
        headers.insert(DPOP, proof);
        Ok(())
    }

    /// The same request again with `token` (the same one after a nonce challenge, a new one
    /// after a rejection): a new proof, which picks up the nonce the last answer brought.
    pub(crate) fn again(&mut self, headers: &mut HeaderMap, token: Token) -> Result<(), Error> {
        self.token = token;
        self.attach(headers)
    }

    /// Keeps the nonce an answer from the request's origin carries, whatever its status (§8.2,
    /// §9: a server may send the next nonce on any response).
    pub(crate) fn saw(&self, answer: &HeaderMap) {
        if let Some(nonce) = answer.get(DPOP_NONCE).and_then(|value| value.to_str().ok()) {
            self.nonces.update(self.origin(), nonce);
        }
    }

    fn origin(&self) -> &str {
        &self.htu[..self.origin]
    }
}

impl fmt::Debug for Proven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proven")
            .field("method", &self.method)
            .field("htu", &self.htu)
            .finish_non_exhaustive()
    }
}

/// Whether a 401 asks for a nonce (RFC 9449 §9): a `DPoP` challenge whose `error` is
/// `use_dpop_nonce`, in any `WWW-Authenticate` field (one field may hold several challenges,
/// RFC 9110 §11.6.1), with a `DPoP-Nonce` to use. Such a 401 does not reject the token.
pub(crate) fn asks_for_nonce(answer: &HeaderMap) -> bool {
    answer.contains_key(DPOP_NONCE)
        && answer
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .any(|field| dpop_error_is_nonce(field.as_bytes()))
}

/// Walks a `WWW-Authenticate` field's comma-separated items (quoted commas are text): an item
/// that is not `name=value` starts a challenge (`scheme [name=value]`); the others are its
/// parameters. True if a `DPoP` challenge has `error` `use_dpop_nonce`, quoted or not.
fn dpop_error_is_nonce(field: &[u8]) -> bool {
    let mut in_dpop = false;
    for item in items(field) {
        let item = item.trim_ascii();
        let param = match item.iter().position(u8::is_ascii_whitespace) {
            Some(end) if !item[..end].contains(&b'=') => {
                in_dpop = item[..end].eq_ignore_ascii_case(b"dpop");
                item[end..].trim_ascii()
            }
            _ if !item.contains(&b'=') => {
                in_dpop = item.eq_ignore_ascii_case(b"dpop");
                continue;
            }
            _ => item,
        };
        let Some(at) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (param[..at].trim_ascii(), param[at + 1..].trim_ascii());
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        if in_dpop && name.eq_ignore_ascii_case(b"error") && value == b"use_dpop_nonce" {
            return true;
        }
    }
    false
}

/// A field's items, split at commas outside quoted strings.
fn items(field: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut quoted = false;
    let mut escaped = false;
    field.split(move |&b| {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') if quoted => escaped = true,
            (false, b'"') => quoted = !quoted,
            _ => {}
        }
        b == b',' && !quoted
    })
}

/// A request's `htu` (§4.2: scheme, authority and path; no query, no fragment, no user
/// information) and the length of its origin part. A URI without an authority takes
/// `origin`, the layer's `dpop_origin`; without one, nothing is guessed.
fn htu(uri: &Uri, origin: Option<&str>) -> Result<(String, usize), Error> {
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let (scheme, authority) =
        match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => (scheme, authority.as_str()),
            (None, None) => {
                let origin = origin.ok_or_else(|| {
                    Error::config(
                    "this request's URI has no scheme and authority (a tonic Channel's), and a \
                     DPoP proof names them (RFC 9449 §4.2 htu): set \
                     SymblAuthLayerBuilder::dpop_origin to the origin the service sends to",
                )
                })?;
                return Ok((format!("{origin}{path}"), origin.len()));
            }
            _ => return Err(Error::config(
                "this request's URI has an authority but no scheme, and a DPoP proof names both \
                 (RFC 9449 §4.2 htu)",
            )),
        };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let origin = scheme.len() + 3 + host.len();
    Ok((format!("{scheme}://{host}{path}"), origin))
}

/// Checks a `dpop_origin` setting: an absolute `http` or `https` URL with a host and nothing
/// after it (a trailing `/` is dropped). The error does not quote it.
pub(crate) fn checked_origin(origin: &str) -> Result<String, Error> {
    let invalid = || {
        Error::config(
            "dpop_origin must be an origin: http:// or https://, a host, an optional port, and \
             no path, query or user information",
        )
    };
    let origin = origin.strip_suffix('/').unwrap_or(origin);
    let uri: Uri = origin.parse().map_err(|_| invalid())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let authority = uri.authority().ok_or_else(invalid)?;
    if !scheme_ok
        || authority.as_str().contains('@')
        || uri.path_and_query().is_some_and(|p| p != "/")
    {
        return Err(invalid());
    }
    Ok(origin.to_owned())
}

impl Nonces {
    fn get(&self, origin: &str) -> Option<String> {
        let kept = self.0.lock().ok()?;
        kept.iter()
            .find(|(of, _)| &**of == origin)
            .map(|(_, nonce)| nonce.to_string())
    }

    fn update(&self, origin: &str, nonce: &str) {
        let acceptable =
            |b: u8| b == b'!' || (b'#'..=b'[').contains(&b) || (b']'..=b'~').contains(&b);
        if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN || !nonce.bytes().all(acceptable) {
            return;
        }
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        if let Some(at) = kept.iter().position(|(of, _)| &**of == origin) {
            kept.remove(at);
        } else if kept.len() >= MAX_NONCE_ORIGINS {
            kept.remove(0);
        }
        kept.push((origin.into(), nonce.into()));
    }
}

#[cfg(test)]
mod tests;
