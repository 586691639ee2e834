//! [`RedisStore`]: a [`TokenStore`] on Redis (or Valkey), with redis-rs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};
use rustls::crypto::CryptoProvider;
use tokio::sync::Mutex;

use super::seal::MIN_SEAL_KEY;
use super::{StoreFuture, TokenStore, DEFAULT_STORE_TIMEOUT};
use crate::redact::redact_url;
use crate::Error;

/// Deletes KEYS[1] if it holds ARGV[1]: compare-and-delete in one step, so a process never
/// removes a value another one has just written.
const REMOVE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A [`TokenStore`] on a Redis (or Valkey) server; clones share one connection.
///
/// [`new`](Self::new) only parses the URL: the connection is made at first use, so a layer
/// builds while Redis is down, and made again after a failure. One multiplexed connection
/// carries every operation of the process's layers. No TLS: use it on loopback or a private
/// network (`redis://`, `redis+unix://`); the tokens it holds are sealed either way.
///
/// ```
/// use std::time::Duration;
/// use symbl_auth::store::RedisStore;
///
/// let store = RedisStore::new("redis://127.0.0.1:6379/0")?.timeout(Duration::from_millis(100));
/// assert!(RedisStore::new("not a url").is_err());
/// # Ok::<(), symbl_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    url: String,
    timeout: Duration,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
    remove_if: Arc<Script>,
    provider: Option<Arc<CryptoProvider>>,
    seal_key: Option<Arc<[u8]>>,
}

impl RedisStore {
    /// A store at `url` (`redis://[:password@]host[:port][/db]`, `redis+unix:///path`). Fails
    /// with [`Error::InvalidConfig`] if the URL does not parse or asks for TLS (`rediss://`,
    /// not compiled in). Makes no connection.
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = Client::open(url).map_err(|_| {
            Error::config(format!(
                "the Redis URL {} does not parse (redis://host:port/db, redis+unix:///path; \
                 rediss:// needs TLS, which the `redis` feature leaves out)",
                redact_url(url)
            ))
        })?;
        Ok(Self {
            client,
            url: redact_url(url).into_owned(),
            timeout: DEFAULT_STORE_TIMEOUT,
            connection: Arc::default(),
            remove_if: Arc::new(Script::new(REMOVE_IF)),
            provider: None,
            seal_key: None,
        })
    }

    /// The rustls provider whose AES-256-GCM and HKDF seal the tokens. Needed only where the
    /// features bring none (`rustls-no-provider` without an installed default, `native-tls`,
    /// no TLS feature): `build` fails with [`Error::InvalidConfig`] without one. Never
    /// installed for the process.
    pub fn crypto_provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// A key of the app's (32 bytes or more, from a secret store: every process of the fleet
    /// needs the same one), mixed into every entry's seal with the credential's own secret.
    /// With it, sources that have no secret to seal under share too (an assertion made
    /// outside, `tls_client_auth`); without it, a process that can read the credential can
    /// open the entries. Fails with [`Error::InvalidConfig`] if shorter than 32 bytes.
    pub fn seal_key(mut self, key: impl AsRef<[u8]>) -> Result<Self, Error> {
        let key = key.as_ref();
        if key.len() < MIN_SEAL_KEY {
            return Err(Error::config(format!(
                "RedisStore::seal_key needs at least {MIN_SEAL_KEY} bytes, got {}",
                key.len()
            )));
        }
        self.seal_key = Some(Arc::from(key));
        Ok(self)
    }

    /// How long one operation (connecting included) may take, in milliseconds of a
    /// `Duration`: [`DEFAULT_STORE_TIMEOUT`] (250 ms) by default. Past it, the process fetches
    /// its token for itself. Zero is taken as 1 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The shared connection, made if there is none; `true` if it was just made.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), Error> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = &*slot {
            return Ok((connection.clone(), false));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| failure("connecting to", &error))?;
        *slot = Some(connection.clone());
        Ok((connection, true))
    }

    /// Runs `operation` on the connection within the timeout. A connection found dropped
    /// (Redis restarted since it was made) is made again and the operation tried once more;
    /// after any other failure the connection is dropped, so that the next operation
    /// connects again.
    async fn run<T, F, Fut>(&self, operation: F) -> Result<T, Error>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let attempt = async {
            loop {
                let (connection, fresh) = self.connection().await?;
                match operation(connection).await {
                    Ok(value) => return Ok(value),
                    Err(error)
                        if !fresh && (error.is_connection_dropped() || error.is_io_error()) =>
                    {
                        *self.connection.lock().await = None;
                    }
                    Err(error) => return Err(failure("a command to", &error)),
                }
            }
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Error::unavailable(
                format!("Redis did not answer within {:?}", self.timeout),
                None,
            )),
        };
        if result.is_err() {
            *self.connection.lock().await = None;
        }
        result
    }
}

/// A Redis error as the crate's, by its kind only: redis-rs's text can quote a value.
fn failure(what: &str, error: &redis::RedisError) -> Error {
    Error::unavailable(format!("{what} Redis failed: {:?}", error.kind()), None)
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl TokenStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.run(move |mut connection| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<Vec<u8>>>(&mut connection)
                .await
        }))
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(self.run(move |mut connection| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(millis(ttl))
                .query_async::<()>(&mut connection)
                .await
        }))
    }

    fn put_new<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(self.run(move |mut connection| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut connection)
                .await?;
            Ok(set.is_some())
        }))
    }

    fn remove_if<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, bool> {
        Box::pin(self.run(move |mut connection| async move {
            let removed: i64 = self
                .remove_if
                .key(key)
                .arg(value)
                .invoke_async(&mut connection)
                .await?;
            Ok(removed == 1)
        }))
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn crypto_provider(&self) -> Option<Arc<CryptoProvider>> {
        self.provider.clone()
    }

    fn seal_key(&self) -> Option<&[u8]> {
        self.seal_key.as_deref()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("seal_key", &self.seal_key.as_ref().map(|_| "set"))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_errors_show_the_password() {
        let store = RedisStore::new("redis://user:hunter2@127.0.0.1:6379/0").expect("parses");
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1"), "{debug}");
        let error = RedisStore::new("rediss://user:hunter2@127.0.0.1:6379/0")
            .expect_err("no TLS compiled in");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(RedisStore::new("http://127.0.0.1").is_err());
        let keyed = store.seal_key([0x5a; 32]).expect("32 bytes");
        let debug = format!("{keyed:?}");
        assert!(debug.contains("seal_key: Some(\"set\")"), "{debug}");
        assert!(!debug.contains("90"), "{debug}");
    }

    #[test]
    fn a_seal_key_shorter_than_32_bytes_is_refused() {
        let store = RedisStore::new("redis://127.0.0.1").expect("parses");
        let error = store.seal_key([1; 31]).expect_err("short");
        assert!(error.to_string().contains("32 bytes"), "{error}");
    }
}
