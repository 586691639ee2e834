//! The recording of one body, shared by the body being sent and the request's future.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;

use super::Declined;

/// The recording of one body, shared by the body being sent and the request's future.
#[derive(Debug)]
pub(crate) struct Tape {
    limit: usize,
    /// The body's exact size, if its size hint said: once that much is recorded the body is
    /// complete, even if the transport never polls its end (hyper's HTTP/1 client stops at
    /// `content-length` bytes).
    exact_len: Option<u64>,
    recording: Mutex<Recording>,
}

/// A whole recording, to play.
pub(super) struct Played {
    pub(super) chunks: Vec<Bytes>,
    pub(super) trailers: Option<Box<HeaderMap>>,
    pub(super) len: usize,
}

#[derive(Debug, Default)]
struct Recording {
    /// The first chunk, apart: a `Full` body is a single chunk, recorded without a `Vec`.
    first: Option<Bytes>,
    more: Vec<Bytes>,
    len: usize,
    /// Boxed: rare, and the recording is allocated for every request with a body.
    trailers: Option<Box<HeaderMap>>,
    finished: bool,
    declined: Option<Declined>,
}

impl Tape {
    pub(super) fn new(limit: usize, exact_len: Option<u64>) -> Self {
        Self {
            limit,
            exact_len,
            recording: Mutex::default(),
        }
    }

    /// What was recorded, if the body was recorded whole.
    pub(super) fn played(&self) -> Result<Played, Declined> {
        let recording = self.lock();
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
        Ok(Played {
            chunks,
            trailers: recording.trailers.clone(),
            len: recording.len,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        // A poisoned lock only means a panic elsewhere mid-record; the `declined`/`finished`
        // flags are still coherent, so carry on rather than spread the panic.
        self.recording
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn record(&self, frame: &Frame<Bytes>, end_of_stream: bool) {
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
            match self
                .exact_len
                .map(|exact| (recording.len as u64).cmp(&exact))
            {
                Some(std::cmp::Ordering::Equal) => recording.finished = true,
                // More than the body said it had: the transport cut it short.
                Some(std::cmp::Ordering::Greater) => return recording.decline(Declined::Failed),
                _ => {}
            }
        } else if let Some(trailers) = frame.trailers_ref() {
            recording.trailers = Some(Box::new(trailers.clone()));
        }
        // hyper stops polling once `is_end_stream` is true, so a `Full` body never yields
        // `None`: the end has to be noticed here.
        recording.finished |= end_of_stream;
    }

    pub(super) fn finish(&self) {
        self.lock().finished = true;
    }

    pub(super) fn decline(&self, why: Declined) {
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
