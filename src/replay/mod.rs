//! A request body that can be sent a second time.
//!
//! The first send streams the caller's body to the inner service and keeps each chunk on a
//! shared [`Tape`] as it passes (chunks are `Bytes`, so keeping them is a reference count, not
//! a copy). If a 401 comes back and the tape holds the whole body, the retry plays the tape.
//! A body larger than the cap, one that failed, or one the transport had not finished reading
//! when the answer came is declined, never sent truncated.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The cap on a replayable body when none is configured: enough for Symbl's JSON requests
/// (`process/text`, conversation updates) while bounding what each in-flight request keeps.
pub const DEFAULT_REPLAY_LIMIT: usize = 64 * 1024;

mod tape;

use self::tape::{Played, Tape};

pin_project! {
    /// The request body the wrapped service sees: the caller's body `B` on the first send, a
    /// recording of it on the retry.
    ///
    /// Its data is `Bytes`, its error `B::Error`, and it keeps `B`'s size hint, so transports
    /// set the same `content-length`. It is `Unpin` when `B` is, as hyper-util's client needs.
    ///
    /// You meet it in the inner service's request type: a hyper-util client behind the layer
    /// is a `Client<_, ReplayBody<B>>` for your body type `B`. A request you send to that
    /// client yourself, outside the layer, wraps its body with [`ReplayBody::new`]:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body::Body as _;
    /// use http_body_util::{BodyExt, Full};
    /// use hyper_util::client::legacy::{connect::HttpConnector, Client};
    /// use hyper_util::rt::TokioExecutor;
    /// use symbl_auth::ReplayBody;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), std::convert::Infallible> {
    /// // The client the layer wraps (any connector; an https one for Symbl).
    /// type Inner = Client<HttpConnector, ReplayBody<Full<Bytes>>>;
    /// let _client: Inner = Client::builder(TokioExecutor::new()).build_http();
    ///
    /// let body = ReplayBody::new(Full::new(Bytes::from_static(b"{\"text\":\"hi\"}")));
    /// assert_eq!(body.size_hint().exact(), Some(13)); // the same content-length
    /// assert_eq!(body.collect().await?.to_bytes(), r#"{"text":"hi"}"#);
    /// # Ok(())
    /// # }
    /// ```
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
            // Boxed: rare, and the body travels inside every request, so it stays small.
            trailers: Option<Box<HeaderMap>>,
            remaining: u64,
        },
    }
}

/// How a request's body can be sent again, decided when the request is first seen.
#[derive(Clone, Debug)]
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

impl<B> ReplayBody<B> {
    /// `body`, to be sent once, as any request the wrapped service sees. For requests made
    /// outside the layer to the same client, such as token requests through
    /// [`token_client`](crate::SymblAuthLayerBuilder::token_client), so that one
    /// `Client<_, ReplayBody<Full<Bytes>>>` carries both.
    pub fn new(body: B) -> Self {
        Self {
            state: State::Streaming { body, tape: None },
        }
    }
}

/// [`ReplayBody::new`]: what [`token_client`](crate::SymblAuthLayerBuilder::token_client)
/// makes its `Full<Bytes>` bodies into.
impl<B> From<B> for ReplayBody<B> {
    fn from(body: B) -> Self {
        Self::new(body)
    }
}

impl<B: Body> ReplayBody<B> {
    /// Wraps a body that will be sent once only.
    pub(crate) fn once(body: B) -> Self {
        Self::new(body)
    }

    /// Wraps a body and decides how it can be replayed; `Err` when it never can be.
    pub(crate) fn recorded(body: B, limit: usize) -> (Self, Result<Replay, Declined>) {
        if body.is_end_stream() {
            return (Self::once(body), Ok(Replay::Empty));
        }
        if body.size_hint().lower() > limit as u64 {
            return (Self::once(body), Err(Declined::TooLarge));
        }
        let tape = Arc::new(Tape::new(limit, body.size_hint().exact()));
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
        let Played {
            chunks,
            trailers,
            len,
        } = match self {
            Self::Empty => Played {
                chunks: Vec::new(),
                trailers: None,
                len: 0,
            },
            Self::Recorded(tape) => tape.played()?,
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
                        .map(|trailers| Ok(Frame::trailers(*trailers))),
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
mod tests;
