//! After a 401 to our token: the sends that follow, one retry with a newer token and, for a
//! DPoP-bound token, one with the resource server's nonce (RFC 9449 §9).

use std::future::{poll_fn, Future};
use std::pin::Pin;

use http::{Request, Response, Uri};
use http_body::Body;
use tower_service::Service;

use crate::cache::TokenCache;
use crate::dpop::{asks_for_nonce, Proven};
use crate::replay::Declined;
use crate::resend::Resend;
use crate::stats::Event;
use crate::unauthorized::{authorize_again, is_unauthorized, not_retried, token_again, Retries};
use crate::{BoxError, ReplayBody};

/// The sends after a 401, boxed: the usual call never gets there.
pub(crate) type RetryFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// What a 401 to the first send needs.
pub(crate) struct Retry<S> {
    /// The cache the token came from (on a keyed layer, its key's).
    pub(crate) cache: TokenCache,
    /// The generation of the token the request carried.
    pub(crate) generation: u64,
    /// Where the token went: a 401 from elsewhere (a redirect followed inside) is not ours.
    pub(crate) uri: Uri,
    /// The request kept for a second send and an instance of the service to send it on, or why
    /// the request cannot be sent again (its body is over the replay limit).
    pub(crate) resend: Result<(Resend, S), Declined>,
}

impl<S> Retry<S> {
    /// The second send after `rejected`, a 401 to the first; or the 401 back when it is not
    /// ours, or the request cannot be sent again.
    ///
    /// With a DPoP-bound token a 401 may only ask for the server's nonce (RFC 9449 §9): the
    /// same token goes again with a new proof, and the token is not invalidated. A request
    /// gets at most one such nonce retry and one retry after a rejected token, in either
    /// order; a server that asks again gets its 401 back. `proven` is the proof's request and
    /// token, for a token bound to a key.
    pub(crate) fn after_401<B, ResBody>(
        self,
        rejected: Response<ResBody>,
        proven: Option<Box<Proven>>,
    ) -> Result<RetryFuture<Response<ResBody>>, Response<ResBody>>
    where
        S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Body + Send + 'static,
        ResBody: Send + 'static,
    {
        let Self {
            cache,
            generation,
            uri,
            resend,
        } = self;
        let nonce_asked = proven.is_some() && asks_for_nonce(rejected.headers());
        // A bound token may be sent twice more (a nonce retry and a token retry): the first
        // resend then copies what it needs, the last takes it.
        let replayed = resend.and_then(|(resend, service)| match proven {
            Some(_) => resend
                .request::<B>(uri.clone(), cache.key())
                .map(|request| (request, Some((resend, uri)), service)),
            None => resend
                .into_request::<B>(uri, cache.key())
                .map(|request| (request, None, service)),
        });
        let (request, spare, service) = match replayed {
            Ok(replayed) => replayed,
            Err(declined) if nonce_asked => {
                // The token was not rejected: it stays. The nonce is kept for the next request.
                cache.counters().count(Event::ReplaySkipped);
                tracing::debug!(%declined, "DPoP nonce 401 returned without a retry");
                return Err(rejected);
            }
            Err(declined) => {
                not_retried(&cache, generation, &declined);
                return Err(rejected);
            }
        };
        let second = Second {
            cache,
            generation,
            proven,
            spare,
            service,
        };
        // `service` is a clone made before the first call, never polled ready: it reserves
        // nothing (no permit, no slot) while the new token, which may need that capacity, is
        // fetched; readiness comes after the token.
        Ok(Box::pin(second.send(rejected, request, nonce_asked)))
    }
}

/// What the sends after a 401 need.
struct Second<S> {
    cache: TokenCache,
    generation: u64,
    proven: Option<Box<Proven>>,
    /// For a bound token: the request kept for one more send, and its URI.
    spare: Option<(Resend, Uri)>,
    service: S,
}

impl<S> Second<S> {
    /// Sends `request` again after `rejected`, and (a bound token only) once more after a
    /// second 401 of the other kind.
    async fn send<B, ResBody>(
        mut self,
        mut rejected: Response<ResBody>,
        mut request: Request<ReplayBody<B>>,
        mut nonce_asked: bool,
    ) -> Result<Response<ResBody>, BoxError>
    where
        S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>>,
        S::Error: Into<BoxError>,
        B: Body,
    {
        let mut retries = Retries::new(self.proven.is_some());
        loop {
            let Some(again) = retries.next(nonce_asked) else {
                return Ok(rejected);
            };
            let proven = self.proven.as_deref();
            let Some(token) = token_again(again, &self.cache, self.generation, proven).await?
            else {
                return Ok(rejected);
            };
            // Unread, the 401's body would hold its connection through the next send.
            drop(rejected);
            poll_fn(|cx| self.service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            // After readiness: a proof made before a wait for capacity would age meanwhile.
            authorize_again(request.headers_mut(), token, self.proven.as_deref_mut())?;
            let answer = self.service.call(request).await.map_err(Into::into)?;
            let Some(proven) = &self.proven else {
                return Ok(answer);
            };
            proven.saw(answer.headers());
            if !is_unauthorized(answer.status(), answer.version(), answer.headers()) {
                return Ok(answer);
            }
            // A second 401: only one of the other kind is answered.
            nonce_asked = asks_for_nonce(answer.headers());
            if !retries.allow(nonce_asked) {
                return Ok(answer);
            }
            let Some((spare, uri)) = self.spare.take() else {
                return Ok(answer);
            };
            self.generation = proven.token.generation;
            request = match spare.into_request::<B>(uri, self.cache.key()) {
                Ok(request) => request,
                Err(_) => return Ok(answer),
            };
            rejected = answer;
        }
    }
}
