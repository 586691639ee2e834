//! A request body that can be sent a second time.
//!
//! The first send streams the caller's body to the inner service and keeps each chunk on a
//! shared [`Tape`] as it passes (chunks are `Bytes`, so keeping them is a reference count, not
//! a copy). If a 401 comes back and the tape holds the whole body, the retry plays the tape.
//! A body larger than the cap, one that failed, or one the transport had not finished reading
//! when the answer came is declined, never sent truncated.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The cap on a replayable body when none is configured: enough for Symbl's JSON requests
/// (`process/text`, conversation updates) while bounding what each in-flight request keeps.
pub const DEFAULT_REPLAY_LIMIT: usize = 64 * 1024;

pin_project! {
    /// The request body the wrapped service sees: the caller's body `B` on the first send, a
    /// recording of it on the retry.
    ///
    /// Its data is `Bytes`, its error `B::Error`, and it keeps `B`'s size hint, so transports
    /// set the same `content-length`. It is `Unpin` when `B` is, as hyper-util's client needs.
    pub struct ReplayBody<B> {
        #[pin]
        state: State<B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B> {
        Streaming {
            #[pin]
            body: B,
            tape: Option<Arc<Tape>>,
        },
        Replaying {
            chunks: std::vec::IntoIter<Bytes>,
            trailers: Option<HeaderMap>,
            remaining: u64,
        },
    }
}

/// How a request's body can be sent again, decided when the request is first seen.
#[derive(Debug)]
pub(crate) enum Replay {
    /// No body at all: the retry sends an empty one.
    Empty,
    /// The body is being recorded.
    Recorded(Arc<Tape>),
}

/// Why a body could not be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declined {
    /// Larger than the replay cap.
    TooLarge,
    /// The transport had not read all of it when the answer came.
    Unfinished,
    /// The body itself failed while streaming.
    Failed,
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "body larger than the replay limit",
            Self::Unfinished => "body not fully sent when the 401 arrived",
            Self::Failed => "body failed while streaming",
        })
    }
}

/// The recording of one body, shared by the body being sent and the request's future.
#[derive(Debug)]
pub(crate) struct Tape {
    limit: usize,
    recording: Mutex<Recording>,
}

#[derive(Debug, Default)]
struct Recording {
    /// The first chunk, apart: a `Full` body is a single chunk, recorded without a `Vec`.
    first: Option<Bytes>,
    more: Vec<Bytes>,
    len: usize,
    trailers: Option<HeaderMap>,
    finished: bool,
    declined: Option<Declined>,
}

impl<B: Body> ReplayBody<B> {
    /// Wraps a body that will be sent once only.
    pub(crate) fn once(body: B) -> Self {
        Self::streaming(body, None)
    }

    /// Wraps a body and decides how it can be replayed; `Err` when it never can be.
    pub(crate) fn recorded(body: B, limit: usize) -> (Self, Result<Replay, Declined>) {
        if body.is_end_stream() {
            return (Self::once(body), Ok(Replay::Empty));
        }
        if body.size_hint().lower() > limit as u64 {
            return (Self::once(body), Err(Declined::TooLarge));
        }
        let tape = Arc::new(Tape {
            limit,
            recording: Mutex::default(),
        });
        let body = Self::streaming(body, Some(Arc::clone(&tape)));
        (body, Ok(Replay::Recorded(tape)))
    }

    fn streaming(body: B, tape: Option<Arc<Tape>>) -> Self {
        Self {
            state: State::Streaming { body, tape },
        }
    }
}

impl Replay {
    /// The body for the second send, if the first send's body was recorded whole.
    pub(crate) fn body<B>(&self) -> Result<ReplayBody<B>, Declined> {
        let (chunks, trailers, len) = match self {
            Self::Empty => (Vec::new(), None, 0),
            Self::Recorded(tape) => {
                let recording = tape.lock();
                if let Some(declined) = recording.declined {
                    return Err(declined);
                }
                if !recording.finished {
                    return Err(Declined::Unfinished);
                }
                let chunks = recording
                    .first
                    .iter()
                    .chain(&recording.more)
                    .cloned()
                    .collect();
                (chunks, recording.trailers.clone(), recording.len)
            }
        };
        Ok(ReplayBody {
            state: State::Replaying {
                chunks: chunks.into_iter(),
                trailers,
                remaining: len as u64,
            },
        })
    }
}

impl Tape {
    fn lock(&self) -> MutexGuard<'_, Recording> {
        // A poisoned lock only means a panic elsewhere mid-record; the `declined`/`finished`
        // flags are still coherent, so carry on rather than spread the panic.
        self.recording
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, frame: &Frame<Bytes>, end_of_stream: bool) {
        let mut recording = self.lock();
        if recording.declined.is_some() {
            return;
        }
        if let Some(data) = frame.data_ref() {
            if recording.len + data.len() > self.limit {
                recording.decline(Declined::TooLarge);
                return;
            }
            recording.len += data.len();
            match recording.first {
                None => recording.first = Some(data.clone()),
                Some(_) => recording.more.push(data.clone()),
            }
        } else if let Some(trailers) = frame.trailers_ref() {
            recording.trailers = Some(trailers.clone());
        }
        // hyper stops polling once `is_end_stream` is true, so a `Full` body never yields
        // `None`: the end has to be noticed here.
        recording.finished |= end_of_stream;
    }

    fn finish(&self) {
        self.lock().finished = true;
    }

    fn decline(&self, why: Declined) {
        self.lock().decline(why);
    }
}

impl Recording {
    fn decline(&mut self, why: Declined) {
        self.declined = Some(why);
        self.first = None;
        self.more = Vec::new();
        self.trailers = None;
    }
}

fn into_bytes(mut data: impl Buf) -> Bytes {
    // Free for `Bytes` (the usual case): `copy_to_bytes` on `Bytes` is a split, not a copy.
    data.copy_to_bytes(data.remaining())
}

impl<B: Body> Body for ReplayBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().state.project() {
            StateProj::Streaming { mut body, tape } => {
                let frame = ready!(body.as_mut().poll_frame(cx));
                let frame = frame.map(|result| result.map(|frame| frame.map_data(into_bytes)));
                if let Some(tape) = tape {
                    match &frame {
                        Some(Ok(frame)) => tape.record(frame, body.is_end_stream()),
                        Some(Err(_)) => tape.decline(Declined::Failed),
                        None => tape.finish(),
                    }
                }
                Poll::Ready(frame)
            }
            StateProj::Replaying {
                chunks,
                trailers,
                remaining,
            } => {
                if let Some(chunk) = chunks.next() {
                    *remaining -= chunk.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(chunk))));
                }
                Poll::Ready(
                    trailers
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                )
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Streaming { body, .. } => body.is_end_stream(),
            State::Replaying {
                chunks, trailers, ..
            } => chunks.len() == 0 && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Streaming { body, .. } => body.size_hint(),
            State::Replaying { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}

/// An empty body, as `tower-http`'s `FollowRedirect` needs to re-send a request without one.
impl<B> Default for ReplayBody<B> {
    fn default() -> Self {
        Self {
            state: State::Replaying {
                chunks: Vec::new().into_iter(),
                trailers: None,
                remaining: 0,
            },
        }
    }
}

impl<B> fmt::Debug for ReplayBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Streaming { tape: None, .. } => "streaming",
            State::Streaming { tape: Some(_), .. } => "recording",
            State::Replaying { .. } => "replaying",
        };
        f.debug_struct("ReplayBody").field("state", &state).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

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

    #[tokio::test]
    async fn full_body_counts_as_finished_after_its_only_frame() {
        let (mut body, replay) =
            ReplayBody::recorded(Full::new(Bytes::from_static(b"hello")), 1024);
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
        let (body, replay) =
            ReplayBody::recorded(StreamBody::new(tokio_stream::iter(frames)), 1024);
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
    mod properties {
        use std::collections::VecDeque;
        use std::task::Waker;

        use proptest::prelude::*;

        use super::*;

        #[derive(Clone, Debug)]
        enum Op {
            Data(Vec<u8>),
            Trailers(Vec<(u8, u16)>),
            Error,
        }

        /// A body of scripted frames, with a chosen size hint and end-of-stream behaviour.
        #[derive(Debug)]
        struct Frames {
            ops: VecDeque<Op>,
            hint: SizeHint,
            ends_early: bool,
        }

        impl Body for Frames {
            type Data = Bytes;
            type Error = std::io::Error;

            fn poll_frame(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
                Poll::Ready(self.ops.pop_front().map(|op| match op {
                    Op::Data(data) => Ok(Frame::data(Bytes::from(data))),
                    Op::Trailers(pairs) => Ok(Frame::trailers(trailers(&pairs))),
                    Op::Error => Err(std::io::Error::other("body failed")),
                }))
            }

            fn is_end_stream(&self) -> bool {
                self.ends_early && self.ops.is_empty()
            }

            fn size_hint(&self) -> SizeHint {
                self.hint
            }
        }

        fn trailers(pairs: &[(u8, u16)]) -> HeaderMap {
            const NAMES: [&str; 3] = ["x-a", "x-checksum", "grpc-status"];
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                let name = http::HeaderName::from_static(NAMES[usize::from(*name) % 3]);
                map.append(name, http::HeaderValue::from(*value));
            }
            map
        }

        #[derive(Debug, Default, PartialEq)]
        struct Seen {
            data: Vec<u8>,
            trailers: Option<HeaderMap>,
            failed: bool,
            ended: bool,
        }

        /// Polls like hyper: until `None`, an error, `frames` frames, or `is_end_stream`.
        fn drive<B: Body<Data = Bytes>>(mut body: Pin<&mut B>, frames: Option<usize>) -> Seen {
            let mut seen = Seen::default();
            let mut cx = Context::from_waker(Waker::noop());
            for count in 0.. {
                if body.is_end_stream() {
                    seen.ended = true;
                    break;
                }
                if frames.is_some_and(|frames| count >= frames) {
                    break;
                }
                match body.as_mut().poll_frame(&mut cx) {
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => seen.data.extend_from_slice(&data),
                        Err(frame) => {
                            assert!(seen.trailers.is_none(), "two trailer frames");
                            seen.trailers = frame.into_trailers().ok();
                        }
                    },
                    Poll::Ready(Some(Err(_))) => {
                        seen.failed = true;
                        break;
                    }
                    Poll::Ready(None) => {
                        seen.ended = true;
                        break;
                    }
                    Poll::Pending => unreachable!("scripted bodies are always ready"),
                }
            }
            seen
        }

        fn ops() -> impl Strategy<Value = Vec<Op>> {
            let data = proptest::collection::vec(any::<u8>(), 0..48).prop_map(Op::Data);
            let trailers =
                proptest::collection::vec((0..3u8, any::<u16>()), 0..3).prop_map(Op::Trailers);
            let op = prop_oneof![8 => data, 1 => trailers, 1 => Just(Op::Error)];
            proptest::collection::vec(op, 0..12)
        }

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 2_000,
                // Deterministic: the same cases on every run; a failure prints its input.
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x5_7b1),
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn a_replay_is_identical_or_declined(
                script in ops(),
                limit in 0usize..400,
                hint in 0u8..3,
                wrong_lower in 0u64..400,
                ends_early in any::<bool>(),
                polled in proptest::option::of(0usize..16),
            ) {
                // A body ends at its trailers or its error.
                let end = script
                    .iter()
                    .position(|op| !matches!(op, Op::Data(_)))
                    .map_or(script.len(), |at| at + 1);
                let ops: VecDeque<Op> = script[..end].iter().cloned().collect();
                let mut whole = Seen::default();
                for op in &ops {
                    match op {
                        Op::Data(data) => whole.data.extend_from_slice(data),
                        Op::Trailers(pairs) => whole.trailers = Some(trailers(pairs)),
                        Op::Error => whole.failed = true,
                    }
                }
                whole.ended = !whole.failed;
                let hint = match hint {
                    0 => SizeHint::new(),
                    1 => SizeHint::with_exact(whole.data.len() as u64),
                    _ => {
                        let mut hint = SizeHint::new();
                        hint.set_lower(wrong_lower);
                        hint
                    }
                };
                let lower = hint.lower();
                let body = Frames { ops, hint, ends_early };

                let (mut first, replay) = ReplayBody::recorded(body, limit);
                let sent = drive(Pin::new(&mut first), polled);
                match replay.ok().and_then(|replay| replay.body::<Frames>().ok()) {
                    Some(mut again) => {
                        prop_assert!(sent.ended && !sent.failed, "unfinished: {:?}", sent);
                        prop_assert!(whole.data.len() <= limit);
                        prop_assert_eq!(&sent, &whole);
                        prop_assert_eq!(again.size_hint().exact(), Some(whole.data.len() as u64));
                        let replayed = drive(Pin::new(&mut again), None);
                        prop_assert_eq!(replayed, whole);
                    }
                    None => {
                        let sent_whole = sent.ended && !sent.failed && whole.data.len() <= limit;
                        prop_assert!(
                            !sent_whole || lower > limit as u64,
                            "declined a body sent whole within the cap: {:?}", sent
                        );
                    }
                }
            }
        }
    }
}
