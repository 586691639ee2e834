//! The Tokio runtime a token request runs in, checked before anything that would panic in it.
//!
//! Tokio panics when a timer is made in a runtime built without its time driver, or a socket
//! registered in one without its I/O driver (`Builder::new_current_thread().build()` has
//! neither), and has no way to ask first. A token request needs timers (its timeout, the
//! retries' back-off, the refresh timer) and, through the built-in client, sockets; without
//! them it must fail with [`Error::NoRuntime`], which says what to enable, not panic in the
//! caller or (in a layer's fetch task) end as `SourcePanicked`.
//!
//! Each check makes the smallest thing that needs the driver inside `catch_unwind`. It runs
//! only where a token request or a token's timer is about to start, never on the hot path (a
//! fresh cached token). In a runtime that has the driver nothing panics; in one that lacks
//! it, Tokio's panic message (which names the setting too) is printed by the panic hook on
//! each check before the error is returned, and a build with `panic = "abort"` aborts, as it
//! did before the check.

use std::time::Duration;

use tokio::runtime::Handle;

use crate::Error;

/// The current runtime, if it can run a token fetch's timers: [`Error::NoRuntime`] outside a
/// runtime (`outside` says what to do) or in one without the time driver.
pub(crate) fn with_timers(outside: &'static str) -> Result<Handle, Error> {
    let runtime = Handle::try_current().map_err(|_| Error::no_runtime(outside))?;
    if has_timers() {
        Ok(runtime)
    } else {
        Err(Error::no_runtime(
            "the Tokio runtime has no time driver, which token requests need for their \
             timeouts and retries: build it with enable_time() (or enable_all())",
        ))
    }
}

/// Whether the current runtime has the time driver (false outside any runtime).
pub(crate) fn has_timers() -> bool {
    std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))).is_ok()
}

/// [`Error::NoRuntime`] if the current runtime has no I/O driver, which the built-in client
/// needs for its sockets.
#[cfg(builtin_client)]
pub(crate) fn check_io() -> Result<(), Error> {
    // A socket on loopback, registered with the driver and closed: one token request, which
    // comes once per token lifetime, is worth a few system calls. If the socket cannot be
    // made at all, the request will say why itself.
    let Ok(socket) = std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .and_then(|socket| socket.set_nonblocking(true).map(|()| socket))
    else {
        return Ok(());
    };
    match std::panic::catch_unwind(move || drop(tokio::net::UdpSocket::from_std(socket))) {
        Ok(()) => Ok(()),
        Err(_) => Err(Error::no_runtime(
            "the Tokio runtime has no I/O driver, which the token request's connection \
             needs: build it with enable_io() (or enable_all())",
        )),
    }
}
