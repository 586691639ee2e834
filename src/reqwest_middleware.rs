//! [`SymblAuthMiddleware`]: the same authentication for `reqwest_middleware` clients.

use std::fmt;
use std::sync::Arc;

use http::{header, Extensions};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::dpop::asks_for_nonce;
use crate::scope::Decision;
use crate::shared::Shared;
use crate::stats::Event;
use crate::unauthorized::{
    authorize_again, is_unauthorized, not_retried, token_again, Again, Retries,
};
use crate::{Error, SymblAuthLayer};

/// A [`reqwest_middleware::Middleware`] that authenticates requests to Symbl, sharing the token
/// cache of the [`SymblAuthLayer`] it was made from (feature `reqwest-middleware`).
///
/// It follows the layer's rules: the same allowed hosts and plain-http refusal, the caller's
/// own `Authorization` kept, the header marked sensitive. After a 401 (or gRPC
/// `UNAUTHENTICATED`) from the origin the token went to (not one a redirect led to) the token
/// is dropped if it is still the cached one and the request is sent once more — when
/// [`Request::try_clone`] can copy it (a streaming body cannot be: its 401 is returned
/// unchanged) and its body is within the layer's replay limit.
///
/// A token bound to a key (DPoP) goes with a fresh proof per request and the nonce rules of
/// the tower service: one send with the nonce a 401 asks for, without dropping the token.
///
/// From a [`keyed`](SymblAuthLayer::keyed) layer, each request names its credential with
/// `RequestBuilder::with_extension(CredentialKey::new(..))`; one for an allowed host without
/// a key fails with [`Error::MissingCredentialKey`](crate::Error::MissingCredentialKey).
///
/// ```
/// use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
/// use symbl_auth::{SymblAuthLayer, SymblAuthMiddleware};
///
/// /// `layer`: `SymblAuthLayer::new(credentials)`, say, also used for tower services.
/// fn symbl_client(layer: &SymblAuthLayer) -> ClientWithMiddleware {
///     ClientBuilder::new(reqwest::Client::new())
///         .with(SymblAuthMiddleware::from(layer.clone())) // one cache for both front ends
///         .build()
/// }
/// ```
#[derive(Clone)]
pub struct SymblAuthMiddleware {
    shared: Arc<Shared>,
}

impl From<SymblAuthLayer> for SymblAuthMiddleware {
    fn from(layer: SymblAuthLayer) -> Self {
        Self {
            shared: layer.shared,
        }
    }
}

impl SymblAuthMiddleware {
    /// A copy of `request` for a second send, if its body can be copied and is within the
    /// replay limit.
    fn replay_of(&self, request: &Request) -> Option<Request> {
        let within_limit = request.body().is_none_or(|body| {
            body.as_bytes()
                .is_some_and(|bytes| bytes.len() <= self.shared.replay_limit)
        });
        if within_limit {
            request.try_clone()
        } else {
            None
        }
    }
}

#[async_trait::async_trait]
impl Middleware for SymblAuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let url = request.url();
        let authorized = request.headers().contains_key(header::AUTHORIZATION);
        let decision =
            self.shared
                .scope
                .decide_target(Some(url.scheme()), url.host_str(), authorized);
        match decision {
            Decision::Attach => {}
            Decision::PassThrough => return next.run(request, extensions).await,
            Decision::Refuse(error) => return Err(reqwest_middleware::Error::middleware(error)),
        }
        let cache = &self
            .shared
            .cache_for(extensions)
            .map_err(reqwest_middleware::Error::middleware)?;
        let token = cache
            .get()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let mut replay = self.replay_of(&request);
        let sent_to = request.url().clone();
        let middleware = reqwest_middleware::Error::middleware;
        let mut generation = token.generation;
        let mut proven = match token.binding {
            None => {
                let headers = request.headers_mut();
                headers.insert(header::AUTHORIZATION, token.header);
                None
            }
            Some(_) => {
                let uri = sent_to.as_str().parse().map_err(|_| {
                    middleware(Error::config(
                        "this request's URL cannot name a DPoP proof's htu",
                    ))
                })?;
                let method = request.method().clone();
                let headers = request.headers_mut();
                Some(
                    self.shared
                        .dpop
                        .prove_parts(method, &uri, headers, token)
                        .map_err(middleware)?,
                )
            }
        };
        let mut response = next.clone().run(request, extensions).await?;
        let mut retries = Retries::new(proven.is_some());
        loop {
            // After a redirect the client followed to another origin, the answer is not ours:
            // neither its nonce nor its 401 (reqwest drops our token when the host changes).
            let ours = |response: &Response| response.url().origin() == sent_to.origin();
            if let Some(proven) = &proven {
                if ours(&response) {
                    proven.saw(response.headers());
                }
            }
            if !is_unauthorized(response.status(), response.version(), response.headers()) {
                return Ok(response);
            }
            if !ours(&response) {
                tracing::debug!("401 from another origin than the token went to: not ours");
                return Ok(response);
            }
            let nonce_asked = proven.is_some() && asks_for_nonce(response.headers());
            let Some(again) = retries.next(nonce_asked) else {
                return Ok(response);
            };
            // A bound token may be sent twice more: copy; else the copy is the last send's.
            let request = match &proven {
                Some(_) => replay.as_ref().and_then(Request::try_clone),
                None => replay.take(),
            };
            let Some(mut request) = request else {
                match again {
                    Again::NewToken => not_retried(cache, generation, &"the body cannot be copied"),
                    Again::SameToken => cache.counters().count(Event::ReplaySkipped),
                }
                return Ok(response);
            };
            let next_token = token_again(again, cache, generation, proven.as_deref());
            let Some(token) = next_token.await.map_err(middleware)? else {
                return Ok(response);
            };
            generation = token.generation;
            authorize_again(request.headers_mut(), token, proven.as_deref_mut())
                .map_err(middleware)?;
            response = next.clone().run(request, extensions).await?;
            if proven.is_none() {
                return Ok(response);
            }
        }
    }
}

impl fmt::Debug for SymblAuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuthMiddleware")
            .field("allowed_hosts", &self.shared.scope.hosts())
            .finish_non_exhaustive()
    }
}
