//! oidc-provider (`server.mjs` beside this file) on loopback, started for a test and killed when
//! its guard drops.
//!
//! The first start in a process runs `setup.sh`, which installs the pinned npm packages under
//! `target/test-node` if they are not there yet. A missing Node.js or npm is a panic that says
//! what to install: these tests never skip.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub mod pki;

#[path = "../child_server/mod.rs"]
mod child_server;
#[path = "../support/setup_script.rs"]
// Loaded by each server that needs it; a test may use two of them.
#[allow(clippy::duplicate_mod)]
mod setup_script;
use child_server::{control_client, ChildServer};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc_server");

/// A test key's file (tests/keys/), as server.mjs and `PrivateKey` read it.
pub fn key_file(name: &str) -> String {
    format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding node_modules and server.mjs, installed on first use.
pub fn installed() -> &'static Path {
    static DIR_INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    DIR_INSTALLED.get_or_init(|| {
        setup_script::run(
            &format!("{DIR}/setup.sh"),
            "the conformance tests need Node.js 18 or newer with npm, and the npm registry",
        )
    })
}

/// A running oidc-provider; dropping it kills the process.
pub struct OidcServer {
    server: ChildServer,
    http: reqwest::Client,
}

impl OidcServer {
    /// Starts a server with `config`: `{"clients": [client metadata, with "private_jwk": a key
    /// file for private_key_jwt], "requireNonce": bool, "requireApiNonce": bool, "expiresIn": s}`.
    pub fn start(mut config: Value) -> Self {
        config["maxSeconds"] = Value::from(300);
        let dir = installed();
        let mut node = Command::new("node");
        node.arg(dir.join("server.mjs"))
            .current_dir(dir)
            .env("OIDC_TEST_CONFIG", config.to_string())
            .stderr(Stdio::null());
        Self {
            server: ChildServer::start(node, "node server.mjs (is Node.js installed?)"),
            http: control_client(),
        }
    }

    /// The issuer identifier: `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> &str {
        &self.server.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
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
