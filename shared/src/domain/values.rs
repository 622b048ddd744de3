//! Newtypes that parse at the boundary: a value that exists is valid. Comparison forms (for uniqueness and
//! look-up) are NFKC-normalised and lower-cased.

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// Why a value was refused, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

fn nfkc_trim(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_owned()
}

/// The form used for uniqueness and look-up: NFKC, trimmed, lower-cased.
pub fn comparison_form(s: &str) -> String {
    nfkc_trim(s).to_lowercase()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = nfkc_trim(s);
        let bad = |m: &str| {
            invalid(
                "email",
                format!("{m}: {v:?} is not a usable e-mail address"),
            )
        };
        if v.is_empty() || v.chars().count() > 254 {
            return Err(bad("must be 1 to 254 characters"));
        }
        if v.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        }) {
            return Err(bad(
                "contains spaces or characters not allowed in an address",
            ));
        }
        let Some((local, domain)) = v.rsplit_once('@') else {
            return Err(bad("has no @"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(bad("has an empty, long or doubled local part"));
        }
        if !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad("has no valid domain"));
        }
        Ok(Email(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn comparison(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A login id for users without e-mail: 1 to 64 of `A-Z a-z 0-9 . _ -` (after NFKC, so full-width input
/// works), never containing `@`, so a login string is unambiguously an e-mail or a login id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginId(String);

impl LoginId {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = nfkc_trim(s);
        if v.is_empty() || v.len() > 64 {
            return Err(invalid("login_id", "login id must be 1 to 64 characters"));
        }
        if !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(invalid(
                "login_id",
                "login id may contain only letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(LoginId(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn comparison(&self) -> String {
        self.0.to_lowercase()
    }
}

/// What a user types to log in: an e-mail when it has `@`, otherwise a login id.
pub enum Login {
    Email(Email),
    LoginId(LoginId),
}

impl Login {
    pub fn parse(s: &str) -> Option<Self> {
        if s.contains('@') || s.contains('＠') {
            Email::parse(s).ok().map(Login::Email)
        } else {
            LoginId::parse(s).ok().map(Login::LoginId)
        }
    }
}

/// A person's or a thing's display name: 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, Invalid> {
        let v = nfkc_trim(s);
        let n = v.chars().count();
        if n == 0 || n > 100 {
            return Err(invalid(
                field,
                format!("{field} must be 1 to 100 characters"),
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("{field} must not contain control characters"),
            ));
        }
        Ok(Name(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant's slug, used at login: 3 to 40 of `a-z 0-9 -`, starting with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = s.trim().to_ascii_lowercase();
        let ok = (3..=40).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && v.bytes().next().is_some_and(|b| b != b'-');
        if !ok {
            return Err(invalid(
                "slug",
                "slug must be 3 to 40 of a-z, 0-9 and '-', not starting with '-'",
            ));
        }
        Ok(Slug(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MAX_SEAT_LIMIT: i64 = 1_000_000;

pub fn seat_limit(n: i64) -> Result<i64, Invalid> {
    if (1..=MAX_SEAT_LIMIT).contains(&n) {
        Ok(n)
    } else {
        Err(invalid(
            "seat_limit",
            format!("seat_limit must be 1 to {MAX_SEAT_LIMIT}"),
        ))
    }
}

/// A new password that passed the policy. The policy: 8 to 128 characters, not the user's login id or
/// e-mail (nor its local part), not a commonly used password.
pub struct Password(SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WeakPassword(pub String);

impl Password {
    pub fn parse(s: SecretString, identities: &[&str]) -> Result<Self, WeakPassword> {
        let p = s.expose_secret();
        let n = p.chars().count();
        if n < 8 {
            return Err(WeakPassword(format!(
                "password must be at least 8 characters (it has {n})"
            )));
        }
        if n > 128 {
            return Err(WeakPassword(format!(
                "password must be at most 128 characters (it has {n})"
            )));
        }
        let folded = comparison_form(p);
        for id in identities {
            let id = comparison_form(id);
            let local = id.split('@').next().unwrap_or_default();
            if !id.is_empty() && (folded == id || folded == local) {
                return Err(WeakPassword(
                    "password must not be your login id or e-mail address".into(),
                ));
            }
        }
        if super::common_passwords::is_common(&folded) {
            return Err(WeakPassword(
                "password is too common; choose one that is not on lists of leaked passwords"
                    .into(),
            ));
        }
        Ok(Password(s))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_case_variants_compare_equal() {
        let a = Email::parse("Ｔａｒｏ@Example.co.jp").unwrap();
        let b = Email::parse(" taro@example.co.jp ").unwrap();
        assert_eq!(a.comparison(), b.comparison());
        assert_eq!(LoginId::parse("ＵＳＥＲ01").unwrap().comparison(), "user01");
    }

    #[test]
    fn malformed_values_are_refused_with_their_field() {
        assert_eq!(Email::parse("no-at-sign").unwrap_err().field, "email");
        assert!(Email::parse("a@b").is_err());
        assert!(LoginId::parse("has space").is_err());
        assert!(LoginId::parse("a@b").is_err());
        assert!(Name::parse("name", "  ").is_err());
        assert!(Slug::parse("-bad").is_err());
        assert!(seat_limit(0).is_err());
    }

    #[test]
    fn weak_passwords_say_why() {
        let p = |s: &str| {
            Password::parse(
                SecretString::from(s.to_owned()),
                &["taro@example.com", "taro01"],
            )
        };
        assert!(p("short").unwrap_err().0.contains("at least 8"));
        assert!(p(&"x".repeat(129)).unwrap_err().0.contains("at most 128"));
        assert!(
            p("TARO@example.com")
                .unwrap_err()
                .0
                .contains("login id or e-mail")
        );
        assert!(p("password123").unwrap_err().0.contains("too common"));
        assert!(p("correct horse battery staple").is_ok());
    }
}
