//! [`TokenView`]: one service's view of the current token, the hot path.

use std::ops::Deref;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::{Cached, Shared, Token};

/// One service's view of the current token. It keeps the token it saw last, so that while the
/// token stays the same a look costs one plain atomic load (the shared slot's address) instead
/// of a guarded load with its two read-modify-writes. Clones of a service each keep their own.
#[derive(Clone)]
pub(crate) struct TokenView {
    seen: arc_swap::Cache<Current, Option<Arc<Cached>>>,
}

/// The slot a [`TokenView`] watches.
#[derive(Clone)]
struct Current(Arc<Shared>);

impl Deref for Current {
    type Target = ArcSwapOption<Cached>;

    fn deref(&self) -> &Self::Target {
        &self.0.current
    }
}

impl TokenView {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            seen: arc_swap::Cache::new(Current(shared)),
        }
    }

    /// The hot path: the cached token, if it is fresh (before its refresh time) and a Bearer
    /// one. A token bound to a key (DPoP) takes [`TokenCache::lookup`](super::TokenCache::lookup),
    /// which finds it all the same: so the Bearer path's token is known to have no binding,
    /// and pays nothing for it.
    #[inline]
    pub(crate) fn fresh(&mut self) -> Option<Token> {
        let cached = self.seen.load().as_deref()?;
        let usable = cached.freshness.is_fresh() && cached.token.binding.is_none();
        usable.then(|| Token {
            header: cached.token.header.clone(),
            generation: cached.token.generation,
            binding: None,
        })
    }
}
