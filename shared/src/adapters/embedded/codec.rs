//! A compact binary encoding of an item's attributes for the embedded store.
//! Per attribute: name length (u16 LE), name, tag (u8), payload. Tags: 0 S, 1 N, 2 B, 3 Bool, 4 string set.

use std::collections::BTreeSet;

use crate::ports::store::{Attrs, Value};

pub fn encode(attrs: &Attrs) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * attrs.len());
    for (name, value) in attrs {
        put_bytes16(&mut out, name.as_bytes());
        match value {
            Value::S(s) => {
                out.push(0);
                put_bytes32(&mut out, s.as_bytes());
            }
            Value::N(n) => {
                out.push(1);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Value::B(b) => {
                out.push(2);
                put_bytes32(&mut out, b);
            }
            Value::Bool(b) => {
                out.push(3);
                out.push(u8::from(*b));
            }
            Value::Ss(set) => {
                out.push(4);
                out.extend_from_slice(&(set.len() as u32).to_le_bytes());
                for s in set {
                    put_bytes32(&mut out, s.as_bytes());
                }
            }
        }
    }
    out
}

pub fn decode(mut bytes: &[u8]) -> Option<Attrs> {
    let mut attrs = Attrs::new();
    while !bytes.is_empty() {
        let name = String::from_utf8(take16(&mut bytes)?.to_vec()).ok()?;
        let (&tag, rest) = bytes.split_first()?;
        bytes = rest;
        let value = match tag {
            0 => Value::S(String::from_utf8(take32(&mut bytes)?.to_vec()).ok()?),
            1 => {
                let (n, rest) = bytes.split_at_checked(8)?;
                bytes = rest;
                Value::N(i64::from_le_bytes(n.try_into().ok()?))
            }
            2 => Value::B(take32(&mut bytes)?.to_vec()),
            3 => {
                let (&b, rest) = bytes.split_first()?;
                bytes = rest;
                Value::Bool(b != 0)
            }
            4 => {
                let (n, rest) = bytes.split_at_checked(4)?;
                bytes = rest;
                let count = u32::from_le_bytes(n.try_into().ok()?);
                let mut set = BTreeSet::new();
                for _ in 0..count {
                    set.insert(String::from_utf8(take32(&mut bytes)?.to_vec()).ok()?);
                }
                Value::Ss(set)
            }
            _ => return None,
        };
        attrs.insert(name, value);
    }
    Some(attrs)
}

fn put_bytes16(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_bytes32(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn take16<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = bytes.split_at_checked(2)?;
    let len = u16::from_le_bytes(len.try_into().ok()?) as usize;
    let (value, rest) = rest.split_at_checked(len)?;
    *bytes = rest;
    Some(value)
}

fn take32<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = bytes.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    let (value, rest) = rest.split_at_checked(len)?;
    *bytes = rest;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_kind_round_trips() {
        let mut attrs = Attrs::new();
        attrs.insert("s".into(), Value::S("山田 太郎".into()));
        attrs.insert("n".into(), Value::N(-42));
        attrs.insert("b".into(), Value::B(vec![0, 1, 255]));
        attrs.insert("t".into(), Value::Bool(true));
        attrs.insert(
            "ss".into(),
            Value::Ss(["a".to_string(), "b".to_string()].into()),
        );
        assert_eq!(decode(&encode(&attrs)), Some(attrs));
    }

    #[test]
    fn truncated_bytes_are_rejected_not_misread() {
        let mut attrs = Attrs::new();
        attrs.insert("s".into(), Value::S("hello".into()));
        let bytes = encode(&attrs);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }
}
