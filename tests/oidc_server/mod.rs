//! oidc-provider (`server.mjs` beside this file) on loopback, started for a test and killed when
//! its guard drops.
//!
//! The first start in a process runs `setup.sh`, which installs the pinned npm packages under
//! `target/test-node` if they are not there yet. A missing Node.js or npm is a panic that says
//! what to install: these tests never skip.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use serde_json::Value;

pub mod pki;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc_server");

/// A test key's file (tests/keys/), as server.mjs and `PrivateKey` read it.
pub fn key_file(name: &str) -> String {
    format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding node_modules and server.mjs, installed on first use.
pub fn installed() -> &'static Path {
    static DIR_INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    DIR_INSTALLED.get_or_init(|| {
        let setup = format!("{DIR}/setup.sh");
        let output = Command::new("bash")
            .arg(&setup)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|err| panic!("could not run {setup} (is bash installed?): {err}"));
        assert!(
            output.status.success(),
            "{setup} could not install oidc-provider (see its message above); the conformance \
             tests need Node.js 18 or newer with npm, and the npm registry"
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("setup.sh prints its directory")
                .trim(),
        )
    })
}

/// A running oidc-provider; dropping it kills the process.
pub struct OidcServer {
    child: Child,
    /// Held open: the server exits by itself when it closes, should the kill not happen.
    _stdin: ChildStdin,
    issuer: String,
    http: reqwest::Client,
}

impl OidcServer {
    /// Starts a server with `config`: `{"clients": [client metadata, with "private_jwk": a key
    /// file for private_key_jwt], "requireNonce": bool, "requireApiNonce": bool, "expiresIn": s}`.
    pub fn start(mut config: Value) -> Self {
        config["maxSeconds"] = Value::from(300);
        let dir = installed();
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .current_dir(dir)
            .env("OIDC_TEST_CONFIG", config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node server.mjs (is Node.js installed?)");
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
                panic!("server.mjs did not start: {other:?}");
            }
        };
        let issuer = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from server.mjs: {line}"))
            .to_owned();
        Self {
            child,
            _stdin: stdin,
            issuer,
            http: control_client(),
        }
    }

    /// The issuer identifier: `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// A plain-http client for loopback, usable under every feature set.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// server.mjs's counters (see its `stats`).
    pub async fn stats(&self) -> Value {
        self.http
            .get(self.url("/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-http client for `/stats`. Under `rustls-ring` (without `rustls`) reqwest has no
/// crypto provider of its own and would panic at `build`; it gets a config on aws-lc-rs, which
/// the tests' own dependencies bring (never used: the server is plain http on loopback).
fn control_client() -> reqwest::Client {
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
