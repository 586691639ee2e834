//! [`KeyedCaches`]: one [`TokenCache`] per [`CredentialKey`], bounded, least recently used out.
//!
//! Each key gets a whole `TokenCache` of its own, so single flight, refresh ahead,
//! compare-and-invalidate and the failure cool-down hold per key by construction, and no
//! token can cross keys: a key's cache only ever holds what its own source granted.
//!
//! The map is std `HashMap`s behind `RwLock`s, sharded by the key's hash: a request for a
//! cached key takes one shard's read lock, one lookup, and stamps the entry's "last used"
//! time with a relaxed store. A new key (which costs a token fetch anyway) takes the insert
//! lock; past `max_keys` it scans every entry for the oldest stamp and evicts it, so the
//! order is strictly least recently used, and no new key is ever refused. A task per map,
//! alive while keys are kept, drops keys idle for `idle_timeout`.
//!
//! Each entry also keeps a copy of its key's Bearer token ([`Published`]), which the key's
//! cache rewrites through its [`Publisher`] whenever it changes its token or its freshness;
//! a request finds the token in the bucket the lookup brought in (`published.rs`).
//!
//! Eviction drops the map's handle only: a request in flight holds its key's cache (for its
//! 401 path), and waiters of a fetch hold the cache the fetch lands in, so neither is cut
//! short.

mod hasher;
mod published;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::Instant;

use self::hasher::KeyHasher;
use self::published::Published;
use super::{CacheConfig, Token, TokenCache};
use crate::key::CredentialKey;
use crate::stats::{Counters, Stats};
use crate::TokenSource;

/// Makes the token source of a key, the first time the layer meets it.
pub(crate) type MakeSource = dyn Fn(&CredentialKey) -> Arc<dyn TokenSource> + Send + Sync;

/// Shards of the map: enough that two cores rarely meet on one read lock's counter.
const SHARDS: usize = 16;

/// The shortest pause between two idle sweeps.
const SWEEP_GRAIN: Duration = Duration::from_secs(1);

/// The bounds on a keyed map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyLimits {
    pub(crate) max_keys: usize,
    pub(crate) idle_timeout: Duration,
}

/// A cheap handle on one keyed map; clones share it.
#[derive(Clone)]
pub(crate) struct KeyedCaches {
    shared: Arc<Map>,
}

struct Map {
    make: Arc<MakeSource>,
    config: CacheConfig,
    limits: KeyLimits,
    /// The layer's counters: every key's cache counts into them too.
    counters: Arc<Counters>,
    hasher: KeyHasher,
    shards: Box<[RwLock<Shard>]>,
    /// Held to add or drop keys, so the bound is never passed, even for a moment.
    inserts: Mutex<Inserts>,
    /// Stamps are nanoseconds since this.
    epoch: Instant,
    /// The store each key's cache shares its tokens through (`shared_store`), if any.
    #[cfg(feature = "redis")]
    store: Option<Arc<dyn crate::store::TokenStore>>,
}

type Shard = HashMap<CredentialKey, Entry, KeyHasher>;

struct Inserts {
    len: usize,
    /// Whether the idle sweep's task is running.
    sweeping: bool,
}

struct Entry {
    cache: TokenCache,
    last_used: AtomicU64,
    /// The cache's token, copied here whenever the cache changes it, so a request finds it
    /// in the table's own bucket rather than two allocations further.
    token: Published,
}

impl KeyedCaches {
    pub(crate) fn new(make: Arc<MakeSource>, config: CacheConfig, limits: KeyLimits) -> Self {
        let hasher = KeyHasher::new();
        let shards = (0..SHARDS)
            .map(|_| RwLock::new(HashMap::with_hasher(hasher)))
            .collect();
        Self {
            shared: Arc::new(Map {
                make,
                config,
                limits,
                counters: Arc::default(),
                hasher,
                shards,
                inserts: Mutex::new(Inserts {
                    len: 0,
                    sweeping: false,
                }),
                epoch: Instant::now(),
                #[cfg(feature = "redis")]
                store: None,
            }),
        }
    }

    /// The same map, each key's cache sharing its tokens through `store` (a key whose source
    /// has no [`cache_key`](crate::TokenSource::cache_key) is not shared). Only for a map just
    /// made.
    #[cfg(feature = "redis")]
    pub(crate) fn with_store(mut self, store: Arc<dyn crate::store::TokenStore>) -> Self {
        if let Some(map) = Arc::get_mut(&mut self.shared) {
            map.store = Some(store);
        }
        self
    }

    pub(crate) fn config(&self) -> &CacheConfig {
        &self.shared.config
    }

    /// The layer's sums over every key, evicted ones included.
    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The cache of `key`, made (and the least recently used key evicted) if need be.
    pub(crate) fn cache(&self, key: &CredentialKey) -> TokenCache {
        self.lookup(key).0
    }

    /// The cache of `key` (made, and the least recently used key evicted, if need be) and its
    /// token if fresh. The hot path: one read lock, one lookup, one relaxed store, and the
    /// token copied from the table's bucket (which may be one cold line with 10,000 keys,
    /// where the key's cache and its token would be three more, one after the other).
    #[inline]
    pub(crate) fn lookup(&self, key: &CredentialKey) -> (TokenCache, Option<Token>) {
        let map = &*self.shared;
        let shard = map.shard(key);
        let now = map.stamp();
        let found = read(shard).get(key).map(|entry| {
            entry.last_used.store(now, Ordering::Relaxed);
            (entry.cache.clone(), entry.token.fresh(now))
        });
        match found {
            Some((cache, Some(token))) => (cache, Some(token)),
            // Not published: stale, being fetched, or bound to a key (DPoP).
            Some((cache, None)) => {
                let fresh = cache.fresh();
                (cache, fresh)
            }
            None => {
                let cache = self.insert(key, now);
                let fresh = cache.fresh();
                (cache, fresh)
            }
        }
    }

    /// A new key: its source made outside any lock, then added under the insert lock.
    #[cold]
    fn insert(&self, key: &CredentialKey, now: u64) -> TokenCache {
        let map = &*self.shared;
        let source = (map.make)(key);
        #[cfg(feature = "redis")]
        let fleet = map.store.as_ref().and_then(|store| {
            let cache_key = source.cache_key()?;
            Some(super::Fleet::new(Arc::clone(store), &cache_key))
        });
        let counters = Counters::under(Arc::clone(&map.counters));
        let cache =
            TokenCache::with_counters(source, map.config.clone(), counters, Some(key.clone()))
                .publishing_to(Publisher {
                    map: Arc::downgrade(&self.shared),
                });
        #[cfg(feature = "redis")]
        let cache = match fleet {
            Some(fleet) => cache.with_fleet(fleet),
            None => cache,
        };
        let mut inserts = map.lock_inserts();
        let shard = map.shard(key);
        if let Some(entry) = read(shard).get(key) {
            // Added by another request meanwhile.
            return entry.cache.clone();
        }
        if inserts.len >= map.limits.max_keys {
            map.evict_oldest(&mut inserts);
        }
        let entry = Entry {
            cache: cache.clone(),
            last_used: AtomicU64::new(now),
            // Nothing to publish yet: the cache is new, and nothing else has it.
            token: Published::none(),
        };
        write(shard).insert(key.clone(), entry);
        inserts.len += 1;
        if !inserts.sweeping {
            if let Ok(runtime) = Handle::try_current() {
                inserts.sweeping = true;
                runtime.spawn(sweep_idle(Arc::downgrade(&self.shared)));
            }
        }
        cache
    }

    /// The cache of `key` if it is kept, without counting as a use.
    pub(crate) fn peek(&self, key: &CredentialKey) -> Option<TokenCache> {
        let shard = self.shared.shard(key);
        let cache = read(shard).get(key).map(|entry| entry.cache.clone());
        cache
    }

    /// One key's own counters, if it is kept.
    pub(crate) fn key_stats(&self, key: &CredentialKey) -> Option<Stats> {
        Some(self.peek(key)?.counters().snapshot())
    }

    /// How many keys are kept now.
    pub(crate) fn len(&self) -> usize {
        self.shared.lock_inserts().len
    }
}

/// How a key's cache reaches its entry in the map, to publish its token there.
pub(crate) struct Publisher {
    map: Weak<Map>,
}

impl Publisher {
    /// Copies `cache`'s current token into its key's entry, after any change to it. The token
    /// is read again under the shard's write lock, so whatever the order of two calls, the
    /// last leaves the latest token. Nothing if the key was evicted (or its entry is now
    /// another cache's).
    pub(super) fn publish(&self, cache: &super::Shared) {
        let (Some(map), Some(key)) = (self.map.upgrade(), cache.key.as_ref()) else {
            return;
        };
        let mut shard = write(map.shard(key));
        let Some(entry) = shard.get_mut(key) else {
            return;
        };
        if std::ptr::eq(Arc::as_ptr(&entry.cache.shared), cache) {
            entry.token = Published::of(cache.current.load().as_deref(), map.epoch);
        }
    }
}

impl Map {
    fn shard(&self, key: &CredentialKey) -> &RwLock<Shard> {
        // Middle bits: the shard's table takes its buckets from the low bits and its tags
        // from the top seven.
        let hash = self.hasher.key_hash(key);
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    fn stamp(&self) -> u64 {
        published::stamp(Instant::now(), self.epoch)
    }

    fn lock_inserts(&self) -> MutexGuard<'_, Inserts> {
        // `Inserts` is updated after the map, by plain stores: coherent even if poisoned.
        self.inserts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops the least recently used key. An O(n) scan, on a path that fetches a token anyway.
    fn evict_oldest(&self, inserts: &mut Inserts) {
        let oldest = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(index, shard)| {
                let shard = read(shard);
                shard
                    .iter()
                    .map(|(key, entry)| (entry.last_used.load(Ordering::Relaxed), key.clone()))
                    .min()
                    .map(|(stamp, key)| (stamp, key, index))
            })
            .min();
        if let Some((_, key, index)) = oldest {
            if write(&self.shards[index]).remove(&key).is_some() {
                inserts.len -= 1;
                tracing::debug!(%key, "credential evicted: least recently used");
            }
        }
    }

    /// Drops the keys unused for `idle_timeout`; returns when the next one would be, if any
    /// is left.
    fn drop_idle(&self, inserts: &mut Inserts) -> Option<u64> {
        let idle = u64::try_from(self.limits.idle_timeout.as_nanos()).unwrap_or(u64::MAX);
        let now = self.stamp();
        let mut next: Option<u64> = None;
        for shard in self.shards.iter() {
            write(shard).retain(|key, entry| {
                let due = entry.last_used.load(Ordering::Relaxed).saturating_add(idle);
                if due <= now {
                    inserts.len -= 1;
                    tracing::debug!(%key, "credential dropped: idle");
                    return false;
                }
                next = Some(next.map_or(due, |next| next.min(due)));
                true
            });
        }
        next
    }
}

/// The idle sweep: sleeps until the next key would be idle, drops the idle ones, and ends
/// when no key is left (the next new key starts it again) or the layer is gone.
async fn sweep_idle(map: Weak<Map>) {
    let mut guard = Sweeping { map, done: false };
    let mut due = guard.map.upgrade().map(|map| map.limits.idle_timeout);
    while let Some(wait) = due {
        tokio::time::sleep(wait).await;
        let Some(map) = guard.map.upgrade() else {
            return;
        };
        let mut inserts = map.lock_inserts();
        due = match map.drop_idle(&mut inserts) {
            // At least a second apart: an idle drop needs no finer grain.
            Some(next) => {
                Some(Duration::from_nanos(next.saturating_sub(map.stamp())).max(SWEEP_GRAIN))
            }
            None => {
                inserts.sweeping = false;
                guard.done = true;
                None
            }
        };
    }
}

/// Owned by the sweep's task: if the task is dropped unfinished (its runtime shut down), the
/// next new key starts another.
struct Sweeping {
    map: Weak<Map>,
    done: bool,
}

impl Drop for Sweeping {
    fn drop(&mut self) {
        if let (false, Some(map)) = (self.done, self.map.upgrade()) {
            map.lock_inserts().sweeping = false;
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A shard is changed by single `insert`, `remove` and `retain` calls: never half done.
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl fmt::Debug for KeyedCaches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCaches")
            .field("max_keys", &self.shared.limits.max_keys)
            .field("idle_timeout", &self.shared.limits.idle_timeout)
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}
