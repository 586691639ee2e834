//! Runs the `setup.sh` that finds or installs a test's third-party server (Authlib,
//! oidc-provider, redis-server) and returns the path it prints on its last line. Shared by
//! `tests/oauth2_server/`, `tests/oidc_server/` and `redis_server.rs` (`#[path]`).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Runs `setup` (its messages on stderr as they come); a failure panics with `needs`, what
/// the tests need to have it work.
pub fn run(setup: &str, needs: &str) -> PathBuf {
    let output = Command::new("bash")
        .arg(setup)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|err| panic!("could not run {setup} (is bash installed?): {err}"));
    assert!(
        output.status.success(),
        "{setup} failed (see its message above); {needs}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default().trim();
    assert!(!last.is_empty(), "{setup} printed no path");
    PathBuf::from(last)
}
