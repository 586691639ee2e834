//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`). Not a public API: hidden
//! from the docs, and free to change with any release.

use http_body::Body;

use crate::replay::Replay;
use crate::{AccessToken, Error, ReplayBody};

/// The token endpoint's response parser, as `SymblTokenSource` runs it on a body.
pub fn parse_token_response(body: &[u8]) -> Result<AccessToken, Error> {
    crate::symbl::parse_token_response(body)
}

/// A body being recorded for a retry, as the layer records a request's body.
#[derive(Debug)]
pub struct Recording(Replay);

/// Wraps `body` as the layer does for a request that may be retried: the body to send first,
/// and its recording, or `None` when it is declined up front (larger than `limit`).
pub fn record<B: Body>(body: B, limit: usize) -> (ReplayBody<B>, Option<Recording>) {
    let (body, replay) = ReplayBody::recorded(body, limit);
    (body, replay.ok().map(Recording))
}

impl Recording {
    /// The body for the second send, or `None` when the replay is declined (too large,
    /// unfinished or failed).
    pub fn replay<B: Body>(&self) -> Option<ReplayBody<B>> {
        self.0.body().ok()
    }
}
