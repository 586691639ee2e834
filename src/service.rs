//! [`SymblAuth`]: the service that attaches the token.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{Entry, AUTHORIZATION};
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::cache::{Lookup, Token, TokenCache, TokenView, TokenWait};
use crate::future::ResponseFuture;
use crate::scope::Decision;
use crate::shared::{Shared, Tokens};
use crate::ReplayBody;
use crate::{BoxError, Error};

/// Adds `Authorization: Bearer <token>` to requests for Symbl and retries once after a 401
/// (a DPoP-bound token goes as `Authorization: DPoP` with a proof per request, and may be sent
/// once more with the resource server's nonce).
///
/// Made by [`SymblAuthLayer`](crate::SymblAuthLayer). It takes requests with any body `B` and
/// hands the inner service a [`ReplayBody<B>`]; the response is the inner service's, unchanged.
/// Errors are a [`BoxError`]: the inner service's error, or a [`crate::Error`] to downcast.
/// Clones share the layer's token cache; each is driven by the tower readiness contract like
/// the service it wraps, and needs a Tokio runtime to fetch tokens.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
///
/// use http::{header::AUTHORIZATION, Request, Response};
/// use symbl_auth::{ReplayBody, SymblAuth, SymblAuthLayer};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// # use symbl_auth::{AccessToken, TokenFuture, TokenSource};
/// # #[derive(Debug)]
/// # struct Tokens;
/// # impl TokenSource for Tokens {
/// #     fn fetch_token(&self) -> TokenFuture<'_> {
/// #         Box::pin(async { AccessToken::new("token-1", Duration::from_secs(3600)) })
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), symbl_auth::BoxError> {
/// let layer = SymblAuthLayer::from_source(Tokens).allow_host("api.example.com").build()?;
/// // Any inner service: a hyper-util `Client`, a tonic `Channel`; here, one that echoes the
/// // `Authorization` header it got.
/// let echo = service_fn(|request: Request<ReplayBody<String>>| async move {
///     let authorization = request.headers().get(AUTHORIZATION).cloned();
///     Ok::<_, Infallible>(Response::new(authorization))
/// });
/// let service: SymblAuth<_> = ServiceBuilder::new().layer(layer).service(echo);
///
/// let request = Request::get("https://api.example.com/v1/items").body(String::new())?;
/// let response = service.clone().oneshot(request).await?;
/// assert_eq!(response.body().as_ref().unwrap(), "Bearer token-1");
///
/// // Another host passes through untouched.
/// let request = Request::get("https://elsewhere.example/").body(String::new())?;
/// let response = service.oneshot(request).await?;
/// assert!(response.body().is_none());
/// # Ok(())
/// # }
/// ```
pub struct SymblAuth<S> {
    inner: S,
    shared: Arc<Shared>,
    /// The hot path's view of the one cache; none on a keyed layer.
    token: Option<TokenView>,
    /// On a keyed layer, the cache of the last request's key: held here for the call (a local
    /// would cost the single-credential path a drop flag), and kept until the next keyed call
    /// or the drop of this instance, so an evicted key's cache may outlive its eviction here.
    keyed: Option<TokenCache>,
}

impl<S> SymblAuth<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        let token = match &shared.tokens {
            Tokens::One(cache) => Some(cache.view()),
            Tokens::Keyed(_) => None,
        };
        Self {
            inner,
            shared,
            token,
            keyed: None,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for SymblAuth<S>
where
    S: Service<Request<ReplayBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    /// Sends on `self.inner`, the instance that was polled ready. The steps, in order: the
    /// host rules; the cached token if it is fresh (the usual case: a flag test and one header
    /// lookup, which also finds a caller's own `Authorization`); else a lookup that may fetch.
    /// A call that must wait for the token gives back what `poll_ready` reserved and polls
    /// ready again once the token is there: its token request may need the same capacity.
    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let shared = &self.shared;
        let caller_authorized =
            |request: &Request<B>| request.headers().contains_key(AUTHORIZATION);
        match shared.scope.decide(request.uri()) {
            Decision::Attach => {}
            Decision::PassThrough => return ResponseFuture::pass_through(&mut self.inner, request),
            Decision::Refuse(_) if caller_authorized(&request) => {
                return ResponseFuture::pass_through(&mut self.inner, request)
            }
            Decision::Refuse(error) => return ResponseFuture::failed(error),
        }
        // The request's cache and token: the layer's one cache, or (keyed) the cache of the key
        // the request names, found out of line.
        let (cache, token) = match (&shared.tokens, &mut self.token) {
            (Tokens::One(cache), Some(view)) => match view.fresh() {
                Some(token) => (cache, token),
                None if caller_authorized(&request) => {
                    return ResponseFuture::pass_through(&mut self.inner, request)
                }
                None => match cache.lookup() {
                    Lookup::Ready(Ok(token)) => (cache, token),
                    Lookup::Ready(Err(error)) => return ResponseFuture::failed(error),
                    Lookup::Wait(wait) => {
                        return ResponseFuture::wait_for_token(
                            &mut self.inner,
                            request,
                            wait,
                            shared,
                            cache,
                        )
                    }
                },
            },
            _ => match keyed_token(shared, &request) {
                Ok((found, token)) => (&*self.keyed.insert(found), token),
                Err(Missed::PassThrough) => {
                    return ResponseFuture::pass_through(&mut self.inner, request)
                }
                Err(Missed::Failed(error)) => return ResponseFuture::failed(error),
                Err(Missed::Wait(wait, cache)) => {
                    return ResponseFuture::wait_for_token(
                        &mut self.inner,
                        request,
                        wait,
                        shared,
                        &cache,
                    )
                }
            },
        };
        if token.binding.is_some() {
            if caller_authorized(&request) {
                return ResponseFuture::pass_through(&mut self.inner, request);
            }
            return ResponseFuture::send_proven(&mut self.inner, request, token, shared, cache);
        }
        // No header at all is the usual case, and a plain insert is the cheapest.
        let headers = request.headers_mut();
        if headers.is_empty() {
            headers.insert(AUTHORIZATION, token.header);
        } else {
            match headers.entry(AUTHORIZATION) {
                Entry::Vacant(slot) => {
                    slot.insert(token.header);
                }
                Entry::Occupied(_) => {
                    return ResponseFuture::pass_through(&mut self.inner, request)
                }
            }
        }
        ResponseFuture::send(&mut self.inner, request, token.generation, shared, cache)
    }
}

/// Why a keyed request has no token to attach now.
enum Missed {
    /// Its caller set an `Authorization` of their own: it goes as it is.
    PassThrough,
    Failed(Error),
    /// The key's cache is fetching: wait for it.
    Wait(TokenWait, TokenCache),
}

/// A keyed request's cache and the token to attach: the same steps as the single-credential
/// path, with the cache of the key the request names. Out of line, so that the single path
/// compiles much as it did before keyed layers.
#[inline(never)]
fn keyed_token<B>(shared: &Shared, request: &Request<B>) -> Result<(TokenCache, Token), Missed> {
    let caller_authorized = || request.headers().contains_key(AUTHORIZATION);
    let (cache, fresh) = match shared.keyed_lookup(request.extensions()) {
        Ok(found) => found,
        Err(_) if caller_authorized() => return Err(Missed::PassThrough),
        Err(error) => return Err(Missed::Failed(error)),
    };
    let token = match fresh {
        Some(token) => token,
        None if caller_authorized() => return Err(Missed::PassThrough),
        None => match cache.lookup() {
            Lookup::Ready(Ok(token)) => token,
            Lookup::Ready(Err(error)) => return Err(Missed::Failed(error)),
            Lookup::Wait(wait) => return Err(Missed::Wait(wait, cache)),
        },
    };
    Ok((cache, token))
}

impl<S: Clone> Clone for SymblAuth<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            token: self.token.clone(),
            keyed: None,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SymblAuth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymblAuth")
            .field("inner", &self.inner)
            .field("allowed_hosts", &self.shared.scope.hosts())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use http::header::AUTHORIZATION;
    use http::{Request, Response, StatusCode};
    use tower::{service_fn, Layer};
    use tower_service::Service;

    use crate::{AccessToken, CredentialKey, ReplayBody, SymblAuthLayer, TokenFuture, TokenSource};

    /// Grants `{key}-1`, `{key}-2`, … for an hour each.
    #[derive(Debug)]
    struct PerKey {
        key: String,
        fetches: AtomicUsize,
    }

    impl TokenSource for PerKey {
        fn fetch_token(&self) -> TokenFuture<'_> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            let token = format!("{}-{n}", self.key);
            Box::pin(async move { AccessToken::new(&token, Duration::from_secs(3600)) })
        }
    }

    fn request(key: &str) -> Request<String> {
        let mut request = Request::get("https://api.symbl.ai/v1/conversations")
            .body(String::new())
            .expect("request");
        request.extensions_mut().insert(CredentialKey::new(key));
        request
    }

    /// One service instance, not a clone per request: each fresh-token call of a keyed layer
    /// finds its own key's cache, so a 401 to b's token goes to b's cache (b refetches, the
    /// retry carries b's new token), never to the cache of the key sent before on the same
    /// instance.
    #[tokio::test(start_paused = true)]
    async fn a_reused_instance_sends_each_request_with_its_own_keys_cache() {
        let layer = SymblAuthLayer::keyed(|key: &CredentialKey| PerKey {
            key: key.to_string(),
            fetches: AtomicUsize::new(0),
        })
        .allow_host("api.symbl.ai")
        .build()
        .expect("layer");
        let refuse_b1 = Arc::new(AtomicBool::new(false));
        let refusing = Arc::clone(&refuse_b1);
        let api = service_fn(move |request: Request<ReplayBody<String>>| {
            let seen = request.headers().get(AUTHORIZATION).cloned();
            let seen = seen.map_or(String::new(), |v| v.to_str().unwrap_or("").to_owned());
            let status = if refusing.load(Ordering::SeqCst) && seen == "Bearer b-1" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            };
            let response = Response::builder().status(status).body(seen);
            async move { Ok::<_, Infallible>(response.expect("response")) }
        });
        let mut service = layer.layer(api);
        // Fetched (the wait path); then sent with fresh tokens.
        assert_eq!(send(&mut service, "a").await.1, "Bearer a-1");
        assert_eq!(send(&mut service, "b").await.1, "Bearer b-1");
        refuse_b1.store(true, Ordering::SeqCst);
        assert_eq!(send(&mut service, "a").await.1, "Bearer a-1");
        let b = send(&mut service, "b").await;
        assert_eq!(b, (StatusCode::OK, "Bearer b-2".to_owned()));
        assert_eq!(send(&mut service, "a").await.1, "Bearer a-1");
        let stats = |key: &str| layer.key_stats(&CredentialKey::new(key)).expect("kept");
        assert_eq!(
            (stats("a").token_requests, stats("b").token_requests),
            (1, 2)
        );
    }

    /// Sends a request naming `key` on this very instance (no clone).
    async fn send<S>(service: &mut S, key: &str) -> (StatusCode, String)
    where
        S: Service<Request<String>, Response = Response<String>>,
        S::Error: std::fmt::Debug,
    {
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .expect("ready");
        let response = service.call(request(key)).await.expect("call");
        (response.status(), response.into_body())
    }
}
