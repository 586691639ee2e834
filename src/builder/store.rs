//! `shared_store` (feature `redis`): tokens shared by a fleet of processes.

use std::sync::Arc;

use super::SymblAuthLayerBuilder;
use crate::store::TokenStore;

impl SymblAuthLayerBuilder {
    /// Shares the layer's tokens with every process that uses the same credential and store:
    /// one token request per credential per lifetime for the whole fleet. See
    /// [`store`](crate::store) for what is stored (a fingerprint as the key, the token sealed
    /// under a key derived from the secret) and what happens when the store fails (each
    /// process fetches for itself; no request fails because of the store).
    ///
    /// The source must say what determines its tokens ([`TokenSource::cache_key`]); Symbl's and
    /// [`ClientCredentials`](crate::oauth2::ClientCredentials) do. `build` fails with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for one that does not. On a
    /// [`keyed`](crate::SymblAuthLayer::keyed) layer each key's cache shares its tokens through
    /// the store; a key whose source returns no `cache_key` (checked when the key is first met,
    /// since sources are made then) is not shared, and fetches for itself.
    ///
    /// [`TokenSource::cache_key`]: crate::TokenSource::cache_key
    pub fn shared_store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }
}
