//! [`KeyHasher`]: the keyed map's hasher, which hashes no bytes per lookup.

use std::hash::{BuildHasher, Hasher, RandomState};

use crate::key::CredentialKey;

/// Hashes a [`CredentialKey`] by the hash it carries, mixed with this map's random seed by a
/// folded multiply: no pass over the key's bytes per lookup. The seed keeps the bits the map
/// uses (low for the bucket, high for the tag, middle for the shard) from being chosen by
/// whoever names the keys; only a full 64-bit SipHash collision survives it.
#[derive(Clone, Copy)]
pub(super) struct KeyHasher {
    seed: u64,
}

impl KeyHasher {
    pub(super) fn new() -> Self {
        Self {
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
        }
    }

    fn mix(self, hash: u64) -> u64 {
        let product = u128::from(hash ^ self.seed) * 0x9e37_79b9_7f4a_7c15_u128;
        (product as u64) ^ ((product >> 64) as u64)
    }

    pub(super) fn key_hash(self, key: &CredentialKey) -> u64 {
        self.mix(key.prehash())
    }
}

impl BuildHasher for KeyHasher {
    type Hasher = KeyHash;

    fn build_hasher(&self) -> KeyHash {
        KeyHash {
            mixer: *self,
            hash: 0,
        }
    }
}

/// What [`KeyHasher`] builds: takes the key's `write_u64` (all a `CredentialKey` writes).
pub(super) struct KeyHash {
    mixer: KeyHasher,
    hash: u64,
}

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write_u64(&mut self, hash: u64) {
        self.hash = self.mixer.mix(self.hash ^ hash);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by a `CredentialKey`; correct for anything else all the same.
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
}
