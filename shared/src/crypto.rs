//! Field encryption under per-tenant data keys (AES-256-GCM), the keyed blind index used to look up
//! encrypted values, password hashing (argon2id) and opaque tokens. Parameters live here and only here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// The cipher and blind-index key derived from one tenant data key. Never printed.
pub struct TenantKey {
    cipher: Aes256Gcm,
    index_key: SecretBox<[u8; 32]>,
}

impl TenantKey {
    pub fn new(data_key: &SecretBox<[u8; 32]>) -> Self {
        let k = data_key.expose_secret();
        // Two independent sub-keys from the data key (HMAC-SHA256 as a KDF with distinct labels), so the
        // blind index dies with the data key when the tenant is purged.
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap_or_else(|_| unreachable_hmac());
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let enc = derive(b"kanri/v1/field-encryption");
        TenantKey {
            cipher: Aes256Gcm::new((&enc).into()),
            index_key: SecretBox::new(Box::new(derive(b"kanri/v1/blind-index"))),
        }
    }

    /// Encrypts a field; `context` (tenant, item, field) is bound as associated data so a ciphertext cannot
    /// be moved to another item or field. Output: 12-byte nonce then ciphertext and tag.
    pub fn seal(&self, context: &str, plain: &str) -> Vec<u8> {
        self.seal_bytes(context, plain.as_bytes())
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open_bytes(context, sealed)?).map_err(|_| CryptoError::Undecryptable)
    }

    /// [`seal`](Self::seal) for bytes (uploaded files on the local store).
    pub fn seal_bytes(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = crate::util::random_bytes::<12>();
        let mut out = Vec::with_capacity(12 + plain.len() + 16);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and in-memory buffers cannot fail.
        if let Ok(ct) = self.cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: context.as_bytes(),
            },
        ) {
            out.extend_from_slice(&ct);
        }
        out
    }

    pub fn open_bytes(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (nonce, ct) = sealed
            .split_at_checked(12)
            .ok_or(CryptoError::Undecryptable)?;
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Undecryptable)
    }

    /// A keyed HMAC of a comparison form: equal inputs give equal indexes, nothing is learnt without the key.
    pub fn blind_index(&self, kind: &str, comparison: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.expose_secret())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(comparison.as_bytes());
        crate::util::hex(&mac.finalize().into_bytes()[..16])
    }
}

/// HMAC-SHA256 over parts, each followed by a zero byte (so parts cannot run into each other).
pub fn hmac_parts(key: &[u8], parts: &[&str]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

fn unreachable_hmac() -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this branch cannot be taken.
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap_or_else(|_| unreachable_hmac())
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a stored value does not decrypt under its tenant key")]
    Undecryptable,
}

/// Per-tenant keys unwrapped once and kept in memory, so the key service is not called per request.
#[derive(Default, Clone)]
pub struct Keyring {
    cache: Arc<Mutex<HashMap<String, Arc<TenantKey>>>>,
}

impl Keyring {
    pub fn get(&self, id: &str) -> Option<Arc<TenantKey>> {
        self.cache.lock().ok().and_then(|c| c.get(id).cloned())
    }
    pub fn insert(&self, id: &str, key: Arc<TenantKey>) {
        if let Ok(mut c) = self.cache.lock() {
            c.insert(id.to_owned(), key);
        }
    }
    pub fn forget(&self, id: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(id);
        }
    }
}

// ---- passwords -------------------------------------------------------------------------------------------

/// argon2id as OWASP recommends: m = 19 MiB, t = 2, p = 1. The PHC string stores them, so raising them
/// later rehashes old hashes at the next login.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// How many argon2 computations (19 MiB each) may run at once in this process: one per core. The rest
/// wait their turn, so a flood of logins or generated passwords costs queueing time, not memory (each
/// running hash holds its 19 MiB block; unbounded, 32 at once took the local server past 2 GiB).
pub fn password_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Hashes on a blocking thread (about 20 ms of one core) once a [`password_slots`] slot is free, keeping
/// the current span.
pub async fn hash_password(password: SecretString) -> Result<String, CryptoError> {
    let span = tracing::Span::current();
    let _slot = password_slots()
        .acquire()
        .await
        .map_err(|_| CryptoError::Undecryptable)?;
    tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        hash_password_blocking(&password)
    })
    .await
    .map_err(|_| CryptoError::Undecryptable)?
}

pub fn hash_password_blocking(password: &SecretString) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&crate::util::random_bytes::<16>())
        .map_err(|_| CryptoError::Undecryptable)?;
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Undecryptable)
}

pub struct Verified {
    pub ok: bool,
    /// The stored hash used older parameters: store a fresh one.
    pub needs_rehash: bool,
}

/// Verifies against the stored hash, or against a dummy hash when there is none, so an unknown user costs
/// the same time as a wrong password.
pub async fn verify_password(stored: Option<String>, password: SecretString) -> Verified {
    let span = tracing::Span::current();
    let Ok(_slot) = password_slots().acquire().await else {
        return Verified {
            ok: false,
            needs_rehash: false,
        };
    };
    tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Verified {
                ok: false,
                needs_rehash: false,
            };
        };
        let ok = argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
            && real;
        let needs_rehash = ok && !hash_uses_current_params(&parsed);
        Verified { ok, needs_rehash }
    })
    .await
    .unwrap_or(Verified {
        ok: false,
        needs_rehash: false,
    })
}

fn hash_uses_current_params(h: &PasswordHash<'_>) -> bool {
    let get = |k: &str| h.params.get_decimal(k);
    h.algorithm.as_str() == "argon2id"
        && get("m") == Some(ARGON2_M_KIB)
        && get("t") == Some(ARGON2_T)
        && get("p") == Some(ARGON2_P)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SecretString::from(URL_SAFE_NO_PAD.encode(crate::util::random_bytes::<24>()));
        hash_password_blocking(&random).unwrap_or_default()
    })
}

/// A generated first password: 16 characters from an alphabet without look-alikes (no 0 O 1 l I),
/// about 93 bits of entropy.
pub fn generate_password() -> SecretString {
    generate_password_of(GENERATED_CHARS)
}

/// The length of a generated password unless a tenant's policy asks for more.
pub const GENERATED_CHARS: usize = 16;

/// A generated password of `len` characters (a tenant whose sign-in policy asks for more than
/// [`GENERATED_CHARS`]), from the same alphabet.
pub fn generate_password_of(len: usize) -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in crate::util::random_bytes::<32>() {
            // Rejection sampling keeps every character equally likely.
            if (b as usize) < ALPHABET.len() * (256 / ALPHABET.len()) && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    SecretString::from(out)
}

// ---- tokens ----------------------------------------------------------------------------------------------

/// A new opaque token (256 random bits, URL-safe) and the hash under which it is stored.
pub fn new_token() -> (SecretString, String) {
    let token = URL_SAFE_NO_PAD.encode(crate::util::random_bytes::<32>());
    let hash = token_hash(&token);
    (SecretString::from(token), hash)
}

pub fn token_hash(token: &str) -> String {
    crate::util::hex(&Sha256::digest(token.as_bytes()))
}

/// Constant-time equality for secrets of equal length.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TenantKey {
        TenantKey::new(&SecretBox::new(Box::new([7u8; 32])))
    }

    #[test]
    fn sealed_fields_open_only_in_their_context() {
        let k = key();
        let sealed = k.seal("t/u/name", "山田 太郎");
        assert!(!sealed.windows(3).any(|w| w == "山".as_bytes()));
        assert_eq!(k.open("t/u/name", &sealed).unwrap(), "山田 太郎");
        assert!(k.open("t/other/name", &sealed).is_err());
    }

    #[test]
    fn blind_index_is_stable_and_keyed() {
        let other = TenantKey::new(&SecretBox::new(Box::new([8u8; 32])));
        assert_eq!(
            key().blind_index("email", "a@b.jp"),
            key().blind_index("email", "a@b.jp")
        );
        assert_ne!(
            key().blind_index("email", "a@b.jp"),
            other.blind_index("email", "a@b.jp")
        );
        assert_ne!(
            key().blind_index("email", "a@b.jp"),
            key().blind_index("login", "a@b.jp")
        );
    }

    #[test]
    fn generated_passwords_are_16_unambiguous_characters() {
        let p = generate_password();
        assert_eq!(p.expose_secret().len(), 16);
        assert!(!p.expose_secret().contains(['0', 'O', '1', 'l', 'I']));
    }

    #[tokio::test]
    async fn a_password_verifies_and_a_wrong_one_or_missing_user_does_not() {
        let h = hash_password(SecretString::from("correct horse"))
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password(Some(h.clone()), SecretString::from("correct horse"))
                .await
                .ok
        );
        assert!(
            !verify_password(Some(h), SecretString::from("wrong horse"))
                .await
                .ok
        );
        assert!(
            !verify_password(None, SecretString::from("anything"))
                .await
                .ok
        );
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_asks_for_a_rehash() {
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let old = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(&[1u8; 16]).unwrap();
        let h = old
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let v = verify_password(Some(h), SecretString::from("correct horse")).await;
        assert!(v.ok && v.needs_rehash);
    }
}
