//! [`ResponseFuture`]: waiting for the token, the first send, and after a 401 to our token,
//! the sends of `retry`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::header::AUTHORIZATION;
use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::cache::{Token, TokenCache, TokenWait};
use crate::dpop::Proven;
use crate::replay::Declined;
use crate::resend::Resend;
use crate::retry::{Retry, RetryFuture};
use crate::shared::Shared;
use crate::unauthorized::is_unauthorized;
use crate::{BoxError, Error, ReplayBody};

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
        // Sent with a token bound to a key and its proof: the answer may bring the origin's
        // next nonce, or ask for it. A state of its own, so a Bearer answer pays nothing.
        SentProven {
            #[pin]
            future: S::Future,
            retry: Option<Retry<S>>,
            proven: Option<Box<Proven>>,
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
        // A token bound to a key waits here too: its proof is made once the service is
        // ready, so a long wait for capacity does not age it or its nonce.
        Readying {
            pending: Option<Box<Pending<S, B>>>,
            generation: u64,
            bound: Option<Token>,
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
            state: send(service, request, generation, None, shared, cache),
        }
    }

    /// Adds `token`, which is bound to a key, and its DPoP proof to `request`, and sends it
    /// as [`send`](Self::send) does; or fails, sending nothing, if no proof can be made.
    pub(crate) fn send_proven(
        service: &mut S,
        mut request: Request<B>,
        token: Token,
        shared: &Arc<Shared>,
        cache: &TokenCache,
    ) -> Self {
        let generation = token.generation;
        match shared.dpop.prove(&mut request, token) {
            Ok(proven) => Self {
                state: send(service, request, generation, Some(proven), shared, cache),
            },
            Err(error) => Self::failed(error),
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
    proven: Option<Box<Proven>>,
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
        Ok(replay) => Ok((
            Resend::new(&request, replay, || cache.key()),
            service.clone(),
        )),
        Err(declined) => {
            tracing::trace!(%declined, "request will not be retried after a 401");
            Err(declined)
        }
    };
    // The retry first: it clones the URI of the request that the call then takes.
    let retry = Some(Retry {
        cache: cache.clone(),
        generation,
        uri: request.uri().clone(),
        resend,
    });
    match proven {
        None => State::Sent {
            retry,
            future: service.call(request),
        },
        Some(proven) => State::SentProven {
            retry,
            future: service.call(request),
            proven: Some(proven),
        },
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
                    match retry.after_401::<B, ResBody>(response, None) {
                        Ok(future) => State::Retrying { future },
                        Err(response) => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::SentProven {
                    future,
                    retry,
                    proven,
                } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if let Some(proven) = proven {
                        proven.saw(response.headers());
                    }
                    if !is_unauthorized(response.status(), response.version(), response.headers()) {
                        return Poll::Ready(Ok(response));
                    }
                    let retry = retry
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match retry.after_401::<B, ResBody>(response, proven.take()) {
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
                    let generation = token.generation;
                    let bound = match token.binding {
                        None => {
                            let headers = pending.request.headers_mut();
                            headers.insert(AUTHORIZATION, token.header);
                            None
                        }
                        Some(_) => Some(token),
                    };
                    State::Readying {
                        pending: Some(pending),
                        generation,
                        bound,
                    }
                }
                StateProj::Readying {
                    pending,
                    generation,
                    bound,
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
                        mut request,
                        shared,
                        cache,
                    } = *pending;
                    let proven = match bound.take() {
                        Some(token) => Some(shared.dpop.prove(&mut request, token)?),
                        None => None,
                    };
                    send(&mut service, request, *generation, proven, &shared, &cache)
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

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Sent { .. } | State::SentProven { .. } => "sent",
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
