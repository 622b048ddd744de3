//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.10), parsed into a tree and evaluated against a
//! resource's JSON. Attribute names compare case-insensitively; string values too, except the attributes
//! whose schema says `caseExact` (`id`, `externalId`, `meta.version`). Besides the RFC's grammar it accepts
//! the form identity providers send, `emails[type eq "work"].value eq "…"` (a value filter, then a
//! sub-attribute compared).
//!
//! Bounded: at most [`MAX_LEN`] characters and [`MAX_DEPTH`] nested groups, so no filter costs more than a
//! linear walk, and every malformed one is an `invalidFilter` error, never a panic.

use serde_json::Value;

pub const MAX_LEN: usize = 2000;
pub const MAX_DEPTH: usize = 16;

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal compared with.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// `urn:…:User:manager.value`, `emails[type eq "work"].value`, `name.givenName`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrPath {
    /// The schema URN, when the path names one (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`).
    pub urn: Option<String>,
    pub attr: String,
    /// A filter on the values of a multi-valued attribute (`emails[type eq "work"]`).
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Cmp(AttrPath, Op, Lit),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Why a filter or path was refused (the SCIM error's `detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

fn bad(m: impl Into<String>) -> Invalid {
    Invalid(m.into())
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// `].` glued to the following sub-attribute: `].value`.
    Dot,
}

fn tokens(s: &str) -> Result<Vec<Tok>, Invalid> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Tok::LParen);
                i += 1
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1
            }
            b'[' => {
                out.push(Tok::LBracket);
                i += 1
            }
            b']' => {
                out.push(Tok::RBracket);
                i += 1;
                if b.get(i) == Some(&b'.') {
                    out.push(Tok::Dot);
                    i += 1;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(bad("a string is not closed")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
                let lit: String = serde_json::from_str(&s[start..i])
                    .map_err(|_| bad("a string has a bad escape"))?;
                out.push(Tok::Str(lit));
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(
                        b[i],
                        b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"'
                    )
                {
                    i += 1;
                }
                out.push(Tok::Word(s[start..i].to_owned()));
            }
        }
    }
    Ok(out)
}

/// Parses a filter (`userName eq "a@b.jp" and active eq true`).
pub fn parse(s: &str) -> Result<Filter, Invalid> {
    if s.len() > MAX_LEN {
        return Err(bad(format!("a filter has at most {MAX_LEN} characters")));
    }
    let toks = tokens(s)?;
    let mut p = Parser { toks, pos: 0 };
    let f = p.or(0)?;
    if p.pos != p.toks.len() {
        return Err(bad("unexpected text after the filter"));
    }
    Ok(f)
}

/// Parses an attribute path as PATCH names it (`members[value eq "id"]`, `name.givenName`, a URN path).
pub fn parse_path(s: &str) -> Result<AttrPath, Invalid> {
    if s.len() > MAX_LEN {
        return Err(bad(format!("a path has at most {MAX_LEN} characters")));
    }
    let toks = tokens(s)?;
    let mut p = Parser { toks, pos: 0 };
    let path = p.path(0)?;
    if p.pos != p.toks.len() {
        return Err(bad("unexpected text after the path"));
    }
    Ok(path)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn keyword(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
}

/// Splits `urn:…:User:name.givenName` into the URN and `name.givenName`.
fn split_urn(w: &str) -> (Option<String>, &str) {
    if w.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        match w.rfind(':') {
            Some(i) => (Some(w[..i].to_owned()), &w[i + 1..]),
            None => (None, w),
        }
    } else {
        (None, w)
    }
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '$')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self, depth: usize) -> Result<Filter, Invalid> {
        let mut left = self.and(depth)?;
        while keyword(self.peek(), "or") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, Invalid> {
        let mut left = self.unary(depth)?;
        while keyword(self.peek(), "and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, Invalid> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("a filter nests at most {MAX_DEPTH} levels")));
        }
        if keyword(self.peek(), "not") && self.toks.get(self.pos + 1) == Some(&Tok::LParen) {
            self.pos += 2;
            let f = self.or(depth + 1)?;
            self.expect(Tok::RParen)?;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let f = self.or(depth + 1)?;
            self.expect(Tok::RParen)?;
            return Ok(f);
        }
        let path = self.path(depth)?;
        // `emails[type eq "work"]` alone is a filter: some value matches.
        let is_op = |t: Option<&Tok>| {
            matches!(t, Some(Tok::Word(w)) if ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]
                .iter()
                .any(|o| w.eq_ignore_ascii_case(o)))
        };
        if path.filter.is_some() && path.sub.is_none() && !is_op(self.peek()) {
            return Ok(Filter::Present(path));
        }
        let op = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(bad("an operator is missing")),
        };
        if op == "pr" {
            return Ok(Filter::Present(path));
        }
        let op = match op.as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(bad(format!("unknown operator {other:?}"))),
        };
        let lit = match self.next() {
            Some(Tok::Str(s)) => Lit::Str(s),
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Lit::Bool(true),
                "false" => Lit::Bool(false),
                "null" => Lit::Null,
                _ => Lit::Num(
                    w.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| bad(format!("{w:?} is not a value")))?,
                ),
            },
            _ => return Err(bad("a value is missing")),
        };
        Ok(Filter::Cmp(path, op, lit))
    }

    fn expect(&mut self, t: Tok) -> Result<(), Invalid> {
        if self.next() == Some(t.clone()) {
            Ok(())
        } else {
            Err(bad(format!("expected {t:?}")))
        }
    }

    fn path(&mut self, depth: usize) -> Result<AttrPath, Invalid> {
        let Some(Tok::Word(w)) = self.next() else {
            return Err(bad("an attribute name is missing"));
        };
        let (urn, rest) = split_urn(&w);
        let (attr, mut sub) = match rest.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (rest.to_owned(), None),
        };
        if !valid_name(&attr) || sub.as_deref().is_some_and(|s| !valid_name(s)) {
            return Err(bad(format!("{w:?} is not an attribute name")));
        }
        let mut filter = None;
        if self.peek() == Some(&Tok::LBracket) {
            if sub.is_some() {
                return Err(bad(
                    "a value filter follows the attribute, not a sub-attribute",
                ));
            }
            if depth > MAX_DEPTH {
                return Err(bad(format!("a filter nests at most {MAX_DEPTH} levels")));
            }
            self.pos += 1;
            filter = Some(Box::new(self.or(depth + 1)?));
            self.expect(Tok::RBracket)?;
            if self.peek() == Some(&Tok::Dot) {
                self.pos += 1;
                match self.next() {
                    Some(Tok::Word(s)) if valid_name(&s) => sub = Some(s),
                    _ => return Err(bad("a sub-attribute name is missing after \"].\"")),
                }
            }
        }
        Ok(AttrPath {
            urn,
            attr,
            filter,
            sub,
        })
    }
}

/// Attributes whose values compare case-sensitively.
fn case_exact(attr: &str) -> bool {
    ["id", "externalId", "version"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attr))
}

/// A member of a JSON object by name, ignoring case.
pub fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl AttrPath {
    /// The object holding the attribute: the resource, or its extension's object for a URN path. A
    /// core-schema URN names the resource itself.
    pub fn container<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        match &self.urn {
            Some(u) if !u.to_ascii_lowercase().contains(":core:") => get_ci(resource, u),
            _ => Some(resource),
        }
    }
}

fn cmp_str(a: &str, b: &str, exact: bool, op: Op) -> bool {
    let (a, b) = if exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Co => a.contains(&b),
        Op::Sw => a.starts_with(&b),
        Op::Ew => a.ends_with(&b),
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Lt => a < b,
        Op::Le => a <= b,
    }
}

fn cmp_value(v: &Value, op: Op, lit: &Lit, exact: bool) -> bool {
    match (v, lit) {
        // A multi-valued attribute matches when one of its values does (an object by its `value`).
        (Value::Array(items), _) => items.iter().any(|i| cmp_value(i, op, lit, exact)),
        (Value::Object(_), _) => get_ci(v, "value").is_some_and(|x| cmp_value(x, op, lit, exact)),
        (Value::String(s), Lit::Str(l)) => cmp_str(s, l, exact, op),
        (Value::Bool(b), Lit::Bool(l)) => match op {
            Op::Eq => b == l,
            Op::Ne => b != l,
            _ => false,
        },
        (Value::Number(n), Lit::Num(l)) => n.as_f64().is_some_and(|n| match op {
            Op::Eq => n == *l,
            Op::Ne => n != *l,
            Op::Gt => n > *l,
            Op::Ge => n >= *l,
            Op::Lt => n < *l,
            Op::Le => n <= *l,
            _ => false,
        }),
        (Value::Null, Lit::Null) => op == Op::Eq,
        (_, Lit::Null) => op == Op::Ne,
        _ => op == Op::Ne,
    }
}

/// The values a path reaches in a resource (several for a multi-valued attribute with a filter).
fn values<'a>(path: &AttrPath, resource: &'a Value) -> Vec<&'a Value> {
    let Some(v) = path.container(resource).and_then(|c| get_ci(c, &path.attr)) else {
        return vec![];
    };
    let picked: Vec<&Value> = match (&path.filter, v) {
        (Some(f), Value::Array(items)) => items.iter().filter(|i| eval(f, i)).collect(),
        (Some(f), single) if eval(f, single) => vec![single],
        (Some(_), _) => vec![],
        (None, v) => vec![v],
    };
    match &path.sub {
        None => picked,
        Some(s) => picked
            .into_iter()
            .flat_map(|p| match p {
                Value::Array(items) => items.iter().filter_map(|i| get_ci(i, s)).collect(),
                other => get_ci(other, s).into_iter().collect::<Vec<_>>(),
            })
            .collect(),
    }
}

/// Whether a resource (or, inside a value filter, one value of a multi-valued attribute) matches.
pub fn eval(f: &Filter, resource: &Value) -> bool {
    match f {
        Filter::And(a, b) => eval(a, resource) && eval(b, resource),
        Filter::Or(a, b) => eval(a, resource) || eval(b, resource),
        Filter::Not(a) => !eval(a, resource),
        Filter::Present(p) => values(p, resource).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        }),
        Filter::Cmp(p, op, lit) => {
            let exact = case_exact(p.sub.as_deref().unwrap_or(&p.attr));
            let vs = values(p, resource);
            if vs.is_empty() {
                return *op == Op::Ne && *lit != Lit::Null || *op == Op::Eq && *lit == Lit::Null;
            }
            vs.iter().any(|v| cmp_value(v, *op, lit, exact))
        }
    }
}

impl Filter {
    /// Whether the filter compares the attribute `attr` (of the core schema or an extension), anywhere.
    pub fn names(&self, attr: &str) -> bool {
        match self {
            Filter::Cmp(p, _, _) | Filter::Present(p) => p.attr.eq_ignore_ascii_case(attr),
            Filter::And(a, b) | Filter::Or(a, b) => a.names(attr) || b.names(attr),
            Filter::Not(a) => a.names(attr),
        }
    }

    /// The value of `attr eq "…"` when the filter is exactly that, or an `and` holding it (for a look-up by
    /// key before the scan): `userName`, `externalId`.
    pub fn eq_value(&self, attr: &str) -> Option<&str> {
        match self {
            Filter::Cmp(p, Op::Eq, Lit::Str(s))
                if p.filter.is_none()
                    && p.sub.is_none()
                    && p.urn.is_none()
                    && p.attr.eq_ignore_ascii_case(attr) =>
            {
                Some(s)
            }
            Filter::And(a, b) => a.eq_value(attr).or_else(|| b.eq_value(attr)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u_1", "externalId": "Ext-1", "userName": "Taro@Example.jp",
            "name": {"givenName": "太郎", "familyName": "山田"},
            "emails": [{"value": "taro@example.jp", "type": "work", "primary": true},
                       {"value": "t@home.jp", "type": "home"}],
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "総務部", "employeeNumber": "0042"},
            "meta": {"resourceType": "User", "version": "W/\"3\""}
        })
    }

    fn m(f: &str) -> bool {
        eval(&parse(f).unwrap_or_else(|e| panic!("{f}: {e:?}")), &user())
    }

    #[test]
    fn user_name_compares_case_insensitively_and_external_id_exactly() {
        assert!(m(r#"userName eq "taro@example.jp""#));
        assert!(m(r#"USERNAME EQ "TARO@EXAMPLE.JP""#));
        assert!(m(r#"externalId eq "Ext-1""#));
        assert!(!m(r#"externalId eq "ext-1""#));
        assert!(!m(r#"userName eq "jiro@example.jp""#));
    }

    #[test]
    fn and_or_not_and_groups() {
        assert!(m(
            r#"userName eq "taro@example.jp" and externalId eq "Ext-1""#
        ));
        assert!(!m(r#"userName eq "taro@example.jp" and externalId eq "x""#));
        assert!(m(r#"userName eq "x" or active eq true"#));
        assert!(m(
            r#"not (userName eq "x") and (active eq true or active eq false)"#
        ));
        assert!(!m(r#"not(active eq true)"#));
    }

    #[test]
    fn value_filters_and_their_sub_attribute() {
        assert!(m(r#"emails[type eq "work"].value eq "taro@example.jp""#));
        assert!(!m(r#"emails[type eq "home"].value eq "taro@example.jp""#));
        assert!(m(r#"emails[type eq "work" and value co "example"]"#));
        assert!(m(r#"emails.value eq "t@home.jp""#));
        assert!(m(r#"emails eq "t@home.jp""#));
        assert!(m(r#"name.familyName sw "山""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "総務部""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName ew "example.jp""#
        ));
    }

    #[test]
    fn presence_and_missing_attributes() {
        assert!(m("externalId pr"));
        assert!(!m("nickName pr"));
        assert!(!m(r#"nickName eq "x""#));
        assert!(m(r#"nickName ne "x""#));
        assert!(m("meta.resourceType pr"));
    }

    #[test]
    fn the_look_up_key_is_found_in_an_and() {
        let f = parse(r#"externalId eq "a" and userName eq "B@x.jp""#).unwrap();
        assert_eq!(f.eq_value("username"), Some("B@x.jp"));
        assert_eq!(f.eq_value("externalId"), Some("a"));
        assert_eq!(
            parse(r#"userName ne "x""#).unwrap().eq_value("userName"),
            None
        );
        let or = parse(r#"userName eq "a" or userName eq "b""#).unwrap();
        assert_eq!(or.eq_value("userName"), None);
    }

    #[test]
    fn paths_as_patch_names_them() {
        let p = parse_path(r#"members[value eq "u_2"]"#).unwrap();
        assert_eq!(p.attr, "members");
        assert!(p.filter.is_some() && p.sub.is_none());
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("emails", Some("value"))
        );
        let p =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
                .unwrap();
        assert_eq!(
            (p.urn.as_deref(), p.attr.as_str()),
            (
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "employeeNumber"
            )
        );
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.as_str(), p.sub.as_deref()),
            ("name", Some("givenName"))
        );
    }

    #[test]
    fn malformed_filters_are_refused_not_panicked_on() {
        for f in [
            "",
            "userName",
            "userName eq",
            r#"userName eq "open"#,
            r#"userName zz "x""#,
            r#"(userName eq "x""#,
            r#"userName eq "x")"#,
            r#"userName eq "x" and"#,
            r#"emails[type eq "work""#,
            r#"emails[type eq "work"]."#,
            r#"1abc eq "x""#,
            r#"userName eq "\q""#,
            "userName eq nan",
            "userName eq 1e999",
            "[]",
            "].",
            "not",
            "not (",
        ] {
            assert!(parse(f).is_err(), "{f:?} must be refused");
        }
        let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        let deep_brackets = format!("{}userName pr{}", "emails[".repeat(100), "]".repeat(100));
        assert!(parse(&deep_brackets).is_err());
        assert!(parse(&"a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every prefix and every one-character mutation of valid filters.
        let seeds = [
            r#"emails[type eq "work" and value co "@"].value eq "a\"b" or not (userName pr)"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "総務部" and active eq true"#,
            "members[value eq \"x\"]",
        ];
        let alphabet = ['(', ')', '[', ']', '"', '.', ':', ' ', '\\', 'a', '1', 'é'];
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for i in 0..=chars.len() {
                let prefix: String = chars[..i].iter().collect();
                let _ = parse(&prefix);
                let _ = parse_path(&prefix);
                for c in alphabet {
                    let mut mutated = chars.clone();
                    if i < mutated.len() {
                        mutated[i] = c;
                    } else {
                        mutated.push(c);
                    }
                    let s: String = mutated.iter().collect();
                    if let Ok(f) = parse(&s) {
                        let _ = eval(&f, &user());
                    }
                    let _ = parse_path(&s);
                }
            }
        }
    }
}
