//! The fingerprint a credential's tokens are stored under, and the seal that makes an entry
//! unreadable and unforgeable without the credential (ring: SHA-256, HKDF-SHA256, AES-256-GCM).

use std::fmt;
use std::time::Duration;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest::{digest, Context, SHA256};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{AccessToken, CacheKey};

/// Starts every entry: the format's version, so a future one is refused, not misread.
const VERSION: &[u8; 4] = b"sat1";
/// The version, the expiry and the lifetime: in clear, and bound to the seal.
const HEADER_LEN: usize = VERSION.len() + 8 + 8;
/// Every key this crate writes starts with this, so an operator can find (and flush) them.
pub(crate) const KEY_PREFIX: &str = "symbl-auth:v1:";

/// One credential's place in the store, and the key its tokens are sealed with.
pub(crate) struct Sealer {
    /// `symbl-auth:v1:<hex SHA-256 fingerprint>`.
    token_key: String,
    /// The same, with `:lease`: who is fetching.
    lease_key: String,
    aead: LessSafeKey,
}

/// A token opened from an entry.
pub(crate) struct Opened {
    /// The token, with the lifetime it was granted with.
    pub(crate) token: AccessToken,
    /// When it expires, in milliseconds since the Unix epoch.
    pub(crate) expires_at_ms: u64,
}

impl Sealer {
    pub(crate) fn new(key: &CacheKey) -> Self {
        // One-way: the secret enters only hashed, under a label of its own.
        let mut fingerprint = Context::new(&SHA256);
        fingerprint.update(b"symbl-auth token store v1\0");
        fingerprint.update(key.parts());
        fingerprint.update(b"\0secret\0");
        fingerprint.update(digest(&SHA256, key.secret()).as_ref());
        let fingerprint = fingerprint.finish();
        let token_key = format!("{KEY_PREFIX}{}", hex(fingerprint.as_ref()));
        let lease_key = format!("{token_key}:lease");
        let prk = Salt::new(HKDF_SHA256, b"symbl-auth token store v1 seal").extract(key.secret());
        let info = [fingerprint.as_ref()];
        #[allow(clippy::expect_used)] // 32 bytes of HKDF-SHA256 output is always allowed.
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("HKDF gives 32 bytes");
        let aead = LessSafeKey::new(UnboundKey::from(okm));
        Self {
            token_key,
            lease_key,
            aead,
        }
    }

    pub(crate) fn token_key(&self) -> &str {
        &self.token_key
    }

    pub(crate) fn lease_key(&self) -> &str {
        &self.lease_key
    }

    /// The entry for `token`, granted for `lifetime` and expiring at `expires_at_ms`: the
    /// header in clear, a random nonce, and the token sealed with the store key and the header
    /// as associated data (so an entry moved to another key, or given another expiry, does
    /// not open). `None` if the system has no randomness to give.
    pub(crate) fn seal(
        &self,
        token: &AccessToken,
        lifetime: Duration,
        expires_at_ms: u64,
    ) -> Option<Vec<u8>> {
        let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        let mut entry = Vec::with_capacity(HEADER_LEN + NONCE_LEN + token.secret().len() + 16);
        entry.extend_from_slice(VERSION);
        entry.extend_from_slice(&expires_at_ms.to_be_bytes());
        entry.extend_from_slice(&lifetime_ms.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        entry.extend_from_slice(&nonce);
        let mut sealed = token.secret().as_bytes().to_vec();
        let aad = self.associated(&entry[..HEADER_LEN]);
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .ok()?;
        entry.extend_from_slice(&sealed);
        Some(entry)
    }

    /// The token in `entry`, if it was sealed by this credential for this key and is a usable
    /// token; `None` for anything else (tampered, foreign, garbage, a plain token).
    pub(crate) fn open(&self, entry: &[u8]) -> Option<Opened> {
        if entry.len() < HEADER_LEN + NONCE_LEN || !entry.starts_with(VERSION) {
            return None;
        }
        let (header, rest) = entry.split_at(HEADER_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let aad = self.associated(header);
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(aad), &mut sealed)
            .ok()?;
        let token = std::str::from_utf8(plain).ok()?;
        let number = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(header.get(at..at + 8)?.try_into().ok()?))
        };
        let expires_at_ms = number(VERSION.len())?;
        let lifetime = Duration::from_millis(number(VERSION.len() + 8)?);
        let token = AccessToken::new(token, lifetime).ok()?;
        Some(Opened {
            token,
            expires_at_ms,
        })
    }

    fn associated(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.token_key.len() + header.len());
        aad.extend_from_slice(self.token_key.as_bytes());
        aad.extend_from_slice(header);
        aad
    }
}

/// A random id for a lease holder: 16 bytes, in hex. `None` without randomness.
pub(crate) fn lease_id() -> Option<Vec<u8>> {
    let mut id = [0u8; 16];
    SystemRandom::new().fill(&mut id).ok()?;
    Some(hex(&id).into_bytes())
}

/// A random number below `bound` (0 if there is none, or no randomness).
pub(crate) fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    if bound == 0 || SystemRandom::new().fill(&mut bytes).is_err() {
        return 0;
    }
    u64::from_be_bytes(bytes) % bound
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

    const HOUR: Duration = Duration::from_secs(3600);

    fn sealer(secret: &str) -> Sealer {
        Sealer::new(&CacheKey::new(secret).part("client_id", "c"))
    }

    #[test]
    fn a_sealed_token_opens_only_under_its_own_credential() {
        let token = AccessToken::new("the-token", HOUR).expect("valid");
        let mine = sealer("secret-1");
        let entry = mine.seal(&token, HOUR, 42).expect("sealed");
        let opened = mine.open(&entry).expect("opens");
        assert_eq!(opened.token.secret(), "the-token");
        assert_eq!(opened.token.expires_in(), HOUR);
        assert_eq!(opened.expires_at_ms, 42);
        assert!(sealer("secret-2").open(&entry).is_none(), "foreign");
        // Another expiry, a flipped bit, a plain token, garbage: refused.
        let mut moved = entry.clone();
        moved[VERSION.len() + 7] ^= 1;
        assert!(mine.open(&moved).is_none());
        let mut flipped = entry.clone();
        *flipped.last_mut().expect("tag") ^= 1;
        assert!(mine.open(&flipped).is_none());
        assert!(mine.open(b"the-token").is_none());
        assert!(mine.open(&[0; 64]).is_none());
        assert!(mine.open(b"").is_none());
    }

    #[test]
    fn keys_are_fingerprints_that_never_show_the_secret() {
        let a = sealer("secret-1");
        assert!(a.token_key().starts_with(KEY_PREFIX));
        assert_eq!(a.token_key().len(), KEY_PREFIX.len() + 64);
        assert_ne!(a.token_key(), sealer("secret-2").token_key());
        assert_eq!(a.token_key(), sealer("secret-1").token_key());
        assert!(!a.token_key().contains("secret"));
        let entry = a
            .seal(&AccessToken::new("tok-abc", HOUR).expect("valid"), HOUR, 1)
            .expect("sealed");
        assert!(!entry.windows(7).any(|w| w == b"tok-abc"));
    }
}
