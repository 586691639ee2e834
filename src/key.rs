//! [`CredentialKey`]: which credential a request is sent with, on a keyed layer.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
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
#[derive(Clone)]
pub struct CredentialKey {
    key: Arc<str>,
    /// The key's hash, taken once here so a keyed layer's lookup (once per request) hashes
    /// nothing: a fixed-key SipHash, which the keyed map mixes with a seed of its own.
    hash: u64,
}

impl CredentialKey {
    /// A key from any string (`&str`, `String`, `Arc<str>`).
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        let key = key.into();
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(&*key);
        Self { key, hash }
    }

    /// The key, as given.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The hash taken at [`new`](Self::new).
    pub(crate) fn prehash(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for CredentialKey {
    fn eq(&self, other: &Self) -> bool {
        // The usual match is a clone of the map's own key: the same allocation.
        Arc::ptr_eq(&self.key, &other.key) || (self.hash == other.hash && self.key == other.key)
    }
}

impl Eq for CredentialKey {}

impl PartialOrd for CredentialKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By the string, as before the hash was kept.
impl Ord for CredentialKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Equal keys have equal strings, so equal hashes: consistent with `Eq`.
impl Hash for CredentialKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CredentialKey").field(&&*self.key).finish()
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_make_equal_keys_with_equal_hashes_from_any_allocation() {
        let a = CredentialKey::new("tenant-42");
        let b = CredentialKey::new(String::from("tenant-42"));
        assert!(!Arc::ptr_eq(&a.key, &b.key));
        assert_eq!(a, b);
        assert_eq!(a.prehash(), b.prehash());
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let c = CredentialKey::new("tenant-43");
        assert_ne!(a, c);
        assert_eq!(a.cmp(&c), "tenant-42".cmp("tenant-43"));
    }
}
