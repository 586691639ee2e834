//! What a layer and everything made from it share: every clone of a [`SymblAuthLayer`], every
//! [`SymblAuth`] service, `SymblAuthMiddleware` and WebSocket connect.
//!
//! [`SymblAuthLayer`]: crate::SymblAuthLayer
//! [`SymblAuth`]: crate::SymblAuth

use crate::cache::TokenCache;
use crate::scope::Scope;

pub(crate) struct Shared {
    pub(crate) cache: TokenCache,
    pub(crate) scope: Scope,
    /// The largest request body kept for a retry after a 401.
    pub(crate) replay_limit: usize,
    /// The limit on each streaming handshake.
    #[cfg(feature = "websocket")]
    pub(crate) handshake_timeout: std::time::Duration,
}
