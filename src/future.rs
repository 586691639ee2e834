//! [`ResponseFuture`]: wait for a token if there is none, send, and after a 401 send once more.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{header, Extensions, HeaderMap, Method, Request, Response, Uri, Version};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::cache::{Lookup, Token, TokenWait};
use crate::replay::{Declined, Replay};
use crate::service::ServiceState;
use crate::unauthorized::{is_unauthorized, not_retried, token_for_retry};
use crate::{BoxError, Error, ReplayBody};

type RetryFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project! {
    /// The response future of [`SymblAuth`](crate::SymblAuth).
    ///
    /// With a cached token and no 401 it is the inner service's future plus a status check; it
    /// allocates only while waiting for a token or retrying.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        #[pin]
        state: State<S, B>,
        // Set when the request carries our token: a 401 then invalidates it.
        state_of_service: Option<Arc<ServiceState<S>>>,
        retry: Option<Retry>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<ReplayBody<B>>>,
    {
        // No usable token yet: the service (already polled ready) and request wait for one.
        WaitingForToken {
            token: TokenWait,
            // Boxed: this path allocates anyway (the wait), and a boxed request keeps the
            // future small, so the hot path moves fewer bytes.
            pending: Option<Box<(S, Request<ReplayBody<B>>)>>,
        },
        // The first send; `generation` names the token it carries, if any.
        Sending {
            #[pin]
            future: S::Future,
            generation: Option<u64>,
        },
        // The second send, after a 401: refresh, wait for readiness, call.
        Retrying {
            future: RetryFuture<S::Response>,
        },
        Failed {
            error: Option<Error>,
        },
    }
}

/// What a second send needs, kept only for requests whose body can be replayed. The
/// service for it is cloned from the spare only when a 401 comes.
struct Retry {
    replay: Replay,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
}

impl<S, B, ResBody> ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Send + 'static,
{
    /// Sends on `service`, the instance that was polled ready, if a token is at hand; else
    /// takes that instance along (leaving a clone) to send once the token comes.
    pub(crate) fn authenticate(
        service: &mut S,
        request: Request<B>,
        state_of_service: &Arc<ServiceState<S>>,
    ) -> Self {
        let shared = &state_of_service.shared;
        let (parts, body) = request.into_parts();
        let (body, replay) = ReplayBody::recorded(body, shared.replay_limit);
        let retry = match replay {
            Ok(replay) => Some(Retry {
                replay,
                method: parts.method.clone(),
                uri: parts.uri.clone(),
                version: parts.version,
                headers: parts.headers.clone(),
                extensions: parts.extensions.clone(),
            }),
            Err(declined) => {
                tracing::trace!(%declined, "request will not be retried after a 401");
                None
            }
        };
        let request = Request::from_parts(parts, body);
        let state = match shared.cache.token() {
            Lookup::Ready(Ok(token)) => send(service, request, token),
            Lookup::Ready(Err(error)) => State::Failed { error: Some(error) },
            Lookup::Wait(token) => {
                let clone = service.clone();
                let ready = std::mem::replace(service, clone);
                State::WaitingForToken {
                    token,
                    pending: Some(Box::new((ready, request))),
                }
            }
        };
        Self {
            state,
            state_of_service: Some(Arc::clone(state_of_service)),
            retry,
        }
    }

    pub(crate) fn pass_through(future: S::Future) -> Self {
        Self {
            state: State::Sending {
                future,
                generation: None,
            },
            state_of_service: None,
            retry: None,
        }
    }

    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
            state_of_service: None,
            retry: None,
        }
    }
}

/// Takes the token by value: its header moves into the request, one reference count less.
fn send<S, B>(service: &mut S, mut request: Request<ReplayBody<B>>, token: Token) -> State<S, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    request
        .headers_mut()
        .insert(header::AUTHORIZATION, token.header);
    State::Sending {
        future: service.call(request),
        generation: Some(token.generation),
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
                StateProj::WaitingForToken { token, pending } => {
                    let token = ready!(token.as_mut().poll(cx))?;
                    let (mut service, request) = *pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    send(&mut service, request, token)
                }
                StateProj::Sending { future, generation } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    let (Some(generation), Some(state_of_service)) =
                        (*generation, this.state_of_service.as_ref())
                    else {
                        return Poll::Ready(Ok(response));
                    };
                    if !is_unauthorized(response.status(), response.headers()) {
                        return Poll::Ready(Ok(response));
                    }
                    let cache = &state_of_service.shared.cache;
                    // Only a body known up front to exceed the limit has no `Retry`.
                    let replay = match this.retry.take() {
                        Some(retry) => retry.replay.body::<B>().map(|body| (retry, body)),
                        None => Err(Declined::TooLarge),
                    };
                    match replay {
                        Ok((retry, body)) => State::Retrying {
                            future: retry.start::<S, B>(
                                state_of_service,
                                generation,
                                body,
                                response,
                            ),
                        },
                        Err(declined) => {
                            not_retried(cache, generation, &declined);
                            return Poll::Ready(Ok(response));
                        }
                    }
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

impl Retry {
    /// Builds the second send for a request rejected with the token of `generation`, on a
    /// fresh clone of the inner service that it polls ready first.
    fn start<S, B>(
        self,
        state_of_service: &Arc<ServiceState<S>>,
        generation: u64,
        body: ReplayBody<B>,
        rejected: S::Response,
    ) -> RetryFuture<S::Response>
    where
        S: Service<Request<ReplayBody<B>>> + Clone + Send + 'static,
        S::Response: Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Body + Send + 'static,
    {
        let Self {
            method,
            uri,
            version,
            headers,
            extensions,
            ..
        } = self;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = version;
        *request.headers_mut() = headers;
        *request.extensions_mut() = extensions;
        let mut service = state_of_service.spare();
        let shared = Arc::clone(&state_of_service.shared);
        Box::pin(async move {
            let Some(token) = token_for_retry(&shared.cache, generation).await? else {
                return Ok(rejected);
            };
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, token.header);
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            service.call(request).await.map_err(Into::into)
        })
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<ReplayBody<B>>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::WaitingForToken { .. } => "waiting for token",
            State::Sending { .. } => "sending",
            State::Retrying { .. } => "retrying",
            State::Failed { .. } => "failed",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("retryable", &self.retry.is_some())
            .finish()
    }
}
