//! `/scim/v2/Users`: a Kanri user as a SCIM User.
//!
//! - `userName` is the e-mail address, or the login id of a user without one; `emails` holds the address
//!   (as `work`, primary). Creating or replacing with a `userName` that is an address sets the address; one
//!   that is not sets the login id, and the address then comes from `emails` (primary, else `work`, else
//!   the first), and `userName` stays the login id (as SCIM sent it) while SCIM names the user so.
//! - Kanri's name is `displayName`, else `name.formatted`, else `familyName givenName`, else `userName`.
//!   The name's parts, `externalId` and the enterprise extension's `employeeNumber` and `department` are
//!   kept as sent.
//! - `active` is the user's status: `false` disables (no login, no seat), `true` enables (takes a seat).
//!   Strings `"True"`/`"False"` (Entra ID) are read as booleans. It is required (absent from a POST or PUT:
//!   `true`); a PATCH cannot remove it.
//! - `POST /Users/.search` is `GET /Users` with the query in a SearchRequest body.
//! - PATCH is applied to the user's representation and stored as a PUT would be; it answers 200 with the
//!   user, always.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::filter::{self, get_ci};
use super::{
    CORE_USER, ENTERPRISE, ListQuery, Scim, ScimBody, ScimError, ScimResult, Search, base, patch,
    scim_json,
};
use crate::app::records::user::Status;
use crate::app::scim_tokens::ScimCaller;
use crate::app::users::scim::{self as scim_users, Desired, Extra, ScimUser};
use crate::domain::ids::UserId;
use crate::domain::time::{self, jst_from_unix};
use crate::domain::values::{Email, LoginId, Name};
use crate::http::AppState;

/// A user's SCIM representation.
pub fn to_json(b: &str, u: &ScimUser) -> Value {
    let r = &u.user;
    // A user SCIM provisioned shows its name parts and displayName as sent; any other shows Kanri's name.
    let (formatted, display) = if u.provisioned {
        (u.extra.formatted.clone(), u.extra.display_name.clone())
    } else {
        (Some(r.name.clone()), Some(r.name.clone()))
    };
    let mut name = Map::new();
    if let Some(f) = formatted {
        name.insert("formatted".into(), json!(f));
    }
    if let Some(g) = &u.extra.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &u.extra.family_name {
        name.insert("familyName".into(), json!(f));
    }
    let mut v = json!({
        "schemas": [CORE_USER],
        "id": r.id.to_string(),
        "userName": user_name(u),
        "active": r.status != Status::Disabled,
        "meta": {
            "resourceType": "User",
            "created": jst_from_unix(r.created),
            "lastModified": jst_from_unix(r.updated),
            "location": format!("{b}/Users/{}", r.id),
            "version": format!("W/\"{}\"", r.updated),
        },
    });
    if !name.is_empty() {
        v["name"] = Value::Object(name);
    }
    if let Some(d) = display {
        v["displayName"] = json!(d);
    }
    if let Some(e) = &r.email {
        v["emails"] = if u.provisioned {
            // As SCIM sent it: `type` and `primary` only when it sent them.
            let mut one = json!({"value": e});
            if let Some(t) = &u.extra.email_type {
                one["type"] = json!(t);
            }
            if let Some(p) = &u.extra.email_primary {
                one["primary"] = json!(p == "true");
            }
            json!([one])
        } else {
            json!([{"value": e, "type": "work", "primary": true}])
        };
    }
    if let Some(x) = &u.extra.external_id {
        v["externalId"] = json!(x);
    }
    let mut ent = Map::new();
    if let Some(n) = &u.extra.employee_number {
        ent.insert("employeeNumber".into(), json!(n));
    }
    if let Some(d) = &u.extra.department {
        ent.insert("department".into(), json!(d));
    }
    if !ent.is_empty() {
        v[ENTERPRISE] = Value::Object(ent);
        v["schemas"] = json!([CORE_USER, ENTERPRISE]);
    }
    v
}

/// The address, or the login id of a user without one, or of one SCIM named by its login id.
fn user_name(u: &ScimUser) -> String {
    let r = &u.user;
    let by_login = u.extra.user_name.as_deref() == Some(LOGIN_ID);
    let first = if by_login { &r.login_id } else { &r.email };
    let second = if by_login { &r.email } else { &r.login_id };
    first.clone().or_else(|| second.clone()).unwrap_or_default()
}

/// The value of [`Extra::user_name`] for a user SCIM named by its login id.
const LOGIN_ID: &str = "login_id";

fn opt_str(v: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ScimError::bad(
            "invalidValue",
            format!("{what} must be a string"),
        )),
    }
}

/// `true`, `false`, or Entra ID's `"True"` / `"False"`.
pub fn boolean(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::bad(
            "invalidValue",
            format!("{what} must be a boolean"),
        )),
    }
}

fn bad_value(e: impl std::fmt::Display) -> ScimError {
    ScimError::bad("invalidValue", e.to_string())
}

/// What a User representation asks for.
pub fn desired(v: &Value) -> Result<Desired, ScimError> {
    let user_name = opt_str(get_ci(v, "userName"), "userName")?
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
    let emails = match get_ci(v, "emails") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ScimError::bad("invalidValue", "emails must be a list")),
    };
    let pick = |pred: &dyn Fn(&Value) -> bool| emails.iter().find(|e| pred(e)).cloned();
    let chosen =
        pick(&|e| get_ci(e, "primary").is_some_and(|p| boolean(p, "primary").unwrap_or(false)))
            .or_else(|| {
                pick(&|e| {
                    get_ci(e, "type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                })
            })
            .or_else(|| emails.first().cloned());
    let (listed_email, email_type, email_primary) = match &chosen {
        Some(e) => (
            opt_str(get_ci(e, "value"), "emails.value")?,
            opt_str(get_ci(e, "type"), "emails.type")?,
            match get_ci(e, "primary") {
                None | Some(Value::Null) => None,
                Some(p) => Some(boolean(p, "emails.primary")?.to_string()),
            },
        ),
        None => (None, None, None),
    };
    let (email, login_id) = if user_name.contains('@') {
        (
            Some(Email::parse(&user_name).map_err(|e| bad_value(e.message))?),
            None,
        )
    } else {
        let l = LoginId::parse(&user_name)
            .map_err(|e| bad_value(format!("userName: {}", e.message)))?;
        let e = listed_email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| bad_value(e.message))?;
        (e, Some(l))
    };
    let name_obj = match get_ci(v, "name") {
        None | Some(Value::Null) => None,
        Some(n @ Value::Object(_)) => Some(n),
        Some(_) => return Err(ScimError::bad("invalidValue", "name must be an object")),
    };
    let part = |p: &str| opt_str(name_obj.and_then(|n| get_ci(n, p)), &format!("name.{p}"));
    let given = part("givenName")?;
    let family = part("familyName")?;
    let formatted = part("formatted")?;
    let display = opt_str(get_ci(v, "displayName"), "displayName")?;
    let joined = match (&family, &given) {
        (Some(f), Some(g)) => Some(format!("{f} {g}")),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    };
    let name_text = display
        .clone()
        .or(formatted.clone())
        .or(joined)
        .unwrap_or_else(|| user_name.clone());
    let name = Name::parse("name", &name_text).map_err(|e| bad_value(e.message))?;
    let active = match get_ci(v, "active") {
        None | Some(Value::Null) => true,
        Some(a) => boolean(a, "active")?,
    };
    let ent = get_ci(v, ENTERPRISE);
    let extra = Extra {
        external_id: opt_str(get_ci(v, "externalId"), "externalId")?,
        given_name: given,
        family_name: family,
        employee_number: opt_str(
            ent.and_then(|e| get_ci(e, "employeeNumber")),
            "employeeNumber",
        )?,
        department: opt_str(ent.and_then(|e| get_ci(e, "department")), "department")?,
        display_name: display,
        formatted,
        email_type,
        email_primary,
        user_name: login_id.is_some().then(|| LOGIN_ID.to_owned()),
    };
    Ok(Desired {
        name,
        email,
        login_id,
        active,
        extra,
    })
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    UserId::parse(id).ok_or_else(|| ScimError::not_found("user"))
}

fn created(b: &str, u: &ScimUser) -> Response {
    let body = to_json(b, u);
    let mut resp = scim_json(StatusCode::CREATED, &body);
    if let Ok(loc) = HeaderValue::from_str(&format!("{b}/Users/{}", u.user.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// Keeps (`attributes`) or drops (`excludedAttributes`) the named attributes of a representation; `id`,
/// `schemas` and `meta.resourceType` are always returned.
pub fn project(
    v: &mut Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Result<(), ScimError> {
    let names = |raw: &str| -> Result<Vec<filter::AttrPath>, ScimError> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| filter::parse_path(s).map_err(|e| ScimError::bad("invalidPath", e.0)))
            .collect()
    };
    let always = ["id", "schemas", "meta"];
    let Value::Object(obj) = v else { return Ok(()) };
    if let Some(raw) = attributes.filter(|a| !a.trim().is_empty()) {
        let keep = names(raw)?;
        let mut out = Map::new();
        for (k, val) in obj.iter() {
            if always.iter().any(|a| a.eq_ignore_ascii_case(k)) {
                out.insert(k.clone(), val.clone());
                continue;
            }
            // `urn:…:enterprise:2.0:User` alone names the whole extension object.
            let names_whole = |p: &filter::AttrPath| {
                p.sub.is_none()
                    && p.urn
                        .as_ref()
                        .is_some_and(|u| format!("{u}:{}", p.attr).eq_ignore_ascii_case(k))
            };
            if keep.iter().any(names_whole) {
                out.insert(k.clone(), val.clone());
                continue;
            }
            let wanted: Vec<&filter::AttrPath> = keep
                .iter()
                .filter(|p| match &p.urn {
                    Some(u) if u.eq_ignore_ascii_case(k) => true,
                    Some(u) if !u.to_ascii_lowercase().contains(":core:") => false,
                    _ => p.attr.eq_ignore_ascii_case(k),
                })
                .collect();
            if wanted.is_empty() {
                // `attributes=urn:…:enterprise:2.0:User:department` names the extension object.
                continue;
            }
            let whole = wanted.iter().any(|p| {
                p.sub.is_none() && !p.urn.as_ref().is_some_and(|u| u.eq_ignore_ascii_case(k))
            });
            if whole || !val.is_object() {
                out.insert(k.clone(), val.clone());
                continue;
            }
            let mut part = Map::new();
            if let Value::Object(inner) = val {
                for p in &wanted {
                    let sub = if p.urn.as_ref().is_some_and(|u| u.eq_ignore_ascii_case(k)) {
                        Some(p.attr.as_str())
                    } else {
                        p.sub.as_deref()
                    };
                    if let Some(s) = sub
                        && let Some((ik, iv)) =
                            inner.iter().find(|(ik, _)| ik.eq_ignore_ascii_case(s))
                    {
                        part.insert(ik.clone(), iv.clone());
                    }
                }
            }
            out.insert(k.clone(), Value::Object(part));
        }
        *obj = out;
    }
    if let Some(raw) = excluded {
        for p in names(raw)? {
            let (container, attr) = match &p.urn {
                Some(u) if !u.to_ascii_lowercase().contains(":core:") => {
                    (Some(u.clone()), p.attr.clone())
                }
                _ => (None, p.attr.clone()),
            };
            if container.is_none() && always.iter().any(|a| a.eq_ignore_ascii_case(&attr)) {
                continue;
            }
            if let Some(u) = &container {
                let whole = format!("{u}:{attr}");
                if p.sub.is_none() && obj.keys().any(|k| k.eq_ignore_ascii_case(&whole)) {
                    if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case(&whole)).cloned() {
                        obj.remove(&k);
                    }
                    continue;
                }
            }
            let target = match &container {
                Some(u) => obj
                    .iter_mut()
                    .find(|(k, _)| k.eq_ignore_ascii_case(u))
                    .and_then(|(_, v)| v.as_object_mut()),
                None => Some(&mut *obj),
            };
            let Some(target) = target else { continue };
            match &p.sub {
                None => {
                    if let Some(k) = target
                        .keys()
                        .find(|k| k.eq_ignore_ascii_case(&attr))
                        .cloned()
                    {
                        target.remove(&k);
                    }
                }
                Some(s) => {
                    if let Some(Value::Object(inner)) = target
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&attr))
                        .map(|(_, v)| v)
                        && let Some(k) = inner.keys().find(|k| k.eq_ignore_ascii_case(s)).cloned()
                    {
                        inner.remove(&k);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The users a query's filter matches, as full representations in creation order.
pub async fn matching(s: &AppState, c: &ScimCaller, q: &Search) -> Result<Vec<Value>, ScimError> {
    let b = base(s);
    let f = q.filter.as_ref();
    // `userName eq "…"`, the identity providers' look-up, reads one user by its guard.
    let candidates = match f.and_then(|f| f.eq_value("userName")) {
        Some(login) => scim_users::find_by_login(&s.svc, &c.scope, login)
            .await?
            .into_iter()
            .collect(),
        None => scim_users::all(&s.svc, &c.scope).await?,
    };
    Ok(candidates
        .iter()
        .map(|u| to_json(&b, u))
        .filter(|v| f.is_none_or(|f| filter::eval(f, v)))
        .collect())
}

async fn answer(s: &AppState, c: &ScimCaller, q: Search) -> ScimResult {
    let matched = matching(s, c, &q).await?;
    q.answer(matched, |v| {
        project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())
    })
}

/// `GET /scim/v2/Users`: `filter`, `startIndex` (from 1), `count` (at most [`super::MAX_RESULTS`]), `attributes`,
/// `excludedAttributes`. Stable order: creation.
pub async fn list(
    State(s): State<AppState>,
    Scim(c): Scim,
    Query(q): Query<ListQuery>,
) -> ScimResult {
    answer(&s, &c, Search::from_query(q)?).await
}

/// `POST /scim/v2/Users/.search`: the same query as `GET /scim/v2/Users`, in a SearchRequest body.
pub async fn search(
    State(s): State<AppState>,
    Scim(c): Scim,
    ScimBody(body): ScimBody,
) -> ScimResult {
    answer(&s, &c, Search::from_body(&body)?).await
}

#[derive(Deserialize)]
pub struct OneQuery {
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

pub async fn get(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
    Query(q): Query<OneQuery>,
) -> ScimResult {
    let u = scim_users::load(&s.svc, &c.scope, &user_id(&id)?).await?;
    let mut v = to_json(&base(&s), &u);
    project(
        &mut v,
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )?;
    Ok(scim_json(StatusCode::OK, &v))
}

/// `POST /scim/v2/Users`: 201 with the user; 409 `uniqueness` when the address or login id is taken, 409
/// with a detail when every seat is taken (nothing is created).
pub async fn create(
    State(s): State<AppState>,
    Scim(c): Scim,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let d = desired(&body)?;
    let u = scim_users::create(&s.svc, &c.scope, &c.authority(), d, time::now()).await?;
    Ok(created(&base(&s), &u))
}

pub async fn replace(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let id = user_id(&id)?;
    let d = desired(&body)?;
    let u = scim_users::replace(&s.svc, &c.scope, &c.authority(), &id, d, time::now()).await?;
    Ok(scim_json(StatusCode::OK, &to_json(&base(&s), &u)))
}

/// `PATCH /scim/v2/Users/{id}`: 200 with the user.
pub async fn patch(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let id = user_id(&id)?;
    let ops = patch::parse(&body)?;
    let b = base(&s);
    let old = scim_users::load(&s.svc, &c.scope, &id).await?;
    let before = to_json(&b, &old);
    let mut v = before.clone();
    patch::apply(&mut v, &ops)?;
    // `active` is the account's status, required in Kanri's schema: it is replaced, never unassigned
    // (RFC 7644 §3.5.2: an operation the schema does not allow is an error).
    if get_ci(&v, "active").is_none_or(Value::is_null) {
        return Err(ScimError::bad(
            "invalidValue",
            "active is required (the account's status): replace it with true or false",
        ));
    }
    for read_only in ["id", "meta"] {
        if get_ci(&v, read_only) != get_ci(&before, read_only) {
            return Err(ScimError::bad(
                "mutability",
                format!("{read_only} cannot be changed"),
            ));
        }
    }
    let d = desired(&v)?;
    let u = scim_users::replace_from(&s.svc, &c.scope, &c.authority(), &id, old, d, time::now())
        .await?;
    Ok(scim_json(StatusCode::OK, &to_json(&b, &u)))
}

/// `DELETE /scim/v2/Users/{id}`: immediate and final, as Kanri's deletion (204).
pub async fn delete(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
) -> ScimResult {
    let id = user_id(&id)?;
    crate::app::users::delete(&s.svc, &c.scope, &c.authority(), &id, time::now()).await?;
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_that_is_an_address_is_the_address() {
        let d = desired(&json!({"userName": "Taro@Example.jp", "name": {"givenName": "太郎", "familyName": "山田"}})).unwrap();
        assert_eq!(
            d.email.map(|e| e.as_str().to_owned()).as_deref(),
            Some("Taro@Example.jp")
        );
        assert!(d.login_id.is_none());
        assert_eq!(d.name.as_str(), "山田 太郎");
        assert!(d.active);
        let d = desired(
            &json!({"userName": "yamada", "displayName": "山田", "active": "False",
            "emails": [{"value": "h@x.jp", "type": "home"}, {"value": "w@x.jp", "type": "work"}]}),
        )
        .unwrap();
        assert_eq!(
            d.login_id.map(|l| l.as_str().to_owned()).as_deref(),
            Some("yamada")
        );
        assert_eq!(
            d.email.map(|e| e.as_str().to_owned()).as_deref(),
            Some("w@x.jp")
        );
        assert!(!d.active);
        assert_eq!(d.name.as_str(), "山田");
    }

    #[test]
    fn bad_values_are_scim_errors() {
        for body in [
            json!({}),
            json!({"userName": 7}),
            json!({"userName": "a@b.jp", "active": "maybe"}),
            json!({"userName": "a@b.jp", "emails": "x"}),
            json!({"userName": "not an id!"}),
            json!({"userName": "a@b.jp", "displayName": "\u{200b}"}),
        ] {
            let e = desired(&body)
                .err()
                .unwrap_or_else(|| panic!("{body} must be refused"));
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[test]
    fn attributes_and_excluded_attributes_project_the_representation() {
        let mut v = json!({"schemas": [CORE_USER], "id": "u", "userName": "a", "displayName": "d",
            "name": {"givenName": "g", "familyName": "f"}, "meta": {"resourceType": "User"},
            ENTERPRISE: {"department": "x", "employeeNumber": "1"}});
        let mut a = v.clone();
        project(&mut a, Some("userName,name.givenName"), None).unwrap();
        assert_eq!(
            a,
            json!({"schemas": [CORE_USER], "id": "u", "userName": "a", "name": {"givenName": "g"}, "meta": {"resourceType": "User"}})
        );
        let mut e = v.clone();
        project(&mut e, Some(&format!("{ENTERPRISE}:department")), None).unwrap();
        assert_eq!(e[ENTERPRISE], json!({"department": "x"}));
        let mut w = v.clone();
        project(&mut w, Some(ENTERPRISE), None).unwrap();
        assert_eq!(
            w[ENTERPRISE],
            json!({"department": "x", "employeeNumber": "1"})
        );
        assert!(w.get("userName").is_none());
        let mut x = v.clone();
        project(&mut x, None, Some(ENTERPRISE)).unwrap();
        assert!(x.get(ENTERPRISE).is_none());
        project(&mut v, None, Some("displayName,name.familyName,id")).unwrap();
        assert!(v.get("displayName").is_none());
        assert_eq!(v["name"], json!({"givenName": "g"}));
        assert_eq!(v["id"], "u", "id is always returned");
    }
}
