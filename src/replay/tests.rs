//! Unit and property tests of the replay body, driven as a transport drives it.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full, StreamBody};

use super::*;

type Chunks = Vec<Result<Frame<Bytes>, Infallible>>;
type Streamed =
    StreamBody<tokio_stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

fn stream(frames: Chunks) -> Streamed {
    StreamBody::new(tokio_stream::iter(frames))
}

async fn collect<B: Body<Data = Bytes>>(body: B) -> (Bytes, Option<HeaderMap>)
where
    B::Error: fmt::Debug,
{
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    (collected.to_bytes(), trailers)
}

/// A replay's size hint is what is left of it after each frame (the `Body` contract: an exact
/// hint is the rest of the body), and `From` wraps a body whole, sent once.
#[tokio::test]
async fn a_replay_counts_its_size_hint_down_and_from_keeps_the_body_whole() {
    let chunks = [&b"ab"[..], b"cde", b"f"];
    let frames = chunks
        .iter()
        .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk))))
        .collect();
    let (mut first, replay) = ReplayBody::recorded(stream(frames), 1024);
    while first.frame().await.is_some() {}
    let mut again = replay
        .expect("replayable")
        .body::<Streamed>()
        .expect("finished");
    let mut left = 6;
    assert_eq!(again.size_hint().exact(), Some(left));
    while let Some(frame) = again.frame().await {
        left -= frame.expect("ok").into_data().expect("data").len() as u64;
        assert_eq!(again.size_hint().exact(), Some(left), "after a frame");
    }
    assert_eq!(left, 0);

    let once = ReplayBody::from(Full::new(Bytes::from_static(b"grant_type=x")));
    assert_eq!(collect(once).await.0, "grant_type=x");
}

/// The limit is inclusive: a body of exactly that many bytes is replayed.
#[tokio::test]
async fn a_body_of_exactly_the_limit_is_replayed() {
    let (mut first, replay) = ReplayBody::recorded(
        stream(vec![Ok(Frame::data(Bytes::from_static(
            b"0123456789abcdef",
        )))]),
        16,
    );
    while first.frame().await.is_some() {}
    let again = replay
        .expect("replayable")
        .body::<Streamed>()
        .expect("within the limit");
    assert_eq!(collect(again).await.0, "0123456789abcdef");
}

#[tokio::test]
async fn full_body_counts_as_finished_after_its_only_frame() {
    let (mut body, replay) = ReplayBody::recorded(Full::new(Bytes::from_static(b"hello")), 1024);
    let replay = replay.expect("replayable");
    // Poll exactly as hyper does: stop as soon as `is_end_stream` says so.
    let frame = body.frame().await.expect("frame").expect("ok");
    assert_eq!(frame.into_data().expect("data"), "hello");
    assert!(body.is_end_stream());

    let again = replay.body::<Full<Bytes>>().expect("finished");
    assert_eq!(again.size_hint().exact(), Some(5));
    assert_eq!(collect(again).await.0, "hello");
}

#[tokio::test]
async fn streamed_chunks_and_trailers_replay_identically() {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc".parse().expect("header"));
    let frames: Chunks = vec![
        Ok(Frame::data(Bytes::from_static(b"one "))),
        Ok(Frame::data(Bytes::from_static(b"two "))),
        Ok(Frame::data(Bytes::from_static(b"three"))),
        Ok(Frame::trailers(trailers.clone())),
    ];
    let (body, replay) = ReplayBody::recorded(stream(frames), 1024);
    let replay = replay.expect("replayable");
    assert_eq!(
        collect(body).await,
        (Bytes::from("one two three"), Some(trailers.clone()))
    );

    let again = replay.body::<Full<Bytes>>().expect("finished");
    assert_eq!(
        collect(again).await,
        (Bytes::from("one two three"), Some(trailers))
    );
}

#[tokio::test]
async fn body_over_the_limit_is_declined() {
    let frames: Chunks = vec![
        Ok(Frame::data(Bytes::from(vec![1; 600]))),
        Ok(Frame::data(Bytes::from(vec![2; 600]))),
    ];
    let (body, replay) = ReplayBody::recorded(stream(frames), 1000);
    let replay = replay.expect("size unknown up front");
    assert_eq!(
        collect(body).await.0.len(),
        1200,
        "the first send is untouched"
    );
    assert_eq!(
        replay.body::<Full<Bytes>>().unwrap_err(),
        Declined::TooLarge
    );
}

#[test]
fn body_known_to_be_too_large_is_never_recorded() {
    let (body, replay) = ReplayBody::recorded(Full::new(Bytes::from(vec![0; 2000])), 1000);
    assert_eq!(replay.unwrap_err(), Declined::TooLarge);
    assert_eq!(format!("{body:?}"), r#"ReplayBody { state: "streaming" }"#);
}

#[tokio::test]
async fn unfinished_body_is_declined() {
    let frames: Chunks = vec![
        Ok(Frame::data(Bytes::from_static(b"a"))),
        Ok(Frame::data(Bytes::from_static(b"b"))),
    ];
    let (mut body, replay) = ReplayBody::recorded(stream(frames), 1024);
    let _first = body.frame().await;
    assert_eq!(
        replay
            .expect("replayable")
            .body::<Full<Bytes>>()
            .unwrap_err(),
        Declined::Unfinished
    );
}

#[tokio::test]
async fn failed_body_is_declined() {
    let frames = vec![
        Ok(Frame::data(Bytes::from_static(b"a"))),
        Err(std::io::Error::other("disk gone")),
    ];
    let (body, replay) = ReplayBody::recorded(StreamBody::new(tokio_stream::iter(frames)), 1024);
    assert!(body.collect().await.is_err());
    assert_eq!(
        replay
            .expect("replayable")
            .body::<Full<Bytes>>()
            .unwrap_err(),
        Declined::Failed
    );
}

#[tokio::test]
async fn empty_body_replays_as_empty() {
    let (body, replay) = ReplayBody::recorded(http_body_util::Empty::<Bytes>::new(), 1024);
    assert!(body.is_end_stream());
    let again = replay
        .expect("replayable")
        .body::<Full<Bytes>>()
        .expect("empty");
    assert!(again.is_end_stream());
    assert_eq!(again.size_hint().exact(), Some(0));
}

/// Property tests: a replay is byte-identical (data and trailers) or declined.
mod properties;

/// Frames of a fixed total size, saying so in its size hint but never in `is_end_stream`
/// (the default `false`), as http-body allows.
struct Sized {
    frames: Vec<Bytes>,
    total: u64,
}

impl Body for Sized {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = (!self.frames.is_empty()).then(|| self.frames.remove(0));
        Poll::Ready(next.map(|data| Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total)
    }
}

#[tokio::test]
async fn an_exact_size_body_is_complete_once_that_much_is_recorded() {
    let frames = vec![Bytes::from(vec![1; 1000]); 3];
    let (mut body, replay) = ReplayBody::recorded(
        Sized {
            frames,
            total: 3000,
        },
        64 * 1024,
    );
    let replay = replay.expect("replayable");
    // Poll as hyper's HTTP/1 client does: up to content-length bytes, never to the end.
    let mut sent = 0;
    while sent < 3000 {
        let frame = body.frame().await.expect("frame").expect("ok");
        sent += frame.into_data().expect("data").len();
    }
    let again = replay
        .body::<Full<Bytes>>()
        .expect("complete at 3000 bytes");
    assert_eq!(collect(again).await.0, Bytes::from(vec![1; 3000]));
}

#[tokio::test]
async fn a_body_longer_than_its_exact_size_is_declined() {
    let frames = vec![Bytes::from(vec![1; 1000]); 3];
    let (body, replay) = ReplayBody::recorded(
        Sized {
            frames,
            total: 2000,
        },
        64 * 1024,
    );
    let replay = replay.expect("replayable");
    let _ = collect(body).await;
    assert_eq!(replay.body::<Full<Bytes>>().unwrap_err(), Declined::Failed);
}
