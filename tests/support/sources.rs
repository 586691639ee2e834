//! [`ScriptedSource`]: the token source a test scripts. It asks a `FakeSymbl`'s token endpoint
//! in memory, after doing what the test said (hold each fetch at a gate, wait a while, panic),
//! and counts the fetches it started.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use symbl_auth::test_server::FakeSymbl;
use symbl_auth::{TokenFuture, TokenSource};
use tokio::sync::Semaphore;

/// A token source over `fake` that behaves as scripted. Clones share the script and counters.
#[derive(Debug, Clone)]
pub struct ScriptedSource {
    /// The fake whose token endpoint answers each fetch the script lets through.
    pub fake: FakeSymbl,
    script: Arc<Script>,
}

#[derive(Debug, Default)]
struct Script {
    /// Each fetch waits for a permit of its own, given by [`ScriptedSource::open`].
    gate: Option<Semaphore>,
    /// Each fetch waits this long before asking.
    delay: Option<Duration>,
    /// Fetches still to panic.
    panics: AtomicUsize,
    /// Fetches started (a panicking one is not counted).
    started: AtomicUsize,
}

impl ScriptedSource {
    /// Asks `fake` at once, counting fetches.
    pub fn new(fake: FakeSymbl) -> Self {
        Self {
            fake,
            script: Arc::default(),
        }
    }

    /// Holds each fetch until the test [`open`](Self::open)s the gate for it. A gate never
    /// opened is a token endpoint that never answers.
    pub fn gated(mut self) -> Self {
        self.script_mut().gate = Some(Semaphore::new(0));
        self
    }

    /// Each fetch answers after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.script_mut().delay = Some(delay);
        self
    }

    /// The first `fetches` fetches panic before asking, as a buggy source would.
    pub fn panicking(mut self, fetches: usize) -> Self {
        *self.script_mut().panics.get_mut() = fetches;
        self
    }

    /// Fetches started so far.
    pub fn started(&self) -> usize {
        self.script.started.load(Ordering::SeqCst)
    }

    /// Lets `fetches` more fetches through the gate.
    pub fn open(&self, fetches: usize) {
        let gate = self.script.gate.as_ref().expect("a gated source");
        gate.add_permits(fetches);
    }

    /// How many copies of this source are alive, this one included: a layer keeps one for as
    /// long as it, a service made from it, or a fetch it runs is alive.
    pub fn copies(&self) -> usize {
        Arc::strong_count(&self.script)
    }

    fn script_mut(&mut self) -> &mut Script {
        Arc::get_mut(&mut self.script).expect("scripted before it is shared")
    }
}

impl TokenSource for ScriptedSource {
    fn fetch_token(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            let script = &self.script;
            let panics = script
                .panics
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                });
            if panics.is_ok() {
                panic!("token source bug");
            }
            script.started.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = &script.gate {
                gate.acquire().await.expect("gate open").forget();
            }
            if let Some(delay) = script.delay {
                tokio::time::sleep(delay).await;
            }
            self.fake.fetch_token().await
        })
    }
}
