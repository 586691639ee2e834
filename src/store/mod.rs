//! Tokens shared by a fleet of processes (feature `redis`): one token request per credential
//! per lifetime, whatever the number of processes.
//!
//! ```no_run
//! use symbl_auth::store::{RedisStore, TokenStore};
//! use symbl_auth::{Credentials, SymblAuthLayer};
//!
//! let store = RedisStore::new("redis://127.0.0.1:6379")?; // parses only: connects at first use
//! let layer = SymblAuthLayer::builder(Credentials::from_env()?)
//!     .shared_store(store.clone())
//!     .build()?;
//! # Ok::<(), symbl_auth::Error>(())
//! ```
//!
//! Before fetching, a layer reads the store; a token there with enough lifetime left is used,
//! under the same refresh-ahead rules as one it fetched. Otherwise one process takes a lease
//! (`SET NX PX`, as long as its whole fetch may take, retries included), reads once more,
//! fetches and writes the token with its expiry; the others read again every few milliseconds
//! until it is there, or the lease is gone (its holder died) and one of them takes it. A holder
//! whose fetch fails writes the failure's cool-down, and the others fail with it rather than
//! ask the token endpoint themselves. A 401 removes the token from the store only if the store
//! still holds that very token (an atomic compare-and-delete).
//!
//! What the store holds is neither readable nor forgeable: the key is a one-way fingerprint of
//! what determines the token ([`CacheKey`](crate::CacheKey): token URL, client id, a hash of
//! the secret, scopes, parameters), and the token is sealed with AES-256-GCM under a key of its
//! own, derived with HKDF-SHA384 from the credential's secret (and the app's
//! [seal key](RedisStore::seal_key), if it gives one), a random salt, the fingerprint, the
//! expiry and the lifetime. An entry that does not open (tampered, written by hand, sealed under
//! another credential) is refused, never sent, and overwritten by the next fetch.
//!
//! The cipher is the rustls `CryptoProvider`'s, so the store adds no crypto crate: one the store
//! is given ([`RedisStore::crypto_provider`]), else the TLS feature's (aws-lc-rs under
//! `rustls`, ring under `rustls-ring`), else the process default (`rustls-no-provider`,
//! `native-tls`: install one with `CryptoProvider::install_default` before `build`).
//!
//! Which sources share: every one whose [`cache_key`](crate::TokenSource::cache_key) has a
//! secret: Symbl's (the app secret), OAuth2's with a client secret (`client_secret_basic`,
//! `_post`, `_jwt`) or with `private_key_jwt` (a hash of the private key seals; the key itself
//! is never stored). An assertion made outside (`oauth2::ClientAssertion`), `tls_client_auth` or
//! an empty secret have nothing secret to seal under: they share only with the app's seal key.
//! Without one, `build` fails for a layer's one source; a keyed layer's key, met after
//! `build`, logs a warning once and fetches for itself.
//!
//! The store never makes things worse: each operation is bounded by
//! [`TokenStore::timeout`], and on any failure the layer fetches for itself, as it does without
//! a store, with one log line when the store fails and one when it is back.

mod redis;
pub(crate) mod seal;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;

use crate::Error;

pub use self::redis::RedisStore;

/// The future a [`TokenStore`] operation returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// How long one store operation may take by default: 250 ms. A local Redis answers in well
/// under a millisecond; past this, a process fetches for itself rather than wait.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(250);

/// A key-value store that processes share their tokens through: [`RedisStore`], or your own.
///
/// Keys are short ASCII strings; values are opaque bytes (sealed tokens and lease ids) that an
/// implementation stores as they are. Every operation is one round trip; the layer bounds each
/// with [`timeout`](Self::timeout) and treats an error as "no store": it fetches for itself.
/// Errors are [`Error::unavailable`] and must not carry the values.
pub trait TokenStore: fmt::Debug + Send + Sync + 'static {
    /// The value under `key`, or `None`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Sets `key` to `value`, expiring after `ttl` (Redis: `SET key value PX ttl`).
    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()>;

    /// Sets `key` to `value` only if `key` holds nothing, expiring after `ttl`; `true` if it
    /// was set (Redis: `SET key value NX PX ttl`). Used as a lease.
    fn put_new<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration)
        -> StoreFuture<'a, bool>;

    /// Deletes `key` only if it still holds `value`, atomically; `true` if it was deleted
    /// (Redis: a Lua script, `GET` then `DEL`).
    fn remove_if<'a>(&'a self, key: &'a str, value: &'a [u8]) -> StoreFuture<'a, bool>;

    /// How long one operation may take before the layer gives up on it and fetches for
    /// itself; [`DEFAULT_STORE_TIMEOUT`] unless the store says otherwise.
    fn timeout(&self) -> Duration {
        DEFAULT_STORE_TIMEOUT
    }

    /// The rustls provider whose AES-256-GCM and HKDF seal the entries; `None` (the default):
    /// the TLS feature's (`rustls`: aws-lc-rs, `rustls-ring`: ring), else the process default
    /// (`CryptoProvider::get_default`). With none, `build` fails with
    /// [`Error::InvalidConfig`].
    fn crypto_provider(&self) -> Option<Arc<CryptoProvider>> {
        None
    }

    /// The app's seal key (at least 32 bytes), mixed into every entry's key with the
    /// credential's secret; with it, a source without a secret of its own can share. A secret:
    /// never log it. `None` by default.
    fn seal_key(&self) -> Option<&[u8]> {
        None
    }
}
