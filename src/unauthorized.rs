//! The 401 policy, shared by every front end (the tower service, the reqwest middleware, the
//! WebSocket connect): what a rejection of our token means, and what to send again with.

use std::fmt;

use http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, StatusCode, Version};

use crate::cache::{Invalidated, Token, TokenCache};
use crate::dpop::Proven;
use crate::stats::Event;
use crate::Error;

/// Built once: looking up a `&str` name parses it on every response.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// A 401, or gRPC's form of it: a trailers-only HTTP/2 `200` gRPC answer (`content-type:
/// application/grpc…`) with `grpc-status: 16` (UNAUTHENTICATED) in its headers.
///
/// It runs on every response, so the cheap tests come first: gRPC is HTTP/2 only, and the
/// content type, a standard header, is found far more cheaply than `grpc-status`.
pub(crate) fn is_unauthorized(status: StatusCode, version: Version, headers: &HeaderMap) -> bool {
    if status == StatusCode::UNAUTHORIZED {
        return true;
    }
    let grpc = || {
        headers
            .get(CONTENT_TYPE)
            .is_some_and(|content_type| content_type.as_bytes().starts_with(b"application/grpc"))
    };
    status == StatusCode::OK
        && version == Version::HTTP_2
        && grpc()
        && headers
            .get(GRPC_STATUS)
            .is_some_and(|status| status == "16")
}

/// After a 401 to a request that carried the token of generation `rejected`: drops that
/// token if it is still the cached one (so a burst of 401s for one token costs one refresh),
/// and returns the token to send again with.
///
/// `Ok(None)` when no newer token is to be had (see [`NoNewerToken`]): sending again would
/// resend the token just refused, so the caller returns the 401 instead.
pub(crate) async fn token_for_retry(
    cache: &TokenCache,
    rejected: u64,
) -> Result<Option<Token>, Error> {
    Ok(retry_token(cache, rejected).await?.ok())
}

/// Why a 401 gets no retry: the cache has no token but the one rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoNewerToken {
    /// Asked for a new token, the endpoint handed back the one rejected: Symbl re-serves its
    /// token until near its expiry.
    Reserved,
    /// The token rejected is the one a forced refresh brought less than a second ago, and
    /// forced refreshes are at most one a second.
    TooSoon,
}

/// [`token_for_retry`], saying why there is no token to retry with.
pub(crate) async fn retry_token(
    cache: &TokenCache,
    rejected: u64,
) -> Result<Result<Token, NoNewerToken>, Error> {
    let invalidated = cache.invalidate(rejected);
    let token = cache.get().await?;
    if token.generation == rejected {
        // Dropped or replaced, and the same token came back: a fetch re-served it.
        let why = match invalidated {
            Invalidated::Kept => NoNewerToken::TooSoon,
            Invalidated::Dropped | Invalidated::Replaced => NoNewerToken::Reserved,
        };
        cache.counters().count(Event::RetryDeclined);
        tracing::debug!(
            generation = rejected,
            ?why,
            "401 returned without a retry: no newer token than the one rejected"
        );
        return Ok(Err(why));
    }
    cache.counters().count(Event::Retry);
    tracing::debug!(
        rejected,
        generation = token.generation,
        "retrying once after a 401"
    );
    Ok(Ok(token))
}

/// The sends that may follow a 401, at most one of each kind per request: one with a newer
/// token, and for a DPoP-bound token one with the same token and the nonce the resource server
/// asked for (RFC 9449 §9). A server that asks again gets its 401 back: never a loop.
pub(crate) struct Retries {
    nonce: bool,
    token: bool,
}

/// The send after a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Again {
    /// The nonce was asked for: the same token, a new proof.
    SameToken,
    /// The token was rejected: a newer one.
    NewToken,
}

impl Retries {
    pub(crate) fn new(bound: bool) -> Self {
        Self {
            nonce: bound,
            token: true,
        }
    }

    /// Whether a 401 (asking for a nonce or not) may still be answered.
    pub(crate) fn allow(&self, nonce_asked: bool) -> bool {
        if nonce_asked {
            self.nonce
        } else {
            self.token
        }
    }

    /// The send that answers a 401, if one may still be made; it is then used up.
    pub(crate) fn next(&mut self, nonce_asked: bool) -> Option<Again> {
        if nonce_asked {
            std::mem::take(&mut self.nonce).then_some(Again::SameToken)
        } else {
            std::mem::take(&mut self.token).then_some(Again::NewToken)
        }
    }
}

/// The token for the send that answers a 401 (`again`): for a nonce, `proven`'s own token
/// (counted as a nonce retry); after a rejection, a newer one than `rejected` if there is one
/// ([`token_for_retry`]).
pub(crate) async fn token_again(
    again: Again,
    cache: &TokenCache,
    rejected: u64,
    proven: Option<&Proven>,
) -> Result<Option<Token>, Error> {
    match (again, proven) {
        (Again::SameToken, Some(proven)) => {
            cache.counters().count(Event::NonceRetry);
            tracing::debug!("sending again with the DPoP nonce the server asked for");
            Ok(Some(proven.token.clone()))
        }
        _ => token_for_retry(cache, rejected).await,
    }
}

/// Puts `token` in a request to send again: with a new proof for a bound one (`proven`), else
/// as its `Authorization` alone.
pub(crate) fn authorize_again(
    headers: &mut HeaderMap,
    token: Token,
    proven: Option<&mut Proven>,
) -> Result<(), Error> {
    match proven {
        Some(proven) => proven.again(headers, token),
        None => {
            headers.insert(AUTHORIZATION, token.header);
            Ok(())
        }
    }
}

/// A 401 that cannot be retried, because the request cannot be sent again (`why`): the token
/// is still dropped if it is the cached one, and the 401 goes back to the caller.
pub(crate) fn not_retried(cache: &TokenCache, rejected: u64, why: &dyn fmt::Display) {
    cache.invalidate(rejected);
    cache.counters().count(Event::ReplaySkipped);
    tracing::debug!(generation = rejected, %why, "401 returned without a retry");
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::from_static(name);
                (name, HeaderValue::from_static(value))
            })
            .collect()
    }

    #[test]
    fn a_401_or_a_trailers_only_grpc_unauthenticated_is_a_rejection() {
        let h2 = Version::HTTP_2;
        let nothing = HeaderMap::new();
        assert!(is_unauthorized(
            StatusCode::UNAUTHORIZED,
            Version::HTTP_11,
            &nothing
        ));
        let grpc = headers(&[("content-type", "application/grpc"), ("grpc-status", "16")]);
        assert!(is_unauthorized(StatusCode::OK, h2, &grpc));
        let proto = headers(&[
            ("content-type", "application/grpc+proto"),
            ("grpc-status", "16"),
        ]);
        assert!(is_unauthorized(StatusCode::OK, h2, &proto));
    }

    #[test]
    fn one_send_of_each_kind_follows_401s() {
        let mut bearer = Retries::new(false);
        assert_eq!(bearer.next(false), Some(Again::NewToken));
        assert!(!bearer.allow(false));
        assert_eq!(bearer.next(false), None);
        let mut bound = Retries::new(true);
        assert!(bound.allow(true) && bound.allow(false));
        assert_eq!(bound.next(true), Some(Again::SameToken));
        assert_eq!(
            bound.next(true),
            None,
            "a server that asks again gets its 401"
        );
        assert_eq!(bound.next(false), Some(Again::NewToken));
        assert_eq!(bound.next(false), None);
    }

    #[test]
    fn other_answers_are_not() {
        let h2 = Version::HTTP_2;
        assert!(!is_unauthorized(StatusCode::OK, h2, &HeaderMap::new()));
        assert!(!is_unauthorized(
            StatusCode::FORBIDDEN,
            h2,
            &HeaderMap::new()
        ));
        let ok = headers(&[("content-type", "application/grpc"), ("grpc-status", "0")]);
        assert!(!is_unauthorized(StatusCode::OK, h2, &ok));
        // Not gRPC: a `grpc-status` header on a JSON answer, or over HTTP/1.1, means nothing.
        let json = headers(&[("content-type", "application/json"), ("grpc-status", "16")]);
        assert!(!is_unauthorized(StatusCode::OK, h2, &json));
        let grpc = headers(&[("content-type", "application/grpc"), ("grpc-status", "16")]);
        assert!(!is_unauthorized(StatusCode::OK, Version::HTTP_11, &grpc));
    }
}
