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

/// A value taken from a request path (`/v1/users/{id}`): `None` when the text cannot be one, which the
/// path extractor answers with a 404 naming [`Self::RESOURCE`], as for an id that names nothing.
pub trait PathParam: Sized {
    const RESOURCE: &'static str;
    fn from_path(s: &str) -> Option<Self>;
}

/// A path segment taken as it is (a route whose value is not an id).
impl PathParam for String {
    const RESOURCE: &'static str = "resource";
    fn from_path(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $resource:literal) => {
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

        impl PathParam for $name {
            const RESOURCE: &'static str = $resource;
            fn from_path(s: &str) -> Option<Self> {
                Self::parse(s)
            }
        }
    };
}

id_type!(TenantId, "tenant");
id_type!(UserId, "user");
id_type!(GroupId, "group");
id_type!(UploadId, "upload");
id_type!(ImportId, "import");
id_type!(QuestionnaireId, "questionnaire");
id_type!(ScimTokenId, "scim token");

/// A role: one of the built-in roles by name (`member`, `admin`, …), or a tenant's custom role by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RoleId(String);

impl RoleId {
    pub fn generate() -> Self {
        RoleId(new_id())
    }
    /// A built-in role's name or a custom role's id; `None` when the text can be neither.
    pub fn parse(s: &str) -> Option<Self> {
        (crate::domain::permissions::builtin(s).is_some() || looks_like_id(s))
            .then(|| RoleId(s.to_owned()))
    }
    pub fn from_stored(s: impl Into<String>) -> Self {
        RoleId(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The built-in role this id names, if it is one.
    pub fn builtin(&self) -> Option<&'static crate::domain::permissions::BuiltinRole> {
        crate::domain::permissions::builtin(&self.0)
    }
}

impl std::fmt::Display for RoleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PathParam for RoleId {
    const RESOURCE: &'static str = "role";
    fn from_path(s: &str) -> Option<Self> {
        Self::parse(s)
    }
}

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

    #[test]
    fn path_ids_refuse_what_cannot_be_ours() {
        let id = new_id();
        assert_eq!(
            UserId::from_path(&id).map(|u| u.to_string()),
            Some(id.clone())
        );
        for bad in [
            "",
            "USER#x",
            "../etc",
            &id.to_uppercase(),
            &format!("{id}x"),
        ] {
            assert!(UserId::from_path(bad).is_none(), "{bad}");
            assert!(UploadId::from_path(bad).is_none(), "{bad}");
        }
        assert!(RoleId::parse("member").is_some_and(|r| r.builtin().is_some()));
        assert!(RoleId::parse(&id).is_some_and(|r| r.builtin().is_none()));
        assert!(RoleId::parse("owner-ish").is_none());
    }
}
