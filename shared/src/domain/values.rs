//! Newtypes that parse at the boundary: a value that exists is valid.
//!
//! - Names are kept as typed (Unicode NFC, trimmed); e-mail addresses and login ids are NFKC-normalised, so
//!   full-width input works.
//! - Comparison forms (uniqueness, look-up, search) are NFKC-folded and lower-cased ([`comparison_form`]):
//!   `①㈱ ﾔﾏﾀﾞ` is stored as typed and compares equal to `1(株) ヤマダ`.
//! - Invisible characters ([`invisible`]) are refused in every one of them, so two values that look the same
//!   are the same value.
//! - An e-mail domain compares in its ASCII (punycode, UTS #46) form: `taro@例え.jp` and
//!   `taro@xn--r8jz45g.jp` are one address.

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
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

/// A character that shows nothing or changes how its neighbours show: controls (Cc), format characters
/// (Cf: zero-width space, non-joiner and joiner, soft hyphen, the byte order mark, the bidirectional
/// embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, tag characters…), line and paragraph
/// separators, and the other default-ignorable code points (Hangul fillers, U+034F…). Variation selectors
/// are kept: they choose a kanji's glyph in real names (ideographic variation sequences).
pub fn invisible(c: char) -> bool {
    let variation_selector = matches!(
        c,
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}' | '\u{180F}'
    );
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || (!variation_selector && CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c))
}

/// Refuses a value holding an invisible character, naming the field and the character.
fn visible(field: &'static str, what: &str, v: &str) -> Result<(), Invalid> {
    match v.chars().find(|c| invisible(*c)) {
        Some(c) => Err(invalid(
            field,
            format!(
                "{what} must not contain invisible or control characters (it contains U+{:04X})",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// An e-mail address: NFKC-normalised and trimmed, as typed otherwise. It compares case-insensitively, with
/// its domain in ASCII form (UTS #46, punycode), which also refuses a domain that is not a valid host name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    value: String,
    folded: String,
}

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
        visible("email", "an e-mail address", &v)?;
        if v.chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ',' | ';'))
        {
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
        let Ok(ascii) = idna::domain_to_ascii_strict(domain) else {
            return Err(bad("has no valid domain"));
        };
        let folded = format!("{}@{ascii}", local.to_lowercase());
        Ok(Email { value: v, folded })
    }
    pub fn as_str(&self) -> &str {
        &self.value
    }
    /// The form addresses are compared (and blind-indexed) in: the local part lower-cased, the domain in
    /// ASCII (`例え.jp` → `xn--r8jz45g.jp`).
    pub fn comparison(&self) -> String {
        self.folded.clone()
    }
}

/// A login id for users without e-mail: 1 to 64 of `A-Z a-z 0-9 . _ -` (after NFKC, so full-width input
/// works), never containing `@`, so a login string is unambiguously an e-mail or a login id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginId(String);

impl LoginId {
    /// The longest login id, in characters (all ASCII).
    pub const MAX_LEN: usize = 64;
    /// What a login id may be, as a regular expression (the OpenAPI document's `pattern`).
    pub const PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let v = nfkc_trim(s);
        if v.is_empty() || v.len() > Self::MAX_LEN {
            return Err(invalid(
                "login_id",
                format!("login id must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        visible("login_id", "a login id", &v)?;
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

/// A person's or a thing's display name: 1 to 100 characters, none of them invisible. Kept as typed (NFC,
/// trimmed); compared through [`comparison_form`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 100;

    pub fn parse(field: &'static str, s: &str) -> Result<Self, Invalid> {
        let v = s.nfc().collect::<String>().trim().to_owned();
        let n = v.chars().count();
        if n == 0 || n > Self::MAX_CHARS {
            return Err(invalid(
                field,
                format!("{field} must be 1 to {} characters", Self::MAX_CHARS),
            ));
        }
        visible(field, field, &v)?;
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
    /// What a slug may be, as a regular expression (the OpenAPI document's `pattern`).
    pub const PATTERN: &str = "^[a-z0-9][a-z0-9-]{2,39}$";

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

/// Most ids or names one bulk request (API or console form) takes.
pub const BULK_LIMIT: usize = 1000;

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
    /// The shortest and the longest password, in characters.
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: SecretString, identities: &[&str]) -> Result<Self, WeakPassword> {
        Self::parse_min(s, identities, Self::MIN_CHARS)
    }

    /// [`Password::parse`] with a tenant's longer minimum (its sign-in policy); never below
    /// [`Password::MIN_CHARS`].
    pub fn parse_min(
        s: SecretString,
        identities: &[&str],
        min_chars: usize,
    ) -> Result<Self, WeakPassword> {
        let min = min_chars.max(Self::MIN_CHARS);
        let p = s.expose_secret();
        let n = p.chars().count();
        if n < min {
            return Err(WeakPassword(format!(
                "password must be at least {min} characters (it has {n})"
            )));
        }
        if n > Self::MAX_CHARS {
            return Err(WeakPassword(format!(
                "password must be at most {} characters (it has {n})",
                Self::MAX_CHARS
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
    fn invisible_and_bidirectional_characters_are_refused_with_their_field() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{00AD}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{2060}',
            '\u{061C}',
            '\u{3164}',
            '\u{E0041}',
            '\u{0007}',
            '\u{2028}',
        ] {
            let e = Name::parse("name", &format!("山田{c}太郎")).unwrap_err();
            assert_eq!(e.field, "name", "U+{:04X}", c as u32);
            assert!(e.message.contains("invisible"), "{}", e.message);
            assert_eq!(
                Name::parse("group_name", &format!("営業{c}部"))
                    .unwrap_err()
                    .field,
                "group_name"
            );
            assert_eq!(
                Email::parse(&format!("ta{c}ro@example.jp"))
                    .unwrap_err()
                    .field,
                "email"
            );
            assert_eq!(
                Email::parse(&format!("taro@exa{c}mple.jp"))
                    .unwrap_err()
                    .field,
                "email"
            );
            assert_eq!(
                LoginId::parse(&format!("taro{c}01")).unwrap_err().field,
                "login_id"
            );
        }
        // A kanji with its ideographic variation selector is a real name; so is a full-width space.
        assert!(Name::parse("name", "葛\u{E0100}飾　太郎").is_ok());
    }

    #[test]
    fn names_are_kept_as_typed_and_compared_folded() {
        let n = Name::parse("name", " ①㈱ ﾔﾏﾀﾞ ").unwrap();
        assert_eq!(n.as_str(), "①㈱ ﾔﾏﾀﾞ");
        assert_eq!(comparison_form(n.as_str()), comparison_form("1(株) ヤマダ"));
        // NFC: a decomposed kana is stored composed.
        assert_eq!(Name::parse("name", "カ\u{3099}").unwrap().as_str(), "ガ");
    }

    #[test]
    fn idn_domains_compare_in_their_ascii_form() {
        let unicode = Email::parse("Taro@例え.JP").unwrap();
        let ascii = Email::parse("taro@xn--r8jz45g.jp").unwrap();
        assert_eq!(unicode.comparison(), ascii.comparison());
        assert_eq!(unicode.comparison(), "taro@xn--r8jz45g.jp");
        assert_eq!(unicode.as_str(), "Taro@例え.JP");
        assert!(Email::parse("taro@exa_mple.jp").is_err());
        assert!(Email::parse("taro@-example.jp").is_err());
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
