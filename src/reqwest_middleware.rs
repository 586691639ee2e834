//! [`SymblAuthMiddleware`]: the same authentication for `reqwest_middleware` clients.

use std::fmt;
use std::sync::Arc;

use http::{header, Extensions};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::scope::Decision;
use crate::shared::Shared;
use crate::unauthorized::{is_unauthorized, not_retried, token_for_retry};
use crate::SymblAuthLayer;

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
        let replay = self.replay_of(&request);
        let sent_to = request.url().clone();
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, token.header);
        let response = next.clone().run(request, extensions).await?;
        if !is_unauthorized(response.status(), response.version(), response.headers()) {
            return Ok(response);
        }
        // The client followed a redirect to another origin, and dropped our token on the way
        // (reqwest does when the host changes): that 401 is not ours.
        if response.url().origin() != sent_to.origin() {
            tracing::debug!("401 from another origin than the token went to: not ours");
            return Ok(response);
        }
        let Some(mut replay) = replay else {
            not_retried(cache, token.generation, &"the body cannot be copied");
            return Ok(response);
        };
        let fresh = token_for_retry(cache, token.generation)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let Some(fresh) = fresh else {
            return Ok(response);
        };
        replay
            .headers_mut()
            .insert(header::AUTHORIZATION, fresh.header);
        next.run(replay, extensions).await
    }
}

impl fmt::Debug for SymblAuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuthMiddleware")
            .field("allowed_hosts", &self.shared.scope.hosts())
            .finish_non_exhaustive()
    }
}
