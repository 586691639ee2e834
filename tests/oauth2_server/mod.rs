//! Authlib's OAuth2 authorization server (`server.py` beside this file) on loopback, started for
//! a test and killed when its guard drops.
//!
//! The first start in a process runs `setup.sh`, which installs the pinned Python packages
//! into a venv under `target/` if they are not there yet. A missing Python, venv or pip is a
//! panic that says what to install: these tests never skip.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

#[path = "../child_server/mod.rs"]
mod child_server;
#[path = "../support/setup_script.rs"]
// Loaded by each server that needs it; a test may use two of them.
#[allow(clippy::duplicate_mod)]
mod setup_script;
use child_server::{control_client, ChildServer};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth2_server");

/// A client registered on the server.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: &'static str,
    pub secret: &'static str,
    /// `client_secret_basic` or `client_secret_post`: the only method the server accepts
    /// from this client.
    pub auth_method: &'static str,
    /// The scope the server may grant it.
    pub scope: &'static str,
    /// Whether it may use the client credentials grant (else: `unauthorized_client`).
    pub grant_allowed: bool,
}

/// The venv's python, installed on first use.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        setup_script::run(
            &format!("{DIR}/setup.sh"),
            "the conformance tests need Python 3 with venv and pip, and PyPI",
        )
    })
}

/// A running server; dropping it kills the process.
pub struct AuthServer {
    server: ChildServer,
    http: reqwest::Client,
}

impl AuthServer {
    /// Starts a server for `clients` whose tokens live `expires_in` seconds (`0`: tokens
    /// without `expires_in`, that never expire).
    pub fn start(clients: &[Client], expires_in: u64) -> Self {
        let registered: Vec<Value> = clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "client_id": c.id, "client_secret": c.secret,
                    "auth_method": c.auth_method, "scope": c.scope,
                    "grant_allowed": c.grant_allowed,
                })
            })
            .collect();
        let mut python = Command::new(python());
        python
            .arg(format!("{DIR}/server.py"))
            .args([
                "--expires-in",
                &expires_in.to_string(),
                "--max-seconds",
                "300",
            ])
            .env("OAUTH2_TEST_CLIENTS", Value::Array(registered).to_string())
            .stderr(Stdio::inherit());
        Self {
            server: ChildServer::start(python, "server.py (see its output above)"),
            http: control_client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// The server's counters: token_requests, tokens_issued, api_requests, api_unauthorized,
    /// api_forbidden, revocations, auth_methods, last_token_form, distinct_api_tokens.
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

    /// Revokes `token` (RFC 7009) as `client`, which must use client_secret_basic.
    pub async fn revoke(&self, client: &Client, token: &str) {
        let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let response = self
            .http
            .post(self.url("/revoke"))
            .basic_auth(encode(client.id), Some(encode(client.secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "token={}&token_type_hint=access_token",
                encode(token)
            ))
            .send()
            .await
            .expect("revoke");
        assert_eq!(response.status(), 200, "revocation refused");
    }
}
