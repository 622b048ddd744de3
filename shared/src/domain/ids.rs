//! Opaque, unguessable ids: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters),
//! so ids sort by creation time (stable paging in creation order) and cannot be guessed.

use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub fn new_id() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let rand = u128::from_be_bytes({
        let mut b = [0u8; 16];
        b[6..].copy_from_slice(&crate::util::random_bytes::<10>());
        b
    });
    let v = (ms << 80) | rand;
    (0..26)
        .rev()
        .map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Whether a string has the shape of an id (checked before using one from a path in a key).
pub fn looks_like_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|b| ALPHABET.contains(&b))
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                $name(new_id())
            }
            /// Parses an id from outside (a path, a body); `None` when it cannot be one of ours.
            pub fn parse(s: &str) -> Option<Self> {
                looks_like_id(s).then(|| $name(s.to_owned()))
            }
            /// Trusts an id read back from the store.
            pub fn from_stored(s: impl Into<String>) -> Self {
                $name(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(TenantId);
id_type!(UserId);
id_type!(GroupId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_26_chars_unique_and_time_ordered() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id();
        assert!(looks_like_id(&a) && looks_like_id(&b));
        assert!(a < b);
        assert_ne!(new_id(), new_id());
    }
}
