//! What a second send needs from the first: the request's parts, copied before the inner
//! service takes the request, and its recorded body.

use bytes::Bytes;
use http::header::{HeaderName, AUTHORIZATION};
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Uri, Version};

use crate::replay::{Declined, Replay};
use crate::{CredentialKey, ReplayBody};

/// A request kept for one more send after a 401. The URI is kept apart by the caller: it is
/// needed to tell whether a 401 came from where the token went, retried or not.
pub(crate) struct Resend {
    method: Method,
    version: Version,
    headers: HeaderCopy,
    extensions: Extensions,
    /// The request's extensions held only the keyed layer's [`CredentialKey`]: `extensions`
    /// is empty, and the key goes back in at the resend. Cloning the map would cost an
    /// allocation for it and one per entry, and as many frees, on every keyed request (about
    /// a third of its cost; BENCHMARKS.md).
    key_only: bool,
    body: Replay,
}

impl Resend {
    /// Copies what a second send of `request`, which carries our `Authorization`, needs: all
    /// but that header (the retry carries a new one), with its recorded `body`. `key` gives
    /// the key of the cache the token came from, on a keyed layer; asked only when the
    /// request has one extension.
    pub(crate) fn new<'a, B>(
        request: &Request<B>,
        body: Replay,
        key: impl FnOnce() -> Option<&'a CredentialKey>,
    ) -> Self {
        let extensions = request.extensions();
        let key_only = extensions.len() == 1
            && key().is_some_and(|key| extensions.get::<CredentialKey>() == Some(key));
        Self {
            method: request.method().clone(),
            version: request.version(),
            headers: HeaderCopy::new(request.headers()),
            extensions: if key_only {
                Extensions::new()
            } else {
                extensions.clone()
            },
            key_only,
            body,
        }
    }

    /// The request to send again to `uri`, without a token, if its body was kept whole. `key`
    /// is the one given to [`new`](Self::new).
    pub(crate) fn into_request<B>(
        self,
        uri: Uri,
        key: Option<&CredentialKey>,
    ) -> Result<Request<ReplayBody<B>>, Declined> {
        let body = self.body.body::<B>()?;
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.into_map().ok_or(Declined::Failed)?;
        *request.extensions_mut() = self.extensions;
        if let (true, Some(key)) = (self.key_only, key) {
            request.extensions_mut().insert(key.clone());
        }
        Ok(request)
    }

    /// The same, keeping `self` for one more send: the headers and extensions are copied.
    pub(crate) fn request<B>(
        &self,
        uri: Uri,
        key: Option<&CredentialKey>,
    ) -> Result<Request<ReplayBody<B>>, Declined> {
        let copy = HeaderCopy {
            bytes: self.headers.bytes.clone(),
        };
        Self {
            method: self.method.clone(),
            version: self.version,
            headers: copy,
            extensions: self.extensions.clone(),
            key_only: self.key_only,
            body: self.body.clone(),
        }
        .into_request(uri, key)
    }
}

/// A request's headers in one buffer: one allocation (none for a request without headers),
/// where cloning the `HeaderMap` costs two, plus one for each value built at run time (a
/// uniquely owned `Bytes` allocates its shared form on its first clone).
///
/// Each header is `name length (u16 LE), value length (u32 LE), sensitive (u8), name, value`.
struct HeaderCopy {
    bytes: Vec<u8>,
}

const ENTRY_HEAD: usize = 2 + 4 + 1;

impl HeaderCopy {
    /// A copy of `headers` but their `Authorization`, which is ours.
    fn new(headers: &HeaderMap) -> Self {
        // The usual request has no header but ours.
        if headers.len() <= 1 {
            return Self { bytes: Vec::new() };
        }
        let copied = || headers.iter().filter(|(name, _)| **name != AUTHORIZATION);
        let len: usize = copied()
            .map(|(name, value)| ENTRY_HEAD + name.as_str().len() + value.len())
            .sum();
        let mut bytes = Vec::with_capacity(len);
        for (name, value) in copied() {
            let (name, value_bytes) = (name.as_str().as_bytes(), value.as_bytes());
            // A header name is far below 64 KiB, a value below 4 GiB: hyper and h2 refuse
            // anything near either long before.
            bytes.extend_from_slice(&(name.len() as u16).to_le_bytes());
            bytes.extend_from_slice(&(value_bytes.len() as u32).to_le_bytes());
            bytes.push(u8::from(value.is_sensitive()));
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(value_bytes);
        }
        Self { bytes }
    }

    /// The headers again, sharing the buffer (values are slices of it, not copies).
    fn into_map(self) -> Option<HeaderMap> {
        let bytes = Bytes::from(self.bytes);
        let mut map = HeaderMap::new();
        let mut at = 0;
        while at < bytes.len() {
            let head = bytes.get(at..at + ENTRY_HEAD)?;
            let name_len = usize::from(u16::from_le_bytes([head[0], head[1]]));
            let value_len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let sensitive = head[6] == 1;
            let name_at = at + ENTRY_HEAD;
            let value_at = name_at + name_len;
            at = value_at + value_len;
            let name = HeaderName::from_bytes(bytes.get(name_at..value_at)?).ok()?;
            let mut value = HeaderValue::from_maybe_shared(bytes.slice(value_at..at)).ok()?;
            value.set_sensitive(sensitive);
            map.append(name, value);
        }
        Some(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_come_back_as_they_were_without_ours() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("x-trace", HeaderValue::from_static("a"));
        headers.append("x-trace", HeaderValue::from_static("b"));
        headers.insert(
            "x-built",
            HeaderValue::from_str(&format!("id-{}", 42)).unwrap(),
        );
        let mut secret = HeaderValue::from_static("cookie-value");
        secret.set_sensitive(true);
        headers.insert("cookie", secret);
        headers.insert("x-empty", HeaderValue::from_static(""));
        let mut with_ours = headers.clone();
        with_ours.insert(AUTHORIZATION, HeaderValue::from_static("Bearer ours"));

        let back = HeaderCopy::new(&with_ours).into_map().expect("well formed");
        assert_eq!(back, headers);
        assert!(back["cookie"].is_sensitive());
        assert!(!back["content-type"].is_sensitive());
        let traces: Vec<_> = back.get_all("x-trace").iter().collect();
        assert_eq!(traces, ["a", "b"], "repeated headers in order");
    }

    #[test]
    fn no_headers_cost_no_allocation() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer ours"));
        let copy = HeaderCopy::new(&headers);
        assert_eq!(copy.bytes.capacity(), 0);
        assert!(copy.into_map().expect("empty").is_empty());
    }

    #[test]
    fn a_keyed_layers_key_alone_is_not_copied_and_comes_back() {
        let key = CredentialKey::new("tenant-7");
        let with = |extra: bool| {
            let mut request = Request::get("https://api.symbl.ai/").body(()).unwrap();
            request.extensions_mut().insert(key.clone());
            if extra {
                request.extensions_mut().insert(7u32);
            }
            request
        };
        type Empty = http_body_util::Empty<Bytes>;
        let uri = || Uri::from_static("/");
        let only_key = Resend::new(&with(false), Replay::Empty, || Some(&key));
        assert!(only_key.key_only && only_key.extensions.is_empty());
        let again = only_key
            .request::<Empty>(uri(), Some(&key))
            .expect("replayable");
        assert_eq!(again.extensions().get::<CredentialKey>(), Some(&key));
        assert_eq!(again.extensions().len(), 1);
        // Another key than the cache's, or more than the key: the map is copied.
        let other = CredentialKey::new("tenant-8");
        assert!(!Resend::new(&with(false), Replay::Empty, || Some(&other)).key_only);
        let both = Resend::new(&with(true), Replay::Empty, || Some(&key));
        assert!(!both.key_only);
        let again = both
            .into_request::<Empty>(uri(), Some(&key))
            .expect("replayable");
        assert_eq!(again.extensions().get::<CredentialKey>(), Some(&key));
        assert_eq!(again.extensions().get::<u32>(), Some(&7));
        // A layer that is not keyed copies a key it ignores.
        assert!(!Resend::new(&with(false), Replay::Empty, || None).key_only);
    }

    #[test]
    fn the_request_comes_back_whole() {
        let mut original = Request::post("https://api.symbl.ai/v1/process/text")
            .version(Version::HTTP_2)
            .header(AUTHORIZATION, "Bearer ours")
            .header("x-one", "1")
            .body(())
            .unwrap();
        original.extensions_mut().insert(7u32);
        let resend = Resend::new(&original, Replay::Empty, || None);
        let again = resend
            .into_request::<http_body_util::Empty<Bytes>>(original.uri().clone(), None)
            .expect("replayable");
        assert_eq!(again.method(), Method::POST);
        assert_eq!(again.uri(), original.uri());
        assert_eq!(again.version(), Version::HTTP_2);
        let mut without_ours = original.headers().clone();
        without_ours.remove(AUTHORIZATION);
        assert_eq!(again.headers(), &without_ours);
        assert_eq!(again.extensions().get::<u32>(), Some(&7));
    }
}
