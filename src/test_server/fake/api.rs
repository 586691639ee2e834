//! The fake's API: `/v1/...` answered `401` unless the bearer token is current, as
//! [`FakeSymbl::api_answer`] and, in memory, as the tower service [`ApiService`].

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tokio::time::Instant;
use tower_service::Service;

use super::{json, Answer, FakeSymbl};
use crate::BoxError;

impl FakeSymbl {
    /// Whether `authorization` carries a token that is current.
    pub fn is_authorized(&self, authorization: Option<&header::HeaderValue>) -> bool {
        let token = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        token.is_some_and(|token| self.is_current(token))
    }

    /// Whether `token` was issued, is not revoked and has not expired.
    pub(in crate::test_server) fn is_current(&self, token: &str) -> bool {
        let state = self.lock();
        state
            .valid
            .get(token)
            .is_some_and(|expires_at| Instant::now() < *expires_at)
    }

    /// Answers an API request: `401` unless its token is current (or a rejection is queued),
    /// else a small JSON answer for the endpoints below.
    ///
    /// - `GET /v1/conversations` → `{"conversations":[]}`
    /// - `POST /v1/process/text` (and any other `POST`) → the body's length, echoed in JSON.
    pub async fn api_answer<B>(&self, request: Request<B>) -> Answer
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        self.shared.api_requests.fetch_add(1, Ordering::SeqCst);
        let authorized = self.is_authorized(request.headers().get(header::AUTHORIZATION));
        let rejected = {
            let mut state = self.lock();
            let forced = state.rejections > 0;
            state.rejections = state.rejections.saturating_sub(1);
            let rejected = forced || !authorized;
            if rejected && state.reject_before_body {
                return unauthorized();
            }
            rejected
        };
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, 16 * 1024 * 1024).collect().await else {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"message":"could not read the body"}"#,
            );
        };
        let body = body.to_bytes();
        self.lock().bodies.push(body.clone());
        if rejected {
            return unauthorized();
        }
        match (parts.method, parts.uri.path()) {
            (Method::GET, "/v1/conversations") => json(StatusCode::OK, r#"{"conversations":[]}"#),
            (Method::POST, _) => json(
                StatusCode::OK,
                format!(
                    r#"{{"conversationId":"fake","bytesReceived":{}}}"#,
                    body.len()
                ),
            ),
            _ => json(StatusCode::NOT_FOUND, r#"{"message":"not found"}"#),
        }
    }

    /// A tower service answering API requests in memory, as the HTTP server would.
    pub fn api_service(&self) -> ApiService {
        ApiService { fake: self.clone() }
    }
}

/// The in-memory API service made by [`FakeSymbl::api_service`].
#[derive(Clone, Debug)]
pub struct ApiService {
    fake: FakeSymbl,
}

impl<B> Service<Request<B>> for ApiService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let fake = self.fake.clone();
        Box::pin(async move { Ok(fake.api_answer(request).await.into_response()) })
    }
}

fn unauthorized() -> Answer {
    json(
        StatusCode::UNAUTHORIZED,
        r#"{"message":"Unauthorized. Please generate a new access token."}"#,
    )
}
