//! Shared pieces of the end-to-end tests: requests, real clients and layers, and the one set of
//! test doubles every file uses.
//!
//! - [`clients`]: real hyper-util clients, and layers over a `TestServer` or a `FakeSymbl`;
//! - [`sources`]: [`ScriptedSource`], a token source that gates, delays or panics as scripted;
//! - [`recording`]: [`RecordingService`] (in memory) and [`recording_server`]'s
//!   [`RecordingServer`] (loopback), which record every request and answer as the test says
//!   (a status, or a redirect);
//! - [`raw_peer`]: [`RawPeer`], a TCP peer on loopback that records request heads and answers
//!   raw bytes, or nothing at all;
//! - [`rng`]: [`SeededRng`], the same sequence for a seed on every machine;
//! - [`trace`]: [`Captured`] `tracing` output, error chains, and the scan for secrets.
#![allow(dead_code, unreachable_pub)]
// Each test binary uses its own part of the support.
#![allow(unused_imports)]

pub mod clients;
#[cfg(all(feature = "redis", feature = "test-server"))]
pub mod fleet;
pub mod raw_peer;
pub mod recording;
pub mod recording_server;
#[cfg(feature = "redis")]
pub mod redis_server;
pub mod rng;
pub mod sources;
pub mod trace;

pub use clients::{authed_http1, http1_client, http2_client, in_memory_layer, HttpClient};
pub use raw_peer::{header_values, RawPeer, Reply, ANSWER_200, ANSWER_401, ANSWER_503};
pub use recording::{redirect, status, RecordingService, Seen};
pub use recording_server::{CrossHostRedirect, RecordingServer};
pub use rng::SeededRng;
pub use sources::ScriptedSource;
pub use trace::{assert_no_secret_or_token, error_chain, Captured};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use symbl_auth::BoxError;
use tower::ServiceExt;

pub fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).expect("request")
}

pub fn post(url: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(url)
        .body(Full::new(body.into()))
        .expect("request")
}

/// `https://api.symbl.ai{path}`: in-memory services never connect, so the real host is fine.
pub fn symbl_url(path: &str) -> String {
    format!("https://api.symbl.ai{path}")
}

/// Sends one request through a clone of `service` and returns the status.
pub async fn status_of<S, B, R>(service: &S, request: Request<B>) -> Result<StatusCode, BoxError>
where
    S: tower::Service<Request<B>, Response = Response<R>, Error = BoxError> + Clone,
{
    let response = service.clone().oneshot(request).await?;
    Ok(response.status())
}

/// Sends one request through a clone of `service` and returns the status it was answered with;
/// the call must not fail.
pub async fn answered<S, B, R>(service: &S, request: Request<B>) -> StatusCode
where
    S: tower::Service<Request<B>, Response = Response<R>, Error = BoxError> + Clone,
{
    status_of(service, request).await.expect("call")
}

pub async fn body_text<B>(response: Response<B>) -> String
where
    B: Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The auth error inside a service error, or a panic that shows what came instead.
pub fn auth_error(error: &BoxError) -> &symbl_auth::Error {
    error
        .downcast_ref::<symbl_auth::Error>()
        .unwrap_or_else(|| panic!("expected a symbl_auth::Error, got {error:?}"))
}

/// Waits, yielding, until `done` holds; bounded in rounds, no sleeping.
pub async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never held");
}
