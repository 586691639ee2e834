//! [`ResponseFuture`]: the first send, and after a 401 to our token, the second.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::AUTHORIZATION;
use http::{Request, Response, Uri};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::cache::{TokenCache, TokenWait};
use crate::replay::Declined;
use crate::resend::Resend;
use crate::shared::Shared;
use crate::unauthorized::{is_unauthorized, not_retried, token_for_retry};
use crate::{BoxError, Error, ReplayBody};

type RetryFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project! {
    /// The response future of [`SymblAuth`](crate::SymblAuth).
    ///
    /// With a fresh token and no 401 it is the inner service's future, what a second send
    /// would need, and a status check. On that path it allocates only for the retry's copies:
    /// the recording of a body and the buffer of the headers (neither for a request without
    /// body and headers). Waiting for a token and sending again allocate too.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        // Sent with our token: a 401 to it may be retried once.
        Sent {
            #[pin]
            future: S::Future,
            retry: Option<Retry<S>>,
        },
        // Not ours to authenticate: the inner service's answer, as it is.
        PassedThrough {
            #[pin]
            future: S::Future,
        },
        // No usable token yet. The request and an un-readied service are boxed: this path
        // allocates anyway (the wait), and the future stays small for the usual one.
        WaitingForToken {
            wait: TokenWait,
            pending: Option<Box<Pending<S, B>>>,
        },
        // The token is in the request: the service is polled ready again before the send.
        Readying {
            pending: Option<Box<Pending<S, B>>>,
            generation: u64,
        },
        // The second send: a new token, readiness, the call.
        Retrying {
            future: RetryFuture<S::Response>,
        },
        Failed {
            error: Option<Error>,
        },
    }
}

/// A request waiting for a token, with an instance of the inner service that reserves nothing
/// (a clone not polled ready), to poll ready once the token is there.
struct Pending<S, B> {
    service: S,
    request: Request<B>,
    shared: Arc<Shared>,
    cache: TokenCache,
}

/// What a 401 to the first send needs.
struct Retry<S> {
    /// The cache the token came from (on a keyed layer, its key's).
    cache: TokenCache,
    /// The generation of the token the request carried.
    generation: u64,
    /// Where the token went: a 401 from elsewhere (a redirect followed inside) is not ours.
    uri: Uri,
    /// The request kept for a second send and an instance of the service to send it on, or why
    /// the request cannot be sent again (its body is over the replay limit).
    resend: Result<(Resend, S), Declined>,
}

impl<S, B, ResBody> ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Send + 'static,
{
    /// Sends `request`, which carries the token of `generation`, on `service` (polled ready),
    /// keeping what a second send would need.
    #[inline]
    pub(crate) fn send(
        service: &mut S,
        request: Request<B>,
        generation: u64,
        shared: &Arc<Shared>,
        cache: &TokenCache,
    ) -> Self {
        Self {
            state: send(service, request, generation, shared, cache),
        }
    }

    /// Waits for `wait` to bring a token, then polls a clone of `service` ready and sends
    /// `request` on it.
    ///
    /// `service` was polled ready, which may have reserved capacity (a `ConcurrencyLimit`
    /// permit, a `Buffer` slot) that the token request itself needs when it goes through the
    /// same client (`token_client`): held through the wait, it would deadlock the call with
    /// its own token request. So the ready instance is dropped here, giving the capacity back,
    /// and an instance that reserves nothing waits instead (tower retry's way).
    pub(crate) fn wait_for_token(
        service: &mut S,
        request: Request<B>,
        wait: TokenWait,
        shared: &Arc<Shared>,
        cache: &TokenCache,
    ) -> Self {
        let unreserved = service.clone();
        drop(std::mem::replace(service, unreserved));
        let pending = Pending {
            service: service.clone(),
            request,
            shared: Arc::clone(shared),
            cache: cache.clone(),
        };
        Self {
            state: State::WaitingForToken {
                wait,
                pending: Some(Box::new(pending)),
            },
        }
    }

    /// Sends `request` on `service` (polled ready) as it is.
    pub(crate) fn pass_through(service: &mut S, request: Request<B>) -> Self {
        Self {
            state: State::PassedThrough {
                future: service.call(request.map(ReplayBody::once)),
            },
        }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }
}

/// Sends `request`, which carries our token, keeping what a second send would need: a copy of
/// its parts, a recording of its body, its URI and a clone of `service`.
#[inline]
fn send<S, B>(
    service: &mut S,
    request: Request<B>,
    generation: u64,
    shared: &Arc<Shared>,
    cache: &TokenCache,
) -> State<S, B>
where
    S: Service<Request<ReplayBody<B>>> + Clone,
    B: Body,
{
    let mut replay = Err(Declined::TooLarge);
    let request = request.map(|body| {
        let (body, recorded) = ReplayBody::recorded(body, shared.replay_limit);
        replay = recorded;
        body
    });
    // The retry goes out on a clone of the service made here, tower's usual way (`Retry`,
    // `FollowRedirect`): over hyper-util's client it measured at no cost end to end
    // (BENCHMARKS.md), so no instance is shared between requests.
    let resend = match replay {
        Ok(replay) => Ok((Resend::new(&request, replay), service.clone())),
        Err(declined) => {
            tracing::trace!(%declined, "request will not be retried after a 401");
            Err(declined)
        }
    };
    // The retry first: it clones the URI of the request that the call then takes.
    State::Sent {
        retry: Some(Retry {
            cache: cache.clone(),
            generation,
            uri: request.uri().clone(),
            resend,
        }),
        future: service.call(request),
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Send + 'static,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Sent { future, retry } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if !is_unauthorized(response.status(), response.version(), response.headers()) {
                        return Poll::Ready(Ok(response));
                    }
                    let retry = retry
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match retry.after_401::<B, ResBody>(response) {
                        Ok(future) => State::Retrying { future },
                        Err(response) => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::PassedThrough { future } => {
                    return future.poll(cx).map_err(Into::into);
                }
                StateProj::WaitingForToken { wait, pending } => {
                    let token = ready!(wait.as_mut().poll(cx))?;
                    let mut pending = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    pending
                        .request
                        .headers_mut()
                        .insert(AUTHORIZATION, token.header);
                    State::Readying {
                        pending: Some(pending),
                        generation: token.generation,
                    }
                }
                StateProj::Readying {
                    pending,
                    generation,
                } => {
                    let waiting = pending
                        .as_mut()
                        .expect("ResponseFuture polled after completion");
                    ready!(waiting.service.poll_ready(cx)).map_err(Into::into)?;
                    let pending = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let Pending {
                        mut service,
                        request,
                        shared,
                        cache,
                    } = *pending;
                    send(&mut service, request, *generation, &shared, &cache)
                }
                StateProj::Retrying { future } => return future.as_mut().poll(cx),
                StateProj::Failed { error } => {
                    let error = error
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Err(error.into()));
                }
            };
            this.state.set(next);
        }
    }
}

impl<S> Retry<S> {
    /// The second send after `rejected`, a 401 to the first; or the 401 back when it is not
    /// ours, or the request cannot be sent again.
    fn after_401<B, ResBody>(
        self,
        rejected: Response<ResBody>,
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
        let replayed = resend.and_then(|(resend, service)| {
            resend
                .into_request::<B>(uri)
                .map(|request| (request, service))
        });
        let (mut request, mut service) = match replayed {
            Ok(replayed) => replayed,
            Err(declined) => {
                not_retried(&cache, generation, &declined);
                return Err(rejected);
            }
        };
        // `service` is a clone made before the first call, never polled ready: it reserves
        // nothing (no permit, no slot) while the new token, which may need that capacity, is
        // fetched; readiness comes after the token.
        Ok(Box::pin(async move {
            let Some(token) = token_for_retry(&cache, generation).await? else {
                return Ok(rejected);
            };
            // Unread, the 401's body would hold its connection through the second send.
            drop(rejected);
            request.headers_mut().insert(AUTHORIZATION, token.header);
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            service.call(request).await.map_err(Into::into)
        }))
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sent { .. } => "sent",
            State::PassedThrough { .. } => "passed through",
            State::WaitingForToken { .. } => "waiting for token",
            State::Readying { .. } => "waiting for readiness",
            State::Retrying { .. } => "retrying",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
