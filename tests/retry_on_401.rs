//! A 401 refreshes the token once and sends the request once more with the newer token, body
//! and all; never again with the token just refused (with no newer token to be had, the 401 is
//! the answer).
// Under rustls-no-provider alone the built-in client needs a provider the app installs:
// tests/installed_provider.rs covers that build.
#![cfg(all(feature = "test-server", not(tls_provider = "installed")))]

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use symbl_auth::test_server::{ApiService, FakeSymbl, TestServer};
use symbl_auth::{ReplayBody, SymblAuth, SymblAuthLayer};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};

use support::*;

/// `len` bytes that are not the same byte over and over.
fn varied_bytes(len: usize) -> Bytes {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn revoked_token_gets_one_refresh_and_one_retry() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    server.symbl().revoke_tokens();
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    let symbl = server.symbl();
    assert_eq!(symbl.token_requests(), 2, "one fetch, one refresh");
    assert_eq!(symbl.tokens_issued(), 2);
    assert_eq!(
        symbl.api_requests(),
        3,
        "one call, then a 401 and its retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_401s_for_one_token_causes_one_refresh() {
    let server = TestServer::start().await.expect("server");
    let service = server.layer().layer(http2_client());
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    server.symbl().revoke_tokens();
    let mut calls = JoinSet::new();
    for _ in 0..200 {
        let service = service.clone();
        let request = get(&url);
        calls.spawn(async move { status_of(&service, request).await });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.expect("task").expect("call"), StatusCode::OK);
    }
    assert_eq!(server.symbl().token_requests(), 2, "one fetch, one refresh");
    assert_eq!(server.symbl().tokens_issued(), 2);
}

#[tokio::test]
async fn a_second_401_is_returned_after_exactly_two_sends() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    let before = server.symbl().api_requests();

    // The token is revoked (so the refresh brings a new one) and both sends are refused.
    server.symbl().revoke_tokens();
    server.symbl().reject_api_requests(2);
    let response = service.clone().oneshot(get(&url)).await.expect("call");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        body_text(response).await.contains("Unauthorized"),
        "the server's own 401"
    );
    assert_eq!(server.symbl().api_requests() - before, 2);
    assert_eq!(server.symbl().tokens_issued(), 2);
}

#[tokio::test]
async fn a_full_body_is_replayed_byte_for_byte() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    let url = server.url("/v1/process/text");
    assert_eq!(
        answered(&service, get(&server.url("/v1/conversations"))).await,
        StatusCode::OK
    );

    server.symbl().revoke_tokens();
    let body = varied_bytes(10_000);
    let status = answered(&service, post(&url, body.clone())).await;
    assert_eq!(status, StatusCode::OK);

    let received = server.symbl().received_bodies();
    assert_eq!(received.len(), 3);
    assert_eq!(received[1], body, "first send");
    assert_eq!(received[2], body, "replay");
}

/// The server's layer, replaying bodies of at most `limit` bytes, and a service made from it.
fn replaying_at_most<B>(
    server: &TestServer,
    limit: usize,
) -> (SymblAuthLayer, SymblAuth<HttpClient<B>>)
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<symbl_auth::BoxError>,
{
    let layer = server.layer_builder().replay_limit(limit).build();
    let layer = layer.expect("layer");
    let service = layer.clone().layer(http1_client());
    (layer, service)
}

type Frames = Vec<Result<Frame<Bytes>, Infallible>>;
type Chunked = StreamBody<tokio_stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn chunked(body: &Bytes, chunk: usize) -> Chunked {
    let frames: Frames = body
        .chunks(chunk)
        .map(|piece| Ok(Frame::data(Bytes::copy_from_slice(piece))))
        .collect();
    StreamBody::new(tokio_stream::iter(frames))
}

#[tokio::test]
async fn a_streamed_body_is_replayed_byte_for_byte() {
    let server = TestServer::start().await.expect("server");
    let service = server.layer().layer(http1_client());
    let url = server.url("/v1/process/text");
    let body = varied_bytes(20_000);
    let request = || {
        Request::post(&url)
            .body(chunked(&body, 1_500))
            .expect("request")
    };
    assert_eq!(answered(&service, request()).await, StatusCode::OK);

    server.symbl().revoke_tokens();
    assert_eq!(answered(&service, request()).await, StatusCode::OK);

    let received = server.symbl().received_bodies();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|got| *got == body),
        "every send carried the whole body"
    );
    assert_eq!(server.symbl().token_requests(), 2);
}

#[tokio::test]
async fn a_body_over_the_cap_is_sent_once_and_its_401_returned() {
    let server = TestServer::start().await.expect("server");
    let (_, service) = replaying_at_most(&server, 1_024);
    let url = server.url("/v1/process/text");
    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );

    server.symbl().revoke_tokens();
    let status = answered(&service, post(&url, varied_bytes(4_096))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.symbl().api_requests(), 2, "sent once, not replayed");

    // The 401 still dropped the rejected token: the next request fetches a new one.
    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );
    assert_eq!(server.symbl().token_requests(), 2);
    assert_eq!(server.symbl().api_requests(), 3);
}

#[tokio::test]
async fn a_zero_replay_limit_retries_only_requests_with_an_empty_body() {
    let server = TestServer::start().await.expect("server");
    let (layer, service) = replaying_at_most(&server, 0);
    let url = server.url("/v1/process/text");
    assert_eq!(answered(&service, post(&url, "x")).await, StatusCode::OK);

    server.symbl().revoke_tokens();
    let status = answered(&service, get(&server.url("/v1/conversations"))).await;
    assert_eq!(status, StatusCode::OK, "an empty body is retried");
    assert_eq!(layer.stats().retries, 1);

    server.symbl().revoke_tokens();
    let status = answered(&service, post(&url, "x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a 1-byte body is over 0");
    assert_eq!(layer.stats().replays_skipped, 1);
    assert_eq!(layer.stats().retries, 1);
    assert_eq!(server.symbl().api_requests(), 4);
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_not_replayed() {
    let server = TestServer::start().await.expect("server");
    let (_, service) = replaying_at_most(&server, 4_000);
    let url = server.url("/v1/process/text");
    let body = varied_bytes(10_000);
    let request = || {
        Request::post(&url)
            .body(chunked(&body, 1_000))
            .expect("request")
    };
    assert_eq!(answered(&service, request()).await, StatusCode::OK);

    server.symbl().revoke_tokens();
    assert_eq!(
        answered(&service, request()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(server.symbl().api_requests(), 2);
    assert_eq!(
        server.symbl().received_bodies()[1],
        body,
        "the first send was whole"
    );
}

#[tokio::test]
async fn a_401_before_the_body_finished_is_returned_not_retried() {
    let server = TestServer::start().await.expect("server");
    server.symbl().reject_before_body(true);
    let layer = server.layer();
    let warm_up = layer.clone().layer(http2_client());
    let service = layer.layer(http2_client());
    let url = server.url("/v1/process/text");
    assert_eq!(
        answered(&warm_up, get(&server.url("/v1/conversations"))).await,
        StatusCode::OK
    );

    server.symbl().revoke_tokens();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    sender
        .send(Ok(Frame::data(Bytes::from_static(b"first chunk"))))
        .await
        .expect("send");
    let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let request = Request::post(&url).body(body).expect("request");
    // The rest of the body never comes while the answer is awaited.
    let status = answered(&service, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.symbl().api_requests(), 2, "sent once, not retried");
    drop(sender);
}

#[tokio::test]
async fn a_401_to_a_request_without_our_token_is_left_alone() {
    let server = TestServer::start().await.expect("server");
    let service = authed_http1(&server);
    let request = Request::get(server.url("/v1/conversations"))
        .header("authorization", "Bearer callers-own-token")
        .body(Full::<Bytes>::default())
        .expect("request");
    assert_eq!(answered(&service, request).await, StatusCode::UNAUTHORIZED);
    assert_eq!(server.symbl().api_requests(), 1);
    assert_eq!(server.symbl().token_requests(), 0);
}

/// An in-memory API that holds requests marked `x-hold` until released, to order a 401 after
/// a refresh.
#[derive(Clone)]
struct Holding {
    api: ApiService,
    release: Arc<Notify>,
    held: Arc<AtomicBool>,
}

impl tower::Service<Request<ReplayBody<Full<Bytes>>>> for Holding {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReplayBody<Full<Bytes>>>) -> Self::Future {
        let mut api = self.api.clone();
        let release = Arc::clone(&self.release);
        let held = Arc::clone(&self.held);
        Box::pin(async move {
            // Only the first send waits; its retry carries the header too.
            if request.headers().contains_key("x-hold") && !held.swap(true, Ordering::SeqCst) {
                release.notified().await;
            }
            api.call(request).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_401_retries_with_the_newer_token_without_fetching() {
    let fake = FakeSymbl::new();
    let release = Arc::new(Notify::new());
    let inner = Holding {
        api: fake.api_service(),
        release: Arc::clone(&release),
        held: Default::default(),
    };
    let service = in_memory_layer(fake.clone()).layer(inner);
    let url = symbl_url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);

    // A request goes out with the first token and is held in flight...
    let held = Request::get(&url)
        .header("x-hold", "1")
        .body(Default::default())
        .expect("request");
    let held = tokio::spawn({
        let service = service.clone();
        async move { status_of(&service, held).await }
    });
    tokio::task::yield_now().await;
    // ...while the token is revoked and another request refreshes it.
    fake.revoke_tokens();
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    assert_eq!(fake.token_requests(), 2);

    // The held request now meets its 401, later than the one-a-second limit on forced
    // refreshes: only compare-and-invalidate keeps it from dropping the newer token.
    tokio::time::advance(std::time::Duration::from_secs(5)).await;
    release.notify_one();
    assert_eq!(held.await.expect("task").expect("call"), StatusCode::OK);
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.api_requests(), 5, "1 + (401, retry) + (401, retry)");
}

#[tokio::test]
async fn grpc_unauthenticated_is_treated_as_a_401() {
    let fake = FakeSymbl::new();
    let sends = Arc::new(AtomicUsize::new(0));
    let inner = tower::service_fn({
        let sends = Arc::clone(&sends);
        let fake = fake.clone();
        move |request: Request<ReplayBody<Full<Bytes>>>| {
            let sends = Arc::clone(&sends);
            let fake = fake.clone();
            async move {
                // A transport sends the whole body before the answer comes.
                let _ = request.into_body().collect().await;
                // A trailers-only gRPC answer: status 200, `grpc-status` in the headers. The
                // first is for a token the server has revoked, so the refresh brings a new one.
                let first = sends.fetch_add(1, Ordering::SeqCst) == 0;
                if first {
                    fake.revoke_tokens();
                }
                let response = http::Response::builder()
                    .version(http::Version::HTTP_2)
                    .header("content-type", "application/grpc")
                    .header("grpc-status", if first { "16" } else { "0" })
                    .body(Full::<Bytes>::default())
                    .expect("response");
                Ok::<_, Infallible>(response)
            }
        }
    });
    let service = in_memory_layer(fake.clone()).layer(inner);
    let request = Request::post("/grpc.health.v1.Health/Check")
        .body(Full::new(Bytes::from_static(b"\0\0\0\0\0")))
        .expect("request");
    let response = service.oneshot(request).await.expect("call");
    assert_eq!(response.headers()["grpc-status"], "0");
    assert_eq!(sends.load(Ordering::SeqCst), 2);
    assert_eq!(fake.token_requests(), 2, "the rejected token was refreshed");
}

#[tokio::test]
async fn stats_count_fetches_refreshes_retries_and_skipped_replays() {
    let server = TestServer::start().await.expect("server");
    let (layer, service) = replaying_at_most(&server, 16);
    let url = server.url("/v1/process/text");
    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );
    server.symbl().revoke_tokens();
    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );
    server.symbl().reject_api_requests(1);
    assert_eq!(
        answered(&service, post(&url, "larger than the sixteen bytes")).await,
        StatusCode::UNAUTHORIZED
    );

    let stats = layer.stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.token_failures, 0);
    assert_eq!(stats.refreshes, 1, "the refresh after the revocation");
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.replays_skipped, 1);
}

#[tokio::test]
async fn a_refresh_is_counted_when_its_fetch_starts_not_when_a_token_is_dropped() {
    let server = TestServer::start().await.expect("server");
    let (layer, service) = replaying_at_most(&server, 16);
    let url = server.url("/v1/process/text");
    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );

    // A 401 to a body that cannot be replayed drops the token; nothing is fetched yet.
    server.symbl().revoke_tokens();
    assert_eq!(
        answered(&service, post(&url, "larger than the sixteen bytes")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(layer.stats().refreshes, 0);
    assert_eq!(layer.stats().token_requests, 1);

    assert_eq!(
        answered(&service, post(&url, "small")).await,
        StatusCode::OK
    );
    assert_eq!(
        layer.stats().refreshes,
        1,
        "the fetch that replaced the dropped token"
    );
}

/// A body of fixed-size frames whose size hint is exact but whose `is_end_stream` is the
/// default `false`, as http-body allows: hyper's HTTP/1 client stops polling it once it has
/// written `content-length` bytes.
struct ExactSize {
    frames: std::collections::VecDeque<Bytes>,
    total: u64,
}

impl ExactSize {
    fn new(frames: usize, frame_len: usize) -> Self {
        Self {
            frames: (0..frames).map(|_| varied_bytes(frame_len)).collect(),
            total: (frames * frame_len) as u64,
        }
    }
}

impl http_body::Body for ExactSize {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.frames.pop_front().map(|data| Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.total)
    }
}

async fn exact_size_body_is_replayed(client: HttpClient<ExactSize>) {
    let server = TestServer::start().await.expect("server");
    let service = server.layer().layer(client);
    let url = server.url("/v1/process/text");
    let request = |frames| {
        Request::post(&url)
            .body(ExactSize::new(frames, 1_000))
            .expect("request")
    };
    let response = service.clone().oneshot(request(1)).await.expect("call");
    assert_eq!(response.status(), StatusCode::OK);

    server.symbl().revoke_tokens();
    let response = service.clone().oneshot(request(3)).await.expect("call");
    assert_eq!(response.status(), StatusCode::OK, "replayed after the 401");
    let bodies = server.symbl().received_bodies();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[1].len(), 3_000, "the first send, rejected");
    assert_eq!(bodies[2], bodies[1], "the same 3,000 bytes again");
}

#[tokio::test]
async fn an_exact_size_body_is_replayed_over_http1() {
    exact_size_body_is_replayed(http1_client()).await;
}

#[tokio::test]
async fn an_exact_size_body_is_replayed_over_h2c() {
    exact_size_body_is_replayed(http2_client()).await;
}

#[tokio::test]
async fn a_server_that_rejects_every_token_gets_each_call_once() {
    let server = TestServer::start().await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    assert_eq!(answered(&service, get(&url)).await, StatusCode::OK);
    let before = server.symbl().api_requests();

    // Every token is refused; the token endpoint re-serves the one it issued, as Symbl does.
    server.symbl().reject_api_requests(usize::MAX / 2);
    let started = tokio::time::Instant::now();
    for _ in 0..1_200 {
        let status = answered(&service, get(&url)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let sends = server.symbl().api_requests() - before;
    assert_eq!(sends, 1_200, "no call resent the token just refused");
    let stats = layer.stats();
    assert_eq!((stats.retries, stats.retries_declined), (0, 1_200));
    let forced = started.elapsed().as_secs() + 1;
    assert!(
        stats.token_requests <= 1 + forced,
        "{} token requests in {:?}",
        stats.token_requests,
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_rejects_every_new_token_too_sees_a_retry_per_forced_refresh_at_most() {
    let fake = FakeSymbl::new().reissue_before(std::time::Duration::from_secs(86_400));
    let server = TestServer::serve(fake).await.expect("server");
    let layer = server.layer();
    let service = layer.clone().layer(http1_client());
    let url = server.url("/v1/conversations");
    server.symbl().reject_api_requests(usize::MAX / 2);
    let started = tokio::time::Instant::now();
    for _ in 0..1_200 {
        let status = answered(&service, get(&url)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Forced refreshes are at most one a second, and only they bring a token to retry with.
    let forced = started.elapsed().as_secs() + 1;
    let sends = server.symbl().api_requests() as u64;
    assert!(
        sends <= 1_200 + forced,
        "{sends} sends for 1,200 calls in {:?}",
        started.elapsed()
    );
    assert_eq!(layer.stats().retries, sends - 1_200);
}
