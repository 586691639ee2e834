//! The replay body driven by arbitrary frame sequences, size hints, caps and a transport that
//! stops at an arbitrary frame (a 401 arriving mid-body): a replay is byte-identical to the body
//! (data and trailers) or it is declined; never truncated, duplicated or reordered. A body that
//! was sent whole, within the cap and without error, is never declined.
#![no_main]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use arbitrary::Arbitrary;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Data(Vec<u8>),
    /// Trailers, as (name index, value) pairs; they end the body.
    Trailers(Vec<(u8, u8)>),
    /// The body fails here.
    Error,
}

#[derive(Arbitrary, Debug)]
enum Hint {
    Unknown,
    /// The true length, as `Full` gives.
    Exact,
    /// A lower bound that may be wrong.
    Lower(u16),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
    limit: u16,
    hint: Hint,
    /// Whether `is_end_stream` turns true after the last frame (like `Full`) or only `None`
    /// says so (like a stream).
    ends_early: bool,
    /// Frames the transport reads before the answer arrives; `None`: all it can.
    polled: Option<u8>,
}

#[derive(Debug)]
struct Frames {
    ops: VecDeque<Op>,
    hint: SizeHint,
    ends_early: bool,
}

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed")
    }
}

impl std::error::Error for Failed {}

impl Body for Frames {
    type Data = Bytes;
    type Error = Failed;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Failed>>> {
        Poll::Ready(self.ops.pop_front().map(|op| match op {
            Op::Data(data) => Ok(Frame::data(Bytes::from(data))),
            Op::Trailers(pairs) => Ok(Frame::trailers(trailers(&pairs))),
            Op::Error => Err(Failed),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.ends_early && self.ops.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

fn trailers(pairs: &[(u8, u8)]) -> HeaderMap {
    const NAMES: [&str; 4] = ["x-a", "x-b", "x-checksum", "grpc-status"];
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_static(NAMES[usize::from(*name) % NAMES.len()]);
        map.append(name, HeaderValue::from(u16::from(*value)));
    }
    map
}

/// What a body yielded: its data, its trailers, whether it failed, and whether it ended.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    data: Vec<u8>,
    trailers: Option<HeaderMap>,
    failed: bool,
    ended: bool,
}

/// Polls like hyper: stops at `None`, an error, after `frames` frames, or as soon as
/// `is_end_stream` is true.
fn drive<B: Body<Data = Bytes>>(mut body: Pin<&mut B>, frames: Option<usize>) -> Seen {
    let mut seen = Seen::default();
    let mut cx = Context::from_waker(Waker::noop());
    let mut count = 0;
    loop {
        if body.is_end_stream() {
            seen.ended = true;
            return seen;
        }
        if frames.is_some_and(|frames| count >= frames) {
            return seen;
        }
        count += 1;
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => seen.data.extend_from_slice(&data),
                Err(frame) => {
                    let trailers = frame.into_trailers().expect("data or trailers");
                    assert!(seen.trailers.is_none(), "two trailer frames");
                    seen.trailers = Some(trailers);
                }
            },
            Poll::Ready(Some(Err(_))) => {
                seen.failed = true;
                return seen;
            }
            Poll::Ready(None) => {
                seen.ended = true;
                return seen;
            }
            Poll::Pending => unreachable!("these bodies are always ready"),
        }
    }
}

fuzz_target!(|input: Input| {
    let mut ops: VecDeque<Op> = VecDeque::new();
    for op in input.ops {
        let ends = matches!(op, Op::Trailers(_) | Op::Error);
        ops.push_back(op);
        if ends {
            break;
        }
    }
    // The whole body, as its frames say.
    let mut whole = Seen::default();
    for op in &ops {
        match op {
            Op::Data(data) => whole.data.extend_from_slice(data),
            Op::Trailers(pairs) => whole.trailers = Some(trailers(pairs)),
            Op::Error => whole.failed = true,
        }
    }
    whole.ended = !whole.failed;
    let hint = match input.hint {
        Hint::Unknown => SizeHint::new(),
        Hint::Exact => SizeHint::with_exact(whole.data.len() as u64),
        Hint::Lower(lower) => {
            let mut hint = SizeHint::new();
            hint.set_lower(u64::from(lower));
            hint
        }
    };
    let lower = hint.lower();
    let body = Frames {
        ops,
        hint,
        ends_early: input.ends_early,
    };
    let limit = usize::from(input.limit);

    let (mut first, recording) = symbl_auth::__fuzz::record(body, limit);
    let sent = drive(Pin::new(&mut first), input.polled.map(usize::from));
    let replay = recording
        .as_ref()
        .and_then(|recording| recording.replay::<Frames>());
    match replay {
        Some(mut replay) => {
            // Only a body sent whole, without error and within the cap is replayed...
            assert!(
                sent.ended && !sent.failed,
                "replayed an unfinished body: {sent:?}"
            );
            assert!(whole.data.len() <= limit, "replayed past the cap");
            assert_eq!(sent, whole, "the first send saw the whole body");
            assert_eq!(replay.size_hint().exact(), Some(whole.data.len() as u64));
            // ... and it replays byte for byte, trailers included.
            let again = drive(Pin::new(&mut replay), None);
            assert_eq!(again, whole, "the replay differs from the body");
        }
        None => {
            let whole_and_small = sent.ended && !sent.failed && whole.data.len() <= limit;
            assert!(
                !whole_and_small || lower > limit as u64,
                "declined a body sent whole within the cap: {sent:?}"
            );
        }
    }
});
