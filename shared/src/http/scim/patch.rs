//! SCIM PATCH (RFC 7644 §3.5.2), applied to a resource's JSON, which the resource's PUT rules then store:
//! so a PATCH can do nothing a PUT could not, and both share one validation. Accepted as the identity
//! providers send it:
//!
//! - `op` in any case (`Add`, `Replace`, `Remove`);
//! - Entra ID's default forms: a path per attribute (`active` with `"False"` as a string: the string
//!   booleans are read by the resource's mapping), `Remove` of `members` with a list of `{"value": id}`,
//!   enterprise-extension URN paths;
//! - Entra ID's `aadOptscim062020` forms: a replace without a path whose keys are dotted paths
//!   (`name.givenName`) or URN paths, and value filters (`members[value eq "id"]`,
//!   `emails[type eq "work"].value`, which adds the value when no value of that type exists yet);
//! - Okta's `{"op": "replace", "value": {"active": false}}`.

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, Filter, Lit, Op, get_ci};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Operations one request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Add,
    Replace,
    Remove,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub op: Kind,
    pub path: Option<AttrPath>,
    pub value: Option<Value>,
}

/// A refused PATCH: the SCIM `scimType` and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub scim_type: &'static str,
    pub detail: String,
}

fn refused(scim_type: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        scim_type,
        detail: detail.into(),
    }
}

/// Reads a PatchOp request body.
pub fn parse(body: &Value) -> Result<Vec<Operation>, Refused> {
    let schemas_ok = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(PATCH_OP)));
    if !schemas_ok {
        return Err(refused(
            "invalidSyntax",
            format!("a PATCH request names the schema {PATCH_OP}"),
        ));
    }
    let Some(ops) = get_ci(body, "Operations").and_then(Value::as_array) else {
        return Err(refused("invalidSyntax", "Operations is missing"));
    };
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(refused(
            "invalidSyntax",
            format!("Operations holds 1 to {MAX_OPERATIONS} operations"),
        ));
    }
    ops.iter()
        .map(|o| {
            let op = match get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(k) if k == "add" => Kind::Add,
                Some(k) if k == "replace" => Kind::Replace,
                Some(k) if k == "remove" => Kind::Remove,
                _ => {
                    return Err(refused(
                        "invalidSyntax",
                        "op is one of add, replace, remove",
                    ));
                }
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => {
                    Some(filter::parse_path(p).map_err(|e| refused("invalidPath", e.0))?)
                }
                Some(_) => return Err(refused("invalidPath", "path is a string")),
            };
            let value = get_ci(o, "value").cloned();
            match (op, &path, &value) {
                (Kind::Remove, None, _) => {
                    Err(refused("noTarget", "a remove operation needs a path"))
                }
                (Kind::Add | Kind::Replace, _, None) => Err(refused(
                    "invalidValue",
                    "an add or replace operation needs a value",
                )),
                (Kind::Add | Kind::Replace, None, Some(v)) if !v.is_object() => Err(refused(
                    "invalidValue",
                    "an operation without a path takes an object of attributes",
                )),
                _ => Ok(Operation { op, path, value }),
            }
        })
        .collect()
}

/// Applies the operations in order.
pub fn apply(resource: &mut Value, ops: &[Operation]) -> Result<(), Refused> {
    for o in ops {
        match &o.path {
            Some(p) => apply_path(resource, o.op, p, o.value.as_ref())?,
            None => {
                let Some(Value::Object(attrs)) = &o.value else {
                    return Err(refused("invalidValue", "an object of attributes is needed"));
                };
                for (k, v) in attrs {
                    if known_extension(k) && v.is_object() {
                        // `{"urn:…:enterprise:2.0:User": {"department": "…"}}`: each attribute of it.
                        let Some(inner) = v.as_object() else { continue };
                        for (ik, iv) in inner {
                            let path = filter::parse_path(&format!("{k}:{ik}"))
                                .map_err(|e| refused("invalidPath", e.0))?;
                            apply_path(resource, o.op, &path, Some(iv))?;
                        }
                        continue;
                    }
                    let path = filter::parse_path(k).map_err(|e| refused("invalidPath", e.0))?;
                    apply_path(resource, o.op, &path, Some(v))?;
                }
            }
        }
    }
    Ok(())
}

/// The extension schemas whose object a no-path operation may carry whole.
fn known_extension(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(super::ENTERPRISE)
}

/// Sets `name` in an object, replacing a member of the same name in another case.
pub fn set_ci(obj: &mut Map<String, Value>, name: &str, v: Value) {
    let key = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    obj.insert(key, v);
}

fn remove_ci(obj: &mut Map<String, Value>, name: &str) {
    if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned() {
        obj.remove(&k);
    }
}

fn get_ci_mut<'a>(obj: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let k = obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    obj.get_mut(&k)
}

/// The object a path's attribute lives in (the resource or its extension object), created for a write.
fn container_mut<'a>(
    resource: &'a mut Value,
    p: &AttrPath,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, Refused> {
    let Value::Object(root) = resource else {
        return Err(refused("invalidValue", "the resource is not an object"));
    };
    match &p.urn {
        Some(u) if !u.to_ascii_lowercase().contains(":core:") => {
            if !known_extension(u) {
                return Err(refused("invalidPath", format!("unknown schema {u}")));
            }
            if get_ci(&Value::Object(root.clone()), u).is_none() {
                if !create {
                    return Ok(None);
                }
                root.insert(super::ENTERPRISE.to_owned(), Value::Object(Map::new()));
            }
            match get_ci_mut(root, u) {
                Some(Value::Object(m)) => Ok(Some(m)),
                _ => Err(refused("invalidValue", format!("{u} is not an object"))),
            }
        }
        _ => Ok(Some(root)),
    }
}

/// Whether two values of a multi-valued attribute are the same value (by `value` when they have one).
fn same_value(a: &Value, b: &Value) -> bool {
    match (get_ci(a, "value"), get_ci(b, "value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn merge_into(target: &mut Value, v: &Value) {
    match (target, v) {
        (Value::Object(t), Value::Object(src)) => {
            for (k, x) in src {
                set_ci(t, k, x.clone());
            }
        }
        (t, v) => *t = v.clone(),
    }
}

fn apply_path(
    resource: &mut Value,
    op: Kind,
    p: &AttrPath,
    value: Option<&Value>,
) -> Result<(), Refused> {
    // The extension's URN alone (`urn:…:enterprise:2.0:User`) names its whole object.
    if let Some(u) = &p.urn
        && p.sub.is_none()
        && p.filter.is_none()
        && known_extension(&format!("{u}:{}", p.attr))
    {
        let Value::Object(root) = resource else {
            return Err(refused("invalidValue", "the resource is not an object"));
        };
        let key = format!("{u}:{}", p.attr);
        match (op, value) {
            (Kind::Remove, _) => remove_ci(root, &key),
            (_, Some(Value::Object(attrs))) => {
                if !matches!(get_ci_mut(root, &key), Some(Value::Object(_))) {
                    remove_ci(root, &key);
                    root.insert(super::ENTERPRISE.to_owned(), Value::Object(Map::new()));
                }
                let Some(Value::Object(ext)) = get_ci_mut(root, &key) else {
                    return Err(refused("invalidPath", "the extension is not an object"));
                };
                if op == Kind::Replace {
                    ext.clear();
                }
                for (k, v) in attrs {
                    set_ci(ext, k, v.clone());
                }
            }
            _ => {
                return Err(refused(
                    "invalidValue",
                    "the extension takes an object of attributes",
                ));
            }
        }
        return Ok(());
    }
    let Some(obj) = container_mut(resource, p, op != Kind::Remove)? else {
        return Ok(());
    };
    match (&p.filter, &p.sub) {
        (None, None) => match op {
            Kind::Remove => match (value, get_ci_mut(obj, &p.attr)) {
                // Entra's `Remove` of `members` with the values to remove.
                (Some(Value::Array(gone)), Some(Value::Array(items))) => {
                    items.retain(|i| !gone.iter().any(|g| same_value(i, g)));
                }
                (Some(Value::Object(_)), Some(Value::Array(items))) => {
                    let g = value.cloned().unwrap_or(Value::Null);
                    items.retain(|i| !same_value(i, &g));
                }
                _ => remove_ci(obj, &p.attr),
            },
            Kind::Add => {
                let v = value.cloned().unwrap_or(Value::Null);
                match (get_ci_mut(obj, &p.attr), v) {
                    (Some(Value::Array(items)), Value::Array(new)) => {
                        for n in new {
                            if !items.iter().any(|i| same_value(i, &n)) {
                                items.push(n);
                            }
                        }
                    }
                    (Some(Value::Array(items)), n) => {
                        if !items.iter().any(|i| same_value(i, &n)) {
                            items.push(n);
                        }
                    }
                    (Some(t @ Value::Object(_)), n @ Value::Object(_)) => merge_into(t, &n),
                    (_, n) => set_ci(obj, &p.attr, n),
                }
            }
            Kind::Replace => {
                let v = value.cloned().unwrap_or(Value::Null);
                match (get_ci_mut(obj, &p.attr), v) {
                    (Some(t @ Value::Object(_)), n @ Value::Object(_)) => merge_into(t, &n),
                    (_, n) => set_ci(obj, &p.attr, n),
                }
            }
        },
        (None, Some(sub)) => {
            let target = match get_ci_mut(obj, &p.attr) {
                Some(t) => t,
                None if op == Kind::Remove => return Ok(()),
                None => {
                    set_ci(obj, &p.attr, Value::Object(Map::new()));
                    get_ci_mut(obj, &p.attr)
                        .ok_or_else(|| refused("invalidPath", "no such attribute"))?
                }
            };
            let mut targets: Vec<&mut Value> = match target {
                Value::Array(items) => items.iter_mut().collect(),
                other => vec![other],
            };
            for t in targets.iter_mut() {
                let Value::Object(m) = t else {
                    return Err(refused(
                        "invalidPath",
                        format!("{} has no sub-attributes", p.attr),
                    ));
                };
                match op {
                    Kind::Remove => remove_ci(m, sub),
                    _ => set_ci(m, sub, value.cloned().unwrap_or(Value::Null)),
                }
            }
        }
        (Some(f), sub) => {
            let items = match get_ci_mut(obj, &p.attr) {
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(refused(
                        "invalidPath",
                        format!("{} is not multi-valued", p.attr),
                    ));
                }
                None if op == Kind::Remove => return Ok(()),
                None => {
                    set_ci(obj, &p.attr, Value::Array(vec![]));
                    match get_ci_mut(obj, &p.attr) {
                        Some(Value::Array(items)) => items,
                        _ => return Err(refused("invalidPath", "no such attribute")),
                    }
                }
            };
            let matched = items.iter().filter(|i| filter::eval(f, i)).count();
            match (op, sub) {
                (Kind::Remove, None) => items.retain(|i| !filter::eval(f, i)),
                (Kind::Remove, Some(s)) => {
                    for i in items.iter_mut().filter(|i| filter::eval(f, i)) {
                        if let Value::Object(m) = i {
                            remove_ci(m, s);
                        }
                    }
                }
                (_, _) if matched == 0 => {
                    // Nothing of that kind yet: a simple `attr eq "x"` filter says what to create.
                    let Filter::Cmp(fp, Op::Eq, Lit::Str(lit)) = f.as_ref() else {
                        return Err(refused("noTarget", "the value filter matches no value"));
                    };
                    let mut new = Map::new();
                    new.insert(fp.attr.clone(), Value::String(lit.clone()));
                    let mut new = Value::Object(new);
                    match sub {
                        Some(s) => {
                            if let Value::Object(m) = &mut new {
                                set_ci(m, s, value.cloned().unwrap_or(Value::Null));
                            }
                        }
                        None => merge_into(&mut new, value.unwrap_or(&Value::Null)),
                    }
                    items.push(new);
                }
                (_, None) => {
                    let v = value.cloned().unwrap_or(Value::Null);
                    for i in items.iter_mut().filter(|i| filter::eval(f, i)) {
                        if op == Kind::Replace && !v.is_object() {
                            *i = v.clone();
                        } else {
                            merge_into(i, &v);
                        }
                    }
                }
                (_, Some(s)) => {
                    for i in items.iter_mut().filter(|i| filter::eval(f, i)) {
                        if let Value::Object(m) = i {
                            set_ci(m, s, value.cloned().unwrap_or(Value::Null));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(resource: Value, body: Value) -> Result<Value, Refused> {
        let ops = parse(&body)?;
        let mut r = resource;
        apply(&mut r, &ops)?;
        Ok(r)
    }

    fn req(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    fn user() -> Value {
        json!({"userName": "a@x.jp", "active": true, "name": {"givenName": "太郎", "familyName": "山田"},
               "emails": [{"value": "a@x.jp", "type": "work", "primary": true}]})
    }

    #[test]
    fn entra_replaces_active_with_a_string_boolean_and_any_case_op() {
        let r = run(
            user(),
            req(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .unwrap();
        assert_eq!(r["active"], "False", "the mapping reads string booleans");
        let r = run(
            user(),
            req(json!([{"op": "rEpLaCe", "path": "ACTIVE", "value": false}])),
        )
        .unwrap();
        assert_eq!(r["active"], false);
        assert!(
            r.get("ACTIVE").is_none(),
            "the existing member is replaced, whatever its case"
        );
    }

    #[test]
    fn okta_replaces_without_a_path() {
        let r = run(
            user(),
            req(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .unwrap();
        assert_eq!(r["active"], false);
    }

    #[test]
    fn entra_dotted_keys_and_urn_paths_without_a_path() {
        let r = run(
            user(),
            req(json!([{"op": "Replace", "value": {
                "name.givenName": "次郎",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "営業部",
                "displayName": "山田 次郎"}}])),
        )
        .unwrap();
        assert_eq!(r["name"]["givenName"], "次郎");
        assert_eq!(r["name"]["familyName"], "山田", "other sub-attributes stay");
        assert_eq!(r[super::super::ENTERPRISE]["department"], "営業部");
        assert_eq!(r["displayName"], "山田 次郎");
        let r = run(
            user(),
            req(json!([{"op": "add", "value": {super::super::ENTERPRISE: {"employeeNumber": "7"}}}])),
        )
        .unwrap();
        assert_eq!(r[super::super::ENTERPRISE]["employeeNumber"], "7");
    }

    #[test]
    fn urn_paths_and_their_removal() {
        let path = format!("{}:employeeNumber", super::super::ENTERPRISE);
        let r = run(
            user(),
            req(json!([{"op": "Add", "path": path, "value": "0042"}])),
        )
        .unwrap();
        assert_eq!(r[super::super::ENTERPRISE]["employeeNumber"], "0042");
        let r = run(r, req(json!([{"op": "Remove", "path": path}]))).unwrap();
        assert!(r[super::super::ENTERPRISE].get("employeeNumber").is_none());
        let ent = super::super::ENTERPRISE;
        let r = run(
            user(),
            req(json!([{"op": "add", "path": ent, "value": {"department": "総務部"}}])),
        )
        .unwrap();
        assert_eq!(r[ent], json!({"department": "総務部"}));
        let r = run(
            r,
            req(json!([{"op": "replace", "path": ent, "value": {"employeeNumber": "9"}}])),
        )
        .unwrap();
        assert_eq!(r[ent], json!({"employeeNumber": "9"}));
        let r = run(r, req(json!([{"op": "remove", "path": ent}]))).unwrap();
        assert!(r.get(ent).is_none());
        let unknown = run(
            user(),
            req(json!([{"op": "add", "path": "urn:example:x:y", "value": 1}])),
        );
        assert_eq!(unknown.unwrap_err().scim_type, "invalidPath");
    }

    #[test]
    fn value_filters_replace_add_and_remove() {
        let r = run(
            user(),
            req(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.jp"}])),
        )
        .unwrap();
        assert_eq!(
            r["emails"],
            json!([{"value": "b@x.jp", "type": "work", "primary": true}])
        );
        let r = run(
            json!({"userName": "x"}),
            req(
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "c@x.jp"}]),
            ),
        )
        .unwrap();
        assert_eq!(r["emails"], json!([{"type": "work", "value": "c@x.jp"}]));
        let g = json!({"displayName": "g", "members": [{"value": "u1"}, {"value": "u2"}]});
        let r = run(
            g,
            req(json!([{"op": "Remove", "path": "members[value eq \"u1\"]"}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "u2"}]));
    }

    #[test]
    fn members_are_added_without_duplicates_and_removed_by_a_value_list() {
        let g = json!({"displayName": "g", "members": [{"value": "u1"}]});
        let r = run(
            g,
            req(json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}])),
        )
        .unwrap();
        assert_eq!(
            r["members"],
            json!([{"value": "u1"}, {"value": "u2"}, {"value": "u3"}])
        );
        let r = run(
            r,
            req(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "u2"}]));
        let r = run(
            r,
            req(json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "u9"}]));
        let r = run(r, req(json!([{"op": "remove", "path": "members"}]))).unwrap();
        assert!(r.get("members").is_none());
        // A member added to a group without any.
        let r = run(
            json!({"displayName": "g"}),
            req(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}])),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value": "u1"}]));
    }

    #[test]
    fn malformed_requests_are_refused_with_their_scim_type() {
        let cases = [
            (
                json!({"Operations": [{"op": "add", "path": "x", "value": 1}]}),
                "invalidSyntax",
            ),
            (req(json!([])), "invalidSyntax"),
            (
                req(json!([{"op": "move", "path": "x", "value": 1}])),
                "invalidSyntax",
            ),
            (req(json!([{"op": "remove"}])), "noTarget"),
            (req(json!([{"op": "add", "path": "x"}])), "invalidValue"),
            (
                req(json!([{"op": "replace", "value": "x"}])),
                "invalidValue",
            ),
            (
                req(json!([{"op": "add", "path": "emails[type eq", "value": 1}])),
                "invalidPath",
            ),
            (
                req(json!([{"op": "add", "path": 7, "value": 1}])),
                "invalidPath",
            ),
            (
                req(
                    json!([{"op": "replace", "path": "emails[type ne \"x\"].value", "value": "v"}]),
                ),
                "noTarget",
            ),
        ];
        for (body, want) in cases {
            let got = run(json!({"userName": "u"}), body.clone());
            assert_eq!(got.map_err(|e| e.scim_type), Err(want), "{body}");
        }
        let many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op": "add", "path": "x", "value": 1}))
            .collect();
        assert!(run(user(), req(json!(many))).is_err());
    }
}
