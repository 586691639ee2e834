//! [`CredentialKey`]: which credential a request is sent with, on a keyed layer.

use std::fmt;
use std::sync::Arc;

/// Names the credential a request is sent with, on a layer made with
/// [`SymblAuthLayer::keyed`](crate::SymblAuthLayer::keyed): put it in the request's extensions.
///
/// An identifier (a tenant, an account), not a secret: `Debug` and the crate's `tracing`
/// events show it. It is everything the layer keys its tokens on, so two requests with equal
/// keys share one token: make the key name everything that decides the token (the
/// credential, and the scope or audience if your source varies them).
///
/// Cheap to clone (a reference count). A key on a request to a layer that is not keyed is
/// ignored: that layer has one credential.
///
/// ```
/// use symbl_auth::CredentialKey;
///
/// let mut request = http::Request::get("https://api.symbl.ai/v1/conversations").body(())?;
/// request.extensions_mut().insert(CredentialKey::new("tenant-42"));
/// assert_eq!(request.extensions().get::<CredentialKey>().unwrap().as_str(), "tenant-42");
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialKey(Arc<str>);

impl CredentialKey {
    /// A key from any string (`&str`, `String`, `Arc<str>`).
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The key, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CredentialKey").field(&&*self.0).finish()
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CredentialKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for CredentialKey {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}
