//! The fingerprint a credential's tokens are stored under, and the seal that makes an entry
//! unreadable and unforgeable without the credential (or the app's seal key): SHA-256,
//! HKDF-SHA384 and AES-256-GCM, all from a rustls `CryptoProvider`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::cipher::NONCE_LEN;
use rustls::crypto::tls13::OkmBlock;
use rustls::crypto::CryptoProvider;
use rustls::Tls13CipherSuite;

use super::TokenStore;
use crate::crypto::{aes_256_gcm_suite, fill_random, open, seal, sha256};
use crate::{AccessToken, CacheKey, Error};

/// Starts every entry: the format's version, so a future one is refused, not misread.
const VERSION: &[u8; 4] = b"sat2";
/// The version, the expiry and the lifetime: in clear, and bound to the seal.
const HEADER_LEN: usize = VERSION.len() + 8 + 8;
/// The random salt that makes each entry's key its own.
const SALT_LEN: usize = 16;
/// Every key this crate writes starts with this, so an operator can find (and flush) them.
pub(crate) const KEY_PREFIX: &str = "symbl-auth:v1:";
/// The shortest seal key an app may give: 32 bytes, AES-256's key size.
pub(crate) const MIN_SEAL_KEY: usize = 32;

/// The provider the seal uses: the store's own if it has one, else the TLS feature's
/// (`rustls`: aws-lc-rs, `rustls-ring`: ring), else the process default. Never installs one.
pub(crate) fn provider(store: &dyn TokenStore) -> Result<Arc<CryptoProvider>, Error> {
    if let Some(provider) = store.crypto_provider() {
        return Ok(provider);
    }
    #[cfg(any(tls_provider = "aws-lc-rs", tls_provider = "ring"))]
    return crate::tls::provider();
    #[cfg(not(any(tls_provider = "aws-lc-rs", tls_provider = "ring")))]
    CryptoProvider::get_default().cloned().ok_or_else(|| {
        Error::config(
            "shared_store seals tokens with a rustls CryptoProvider and none is at hand: give \
             the store one (RedisStore::crypto_provider), install one for the process before \
             build() (rustls CryptoProvider::install_default), or use the rustls or \
             rustls-ring feature",
        )
    })
}

/// One credential's place in the store, and the key its tokens are sealed with.
pub(crate) struct Sealer {
    /// `symbl-auth:v1:<hex SHA-256 fingerprint>`.
    token_key: String,
    /// The same, with `:lease`: who is fetching.
    lease_key: String,
    /// The same, with `:cooldown`: the fleet leaves the token endpoint alone until it expires.
    cooldown_key: String,
    provider: Arc<CryptoProvider>,
    suite: &'static Tls13CipherSuite,
    /// HKDF of the credential's secret (and the app's seal key) with the fingerprint: what
    /// each entry's own key is derived from.
    base: OkmBlock,
}

/// A token opened from an entry.
pub(crate) struct Opened {
    /// The token, with the lifetime it was granted with.
    pub(crate) token: AccessToken,
    /// When it expires, in milliseconds since the Unix epoch.
    pub(crate) expires_at_ms: u64,
}

impl Sealer {
    /// The sealer of `key`'s tokens in `store`. [`Error::InvalidConfig`] if there is no
    /// provider (see [`provider`]), or nothing secret to seal under: `key` has an empty secret
    /// and `store` no seal key (a seal derived from public data would let anyone who can write
    /// the store plant a token).
    pub(crate) fn new(store: &dyn TokenStore, key: &CacheKey) -> Result<Self, Error> {
        let provider = provider(store)?;
        let suite = aes_256_gcm_suite(&provider)?;
        let app_key = store.seal_key().unwrap_or_default();
        if key.secret().is_empty() && app_key.is_empty() {
            return Err(Error::config(
                "shared_store: this token source has no secret to seal its stored tokens under \
                 (private_key_jwt keys and client secrets are; an assertion made outside, \
                 tls_client_auth or an empty secret are not): give the store a seal key \
                 (RedisStore::seal_key)",
            ));
        }
        // One-way: the secret enters only hashed, under a label of its own.
        let mut input = b"symbl-auth token store v1\0".to_vec();
        input.extend_from_slice(key.parts());
        input.extend_from_slice(b"\0secret\0");
        input.extend_from_slice(&sha256(&provider, key.secret())?);
        let fingerprint = sha256(&provider, &input)?;
        let token_key = format!("{KEY_PREFIX}{}", hex(&fingerprint));
        let lease_key = format!("{token_key}:lease");
        let cooldown_key = format!("{token_key}:cooldown");
        // The app's key, length-prefixed, then the credential's secret.
        let mut secret = (app_key.len() as u64).to_be_bytes().to_vec();
        secret.extend_from_slice(app_key);
        secret.extend_from_slice(key.secret());
        let base = suite
            .hkdf_provider
            .extract_from_secret(Some(b"symbl-auth token store v2 seal"), &secret)
            .expand_block(&[b"base", &fingerprint]);
        secret.fill(0);
        Ok(Self {
            token_key,
            lease_key,
            cooldown_key,
            provider,
            suite,
            base,
        })
    }

    pub(crate) fn token_key(&self) -> &str {
        &self.token_key
    }

    pub(crate) fn lease_key(&self) -> &str {
        &self.lease_key
    }

    /// The key of one entry: HKDF of the base key with the entry's random salt, and the
    /// version, the store key it is under and the header as the info, so an entry moved to
    /// another key, or given another expiry or lifetime, does not open.
    fn entry_key(&self, under: &str, salt: &[u8], header: &[u8]) -> Option<[u8; 32]> {
        let mut key = [0u8; 32];
        self.suite
            .hkdf_provider
            .extract_from_secret(Some(salt), self.base.as_ref())
            .expand_slice(&[VERSION, under.as_bytes(), header], &mut key)
            .ok()?;
        Some(key)
    }

    /// The entry for `plain` under the store key `under`: the header (`expires_at_ms` and
    /// `lifetime`) in clear, a random salt and IV, and `plain` sealed under the entry's key.
    /// `None` if the provider has no randomness to give.
    fn seal_under(
        &self,
        under: &str,
        plain: &[u8],
        lifetime: Duration,
        expires_at_ms: u64,
    ) -> Option<Vec<u8>> {
        let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        let mut entry = Vec::with_capacity(HEADER_LEN + SALT_LEN + NONCE_LEN + 64);
        entry.extend_from_slice(VERSION);
        entry.extend_from_slice(&expires_at_ms.to_be_bytes());
        entry.extend_from_slice(&lifetime_ms.to_be_bytes());
        let mut salt = [0u8; SALT_LEN];
        let mut iv = [0u8; NONCE_LEN];
        fill_random(&self.provider, &mut salt).ok()?;
        fill_random(&self.provider, &mut iv).ok()?;
        let key = self.entry_key(under, &salt, &entry[..HEADER_LEN])?;
        let sealed = seal(self.suite, key, iv, plain)?;
        entry.extend_from_slice(&salt);
        entry.extend_from_slice(&iv);
        entry.extend_from_slice(&sealed);
        Some(entry)
    }

    /// What [`seal_under`](Self::seal_under) sealed under `under`: the text, the lifetime and
    /// the expiry; `None` for anything else (tampered, foreign, garbage, plain text).
    fn open_under(&self, under: &str, entry: &[u8]) -> Option<(String, Duration, u64)> {
        if entry.len() < HEADER_LEN + SALT_LEN + NONCE_LEN || !entry.starts_with(VERSION) {
            return None;
        }
        let (header, rest) = entry.split_at(HEADER_LEN);
        let (salt, rest) = rest.split_at(SALT_LEN);
        let (iv, sealed) = rest.split_at(NONCE_LEN);
        let key = self.entry_key(under, salt, header)?;
        let plain = open(self.suite, key, iv.try_into().ok()?, sealed)?;
        let text = String::from_utf8(plain).ok()?;
        let number = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(header.get(at..at + 8)?.try_into().ok()?))
        };
        let expires_at_ms = number(VERSION.len())?;
        let lifetime = Duration::from_millis(number(VERSION.len() + 8)?);
        Some((text, lifetime, expires_at_ms))
    }

    /// The entry for `token`, granted for `lifetime` and expiring at `expires_at_ms`.
    pub(crate) fn seal(
        &self,
        token: &AccessToken,
        lifetime: Duration,
        expires_at_ms: u64,
    ) -> Option<Vec<u8>> {
        let plain = token.secret().as_bytes();
        self.seal_under(&self.token_key, plain, lifetime, expires_at_ms)
    }

    /// The token in `entry`, if it was sealed by this credential for this key and is a usable
    /// token; `None` for anything else (tampered, foreign, garbage, a plain token).
    pub(crate) fn open(&self, entry: &[u8]) -> Option<Opened> {
        let (token, lifetime, expires_at_ms) = self.open_under(&self.token_key, entry)?;
        let token = AccessToken::new(&token, lifetime).ok()?;
        Some(Opened {
            token,
            expires_at_ms,
        })
    }

    /// Where a failed fetch's cool-down is kept for the fleet.
    pub(crate) fn cooldown_key(&self) -> &str {
        &self.cooldown_key
    }

    /// The entry saying the token endpoint failed with `error` (its text, which holds no
    /// secret) and is left alone for `pause`, until `until_ms`.
    pub(crate) fn seal_cooldown(
        &self,
        error: &str,
        pause: Duration,
        until_ms: u64,
    ) -> Option<Vec<u8>> {
        let text = error.get(..error.len().min(512)).unwrap_or_default();
        self.seal_under(&self.cooldown_key, text.as_bytes(), pause, until_ms)
    }

    /// The failure's text and the end of its cool-down (Unix ms), if `entry` opens.
    pub(crate) fn open_cooldown(&self, entry: &[u8]) -> Option<(String, u64)> {
        let (text, _, until_ms) = self.open_under(&self.cooldown_key, entry)?;
        Some((text, until_ms))
    }

    /// A random id for a lease holder: 16 bytes, in hex. `None` without randomness.
    pub(crate) fn lease_id(&self) -> Option<Vec<u8>> {
        let mut id = [0u8; 16];
        fill_random(&self.provider, &mut id).ok()?;
        Some(hex(&id).into_bytes())
    }

    /// A random number below `bound` (0 if there is none, or no randomness).
    pub(crate) fn random_below(&self, bound: u64) -> u64 {
        let mut bytes = [0u8; 8];
        if bound == 0 || fill_random(&self.provider, &mut bytes).is_err() {
            return 0;
        }
        u64::from_be_bytes(bytes) % bound
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("token_key", &self.token_key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreFuture;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A store that holds nothing, for its provider (ring, from the dev-dependencies) and its
    /// seal key.
    #[derive(Debug, Default)]
    struct Keys(Option<Vec<u8>>);

    impl TokenStore for Keys {
        fn get<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
            Box::pin(async { Ok(None) })
        }
        fn put<'a>(&'a self, _: &'a str, _: &'a [u8], _: Duration) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn put_new<'a>(&'a self, _: &'a str, _: &'a [u8], _: Duration) -> StoreFuture<'a, bool> {
            Box::pin(async { Ok(true) })
        }
        fn remove_if<'a>(&'a self, _: &'a str, _: &'a [u8]) -> StoreFuture<'a, bool> {
            Box::pin(async { Ok(true) })
        }
        fn crypto_provider(&self) -> Option<Arc<CryptoProvider>> {
            Some(Arc::new(rustls::crypto::ring::default_provider()))
        }
        fn seal_key(&self) -> Option<&[u8]> {
            self.0.as_deref()
        }
    }

    fn sealer(secret: &str) -> Sealer {
        Sealer::new(
            &Keys::default(),
            &CacheKey::new(secret).part("client_id", "c"),
        )
        .expect("ok")
    }

    fn token() -> AccessToken {
        AccessToken::new("the-token", HOUR).expect("valid")
    }

    #[test]
    fn a_sealed_token_opens_only_under_its_own_credential() {
        let mine = sealer("secret-1");
        let entry = mine.seal(&token(), HOUR, 42).expect("sealed");
        let opened = mine.open(&entry).expect("opens");
        assert_eq!(opened.token.secret(), "the-token");
        assert_eq!(opened.token.expires_in(), HOUR);
        assert_eq!(opened.expires_at_ms, 42);
        assert!(sealer("secret-2").open(&entry).is_none(), "foreign");
        // Another expiry, another lifetime, another salt, a flipped bit, a plain token,
        // garbage: refused.
        for at in [
            VERSION.len() + 7,
            HEADER_LEN - 1,
            HEADER_LEN,
            entry.len() - 1,
        ] {
            let mut changed = entry.clone();
            changed[at] ^= 1;
            assert!(mine.open(&changed).is_none(), "byte {at} changed");
        }
        assert!(mine.open(b"the-token").is_none());
        assert!(mine.open(&[0; 64]).is_none());
        assert!(mine.open(b"").is_none());
        // Each entry has a key of its own: the same token sealed twice differs.
        assert_ne!(entry, mine.seal(&token(), HOUR, 42).expect("sealed"));
        // A cool-down opens as one, and never as a token (nor a token as a cool-down).
        let cooldown = mine.seal_cooldown("503", HOUR, 42).expect("sealed");
        assert_eq!(mine.open_cooldown(&cooldown), Some(("503".to_owned(), 42)));
        assert!(mine.open(&cooldown).is_none());
        assert!(mine.open_cooldown(&entry).is_none());
        assert!(
            sealer("secret-2").open_cooldown(&cooldown).is_none(),
            "foreign"
        );
    }

    #[test]
    fn keys_are_fingerprints_that_never_show_the_secret() {
        let a = sealer("secret-1");
        assert!(a.token_key().starts_with(KEY_PREFIX));
        assert_eq!(a.token_key().len(), KEY_PREFIX.len() + 64);
        assert_ne!(a.token_key(), sealer("secret-2").token_key());
        assert_eq!(a.token_key(), sealer("secret-1").token_key());
        assert!(!a.token_key().contains("secret"));
        let entry = a.seal(&token(), HOUR, 1).expect("sealed");
        assert!(!entry.windows(9).any(|w| w == b"the-token"));
    }

    #[test]
    fn without_a_secret_only_the_apps_seal_key_seals() {
        let key = CacheKey::new("").part("client_id", "c");
        let error = Sealer::new(&Keys::default(), &key).expect_err("nothing to seal under");
        assert!(error.to_string().contains("seal_key"), "{error}");
        let store = Keys(Some(vec![1; 32]));
        let sealer = Sealer::new(&store, &key).expect("sealed under the app's key");
        let entry = sealer.seal(&token(), HOUR, 7).expect("sealed");
        assert!(sealer.open(&entry).is_some());
        // Another app key, same credential: the same place, but the entry does not open.
        let other = Sealer::new(&Keys(Some(vec![2; 32])), &key).expect("sealer");
        assert_eq!(other.token_key(), sealer.token_key());
        assert!(other.open(&entry).is_none());
        // With a secret too, the app's key still counts.
        let with_secret = CacheKey::new("s").part("client_id", "c");
        let entry = Sealer::new(&store, &with_secret)
            .expect("sealer")
            .seal(&token(), HOUR, 7)
            .expect("sealed");
        let without_app_key = Sealer::new(&Keys::default(), &with_secret).expect("sealer");
        assert!(without_app_key.open(&entry).is_none());
    }
}
