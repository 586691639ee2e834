//! Whether a cached token may be used without a look at the clock.
//!
//! Each cached token carries a flag that a timer clears at the token's refresh time, so the hot
//! path tests a flag instead of reading the clock. The flag is cleared from the timer's *waker*,
//! that is by Tokio's timer driver the moment the deadline passes, not when the timer's task is
//! next scheduled: a request made right after the deadline (or after paused time jumps past it)
//! already finds the token stale. If the timer's task is dropped unfinished (its runtime shut
//! down), the flag is cleared too, and requests fall back to reading the clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// The flag, kept inline in what it describes.
#[derive(Debug)]
pub(super) struct Freshness {
    fresh: AtomicBool,
    /// Dropped with the flag's owner: ends its timer.
    _stop_timer: oneshot::Sender<()>,
}

/// What starts the timer of a [`Freshness`]; made with it.
pub(super) struct TimerStart {
    stopped: oneshot::Receiver<()>,
}

impl Freshness {
    /// A flag that says stale until its timer is started.
    pub(super) fn new() -> (Self, TimerStart) {
        let (stop, stopped) = oneshot::channel();
        let flag = Self {
            fresh: AtomicBool::new(false),
            _stop_timer: stop,
        };
        (flag, TimerStart { stopped })
    }

    /// The hot path's test. A stale answer read in a race with the timer is no worse than a
    /// clock read a moment early, so no ordering is needed.
    pub(super) fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Relaxed)
    }

    pub(super) fn mark_stale(&self) {
        self.fresh.store(false, Ordering::Relaxed);
    }
}

impl TimerStart {
    /// Marks the flag that `get` finds in `owner` fresh, and stale again at `until`, with a
    /// timer on `runtime`. The timer holds `owner` weakly and ends when the flag is dropped.
    ///
    /// It touches no lock, so it may be started under one: if the runtime is shutting down and
    /// drops the timer at once, the flag is simply stale again.
    pub(super) fn start<T: Send + Sync + 'static>(
        self,
        owner: &Arc<T>,
        get: fn(&T) -> &Freshness,
        until: Instant,
        runtime: &Handle,
    ) {
        if until <= Instant::now() {
            return;
        }
        get(owner).fresh.store(true, Ordering::Relaxed);
        let marker = Arc::new(Marker {
            owner: Arc::downgrade(owner),
            get,
            task: Mutex::new(None),
        });
        runtime.spawn(StaleTimer {
            sleep: tokio::time::sleep_until(until),
            stopped: self.stopped,
            marker: StaleOnDrop(marker),
        });
    }
}

/// The timer's waker: marks the flag stale as soon as the driver fires the timer, then wakes
/// the timer's task so that it ends.
struct Marker<T> {
    owner: Weak<T>,
    get: fn(&T) -> &Freshness,
    task: Mutex<Option<Waker>>,
}

impl<T> Marker<T> {
    fn mark_stale(&self) {
        if let Some(owner) = self.owner.upgrade() {
            (self.get)(&owner).mark_stale();
        }
    }
}

impl<T: Send + Sync + 'static> Wake for Marker<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark_stale();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// Marks the flag stale when the timer ends for any reason, its runtime's shutdown included.
struct StaleOnDrop<T>(Arc<Marker<T>>);

impl<T> Drop for StaleOnDrop<T> {
    fn drop(&mut self) {
        self.0.mark_stale();
    }
}

pin_project! {
    struct StaleTimer<T> {
        #[pin]
        sleep: Sleep,
        stopped: oneshot::Receiver<()>,
        marker: StaleOnDrop<T>,
    }
}

impl<T: Send + Sync + 'static> Future for StaleTimer<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        // The flag's owner is gone (replaced or dropped): nothing left to mark.
        if Pin::new(this.stopped).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        let marker = &this.marker.0;
        *marker.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        let waker = Waker::from(Arc::clone(marker));
        this.sleep.poll(&mut Context::from_waker(&waker))
    }
}
