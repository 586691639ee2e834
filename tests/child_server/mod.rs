//! A test server run as a child process (oidc-provider on Node, Authlib on Python): started,
//! its first line (`listening on URL`) read, killed when dropped. Its stdin is held open, so
//! the server also exits by itself should the kill never happen. Shared by
//! `tests/oidc_server/` and `tests/oauth2_server/` (`#[path]`), and a control client for the
//! routes they serve.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct ChildServer {
    child: Child,
    _stdin: ChildStdin,
    /// What the first line named: `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ChildServer {
    /// Spawns `command` (its stderr as the caller set it) and waits up to 60 s for its first
    /// line; `name` is what a panic calls the server.
    pub fn start(mut command: Command, name: &str) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {name}: {err}"));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, first_line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = sender.send(lines.next());
            for _ in lines {}
        });
        let line = match first_line.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                panic!("{name} did not start: {other:?}");
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from {name}: {line}"))
            .to_owned();
        Self {
            child,
            _stdin: stdin,
            base,
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-http client for a server's control routes. Under `rustls-ring` (without `rustls`)
/// reqwest has no crypto provider of its own and would panic at `build`; it gets a config on
/// aws-lc-rs, which the tests' own dependencies bring (never used: the servers are plain http
/// on loopback).
pub fn control_client() -> reqwest::Client {
    let builder = reqwest::Client::builder().no_proxy();
    #[cfg(tls_provider = "ring")]
    let builder = {
        use tokio_rustls::rustls;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        builder.tls_backend_preconfigured(config)
    };
    builder.build().expect("client")
}
