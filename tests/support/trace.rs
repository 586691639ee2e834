//! What the tests scan for secrets: `tracing` output captured at TRACE, and the whole text of
//! an error with its sources.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use symbl_auth::test_server::TEST_APP_SECRET;
use symbl_auth::BoxError;

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Installs a process-wide TRACE subscriber writing here. Once per test binary.
    pub fn install() -> Self {
        let captured = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The error's `Display` and `Debug`, and those of every source below it.
pub fn error_chain(error: &BoxError) -> String {
    let mut text = format!("{error} | {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, " | {cause} | {cause:?}");
        source = cause.source();
    }
    text
}

/// Fails on the first text that shows the test app secret or a token the fake issued (they all
/// start `fake-token`).
pub fn assert_no_secret_or_token(texts: &[String]) {
    for text in texts {
        assert!(!text.contains(TEST_APP_SECRET), "secret in: {text}");
        assert!(!text.contains("fake-token"), "token in: {text}");
    }
}
