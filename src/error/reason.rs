//! [`Reason`]: the words of an [`Error`](super::Error), and its source.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// The words that explain an [`Error`](super::Error), with the underlying error as its source
/// where there is one (a network error, with any URL stripped).
#[derive(Clone)]
pub struct Reason {
    pub(super) message: Cow<'static, str>,
    pub(super) source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl Reason {
    pub(crate) fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}
