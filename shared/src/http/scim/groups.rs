//! `/scim/v2/Groups`: a Kanri group as a SCIM Group. `displayName` is the group's name (unique in the
//! tenant, compared as Kanri compares names: 409 `uniqueness`); `members` are users of the tenant (`value`
//! the user id, `$ref`, `type`; `display`, the name, on request only). PATCH is applied to the group's
//! representation (Entra's `Remove` of `members` with a value list, `members[value eq "…"]`, Okta's replace
//! of `members`) and stored as a PUT: the name, then the members added and removed in the groups' batched
//! transactions. It answers 200 with the group. `excludedAttributes=members` reads no membership.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::{self, get_ci};
use super::users::project;
use super::{ListQuery, Scim, ScimBody, ScimError, ScimResult, Search, base, patch, scim_json};
use crate::app::scim_groups::{self, ScimGroup};
use crate::app::scim_tokens::ScimCaller;
use crate::domain::ids::GroupId;
use crate::domain::time;
use crate::domain::values::Name;
use crate::http::AppState;

pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

pub fn to_json(b: &str, g: &ScimGroup) -> Value {
    let mut v = json!({
        "schemas": [CORE_GROUP],
        "id": g.group.id.to_string(),
        "displayName": g.group.name,
        "meta": {
            "resourceType": "Group",
            "created": g.group.created_at,
            "lastModified": g.group.updated_at,
            "location": format!("{b}/Groups/{}", g.group.id),
        },
    });
    if let Some(x) = &g.external_id {
        v["externalId"] = json!(x);
    }
    if let Some(m) = &g.members {
        v["members"] = m
            .iter()
            .map(|(id, name)| json!({"value": id, "display": name, "type": "User", "$ref": format!("{b}/Users/{id}")}))
            .collect();
    }
    v
}

/// The name and member ids a Group representation asks for.
fn desired(v: &Value) -> Result<(Name, Vec<String>, Option<String>), ScimError> {
    let external = match get_ci(v, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            return Err(ScimError::bad(
                "invalidValue",
                "externalId must be a string",
            ));
        }
    };
    let name = match get_ci(v, "displayName") {
        Some(Value::String(s)) => {
            Name::parse("displayName", s).map_err(|e| ScimError::bad("invalidValue", e.message))?
        }
        _ => return Err(ScimError::bad("invalidValue", "displayName is required")),
    };
    let members = match get_ci(v, "members") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| match get_ci(m, "value") {
                Some(Value::String(id)) => Ok(id.clone()),
                _ => Err(ScimError::bad(
                    "invalidValue",
                    "each member needs a value (a user id)",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimError::bad("invalidValue", "members must be a list")),
    };
    Ok((name, members, external))
}

fn group_id(id: &str) -> Result<GroupId, ScimError> {
    GroupId::parse(id).ok_or_else(|| ScimError::not_found("group"))
}

/// Whether an answer shows `members` (not when excluded, nor when `attributes` leaves them out).
fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let names = |raw: &str| {
        raw.split(',')
            .map(|s| {
                s.trim()
                    .rsplit(':')
                    .next()
                    .unwrap_or("")
                    .split('.')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase()
            })
            .collect::<Vec<_>>()
    };
    if excluded.is_some_and(|e| names(e).iter().any(|n| n == "members")) {
        return false;
    }
    match attributes.filter(|a| !a.trim().is_empty()) {
        Some(a) => names(a).iter().any(|n| n == "members"),
        None => true,
    }
}

/// Whether `attributes` asks for the members' `display` (returned on request only).
fn wants_display(attributes: Option<&str>) -> bool {
    attributes.is_some_and(|a| {
        a.split(',').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            let p = p
                .strip_prefix(&format!("{}:", CORE_GROUP.to_ascii_lowercase()))
                .unwrap_or(&p);
            p == "members.display"
        })
    })
}

/// Drops the members' `display` (the user's name), which the schema returns only on request: when a
/// query's `attributes` names `members.display`, or when a write sent `display` with its members.
fn drop_display(v: &mut Value) {
    if let Some(Value::Array(members)) = v.get_mut("members") {
        for m in members {
            if let Value::Object(o) = m {
                o.remove("display");
            }
        }
    }
}

/// Whether a representation sent by a client carries a member's `display`.
fn sent_display(v: &Value) -> bool {
    get_ci(v, "members")
        .and_then(Value::as_array)
        .is_some_and(|ms| ms.iter().any(|m| get_ci(m, "display").is_some()))
}

/// A group of a query's answer as the query asks: `display` on request, then `attributes` or
/// `excludedAttributes`.
pub fn shape(v: &mut Value, q: &Search) -> Result<(), ScimError> {
    if !wants_display(q.attributes.as_deref()) {
        drop_display(v);
    }
    project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())
}

/// The groups a query's filter matches, as full representations in creation order (with their members
/// unless the query leaves them out and does not filter on them).
pub async fn matching(s: &AppState, c: &ScimCaller, q: &Search) -> Result<Vec<Value>, ScimError> {
    let f = q.filter.as_ref();
    // A filter on members needs them even when the answer leaves them out.
    let filter_on_members = f.is_some_and(|f| f.names("members"));
    let with_members = filter_on_members
        || wants_members(q.attributes.as_deref(), q.excluded_attributes.as_deref());
    let b = base(s);
    let candidates = match f.and_then(|f| f.eq_value("displayName")) {
        Some(name) => scim_groups::by_name(&s.svc, &c.scope, name, with_members)
            .await?
            .into_iter()
            .collect(),
        None => scim_groups::all(&s.svc, &c.scope, with_members).await?,
    };
    Ok(candidates
        .iter()
        .map(|g| to_json(&b, g))
        .filter(|v| f.is_none_or(|f| filter::eval(f, v)))
        .collect())
}

async fn answer(s: &AppState, c: &ScimCaller, q: Search) -> ScimResult {
    let matched = matching(s, c, &q).await?;
    q.answer(matched, |v| shape(v, &q))
}

pub async fn list(
    State(s): State<AppState>,
    Scim(c): Scim,
    Query(q): Query<ListQuery>,
) -> ScimResult {
    answer(&s, &c, Search::from_query(q)?).await
}

/// `POST /scim/v2/Groups/.search`: the same query as `GET /scim/v2/Groups`, in a SearchRequest body.
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
    let with = wants_members(q.attributes.as_deref(), q.excluded_attributes.as_deref());
    let g = scim_groups::load(&s.svc, &c.scope, &group_id(&id)?, with).await?;
    let mut v = to_json(&base(&s), &g);
    if !wants_display(q.attributes.as_deref()) {
        drop_display(&mut v);
    }
    project(
        &mut v,
        q.attributes.as_deref(),
        q.excluded_attributes.as_deref(),
    )?;
    Ok(scim_json(StatusCode::OK, &v))
}

pub async fn create(
    State(s): State<AppState>,
    Scim(c): Scim,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let (name, members, external) = desired(&body)?;
    let g = scim_groups::create(
        &s.svc,
        &c.scope,
        &c.actor(),
        name,
        members,
        external,
        time::now(),
    )
    .await?;
    let b = base(&s);
    let mut resp = scim_json(StatusCode::CREATED, &written(&b, &g, sent_display(&body)));
    if let Ok(loc) = HeaderValue::from_str(&format!("{b}/Groups/{}", g.group.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

pub async fn replace(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let id = group_id(&id)?;
    let (name, members, external) = desired(&body)?;
    let g = scim_groups::replace(
        &s.svc,
        &c.scope,
        &c.actor(),
        &id,
        name,
        members,
        external,
        time::now(),
    )
    .await?;
    Ok(scim_json(
        StatusCode::OK,
        &written(&base(&s), &g, sent_display(&body)),
    ))
}

/// `PATCH /scim/v2/Groups/{id}`: 200 with the group.
pub async fn patch(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let id = group_id(&id)?;
    let ops = patch::parse(&body)?;
    let b = base(&s);
    let loaded = scim_groups::load(&s.svc, &c.scope, &id, true).await?;
    let old = to_json(&b, &loaded);
    let mut v = old.clone();
    patch::apply(&mut v, &ops)?;
    for read_only in ["id", "meta"] {
        if get_ci(&v, read_only) != get_ci(&old, read_only) {
            return Err(ScimError::bad(
                "mutability",
                format!("{read_only} cannot be changed"),
            ));
        }
    }
    let (name, members, external) = desired(&v)?;
    let g = scim_groups::replace_from(
        &s.svc,
        &c.scope,
        &c.actor(),
        loaded,
        name,
        members,
        external,
        time::now(),
    )
    .await?;
    let display = get_ci(&body, "Operations")
        .and_then(Value::as_array)
        .is_some_and(|ops| {
            ops.iter()
                .filter_map(|op| get_ci(op, "value"))
                .any(|val| match val {
                    Value::Array(ms) => ms.iter().any(|m| get_ci(m, "display").is_some()),
                    other => sent_display(other),
                })
        });
    Ok(scim_json(StatusCode::OK, &written(&b, &g, display)))
}

/// The answer to a write: the group, its members' `display` only when the request sent some.
fn written(b: &str, g: &ScimGroup, display: bool) -> Value {
    let mut v = to_json(b, g);
    if !display {
        drop_display(&mut v);
    }
    v
}

pub async fn delete(
    State(s): State<AppState>,
    Scim(c): Scim,
    Path(id): Path<String>,
) -> ScimResult {
    let id = group_id(&id)?;
    crate::app::groups::delete(&s.svc, &c.scope, &c.actor(), &id, time::now()).await?;
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_unless_left_out() {
        assert!(wants_members(None, None));
        assert!(!wants_members(None, Some("members")));
        assert!(!wants_members(Some("displayName"), None));
        assert!(wants_members(Some("displayName,members.value"), None));
        assert!(!wants_members(
            None,
            Some("urn:ietf:params:scim:schemas:core:2.0:Group:members")
        ));
    }

    #[test]
    fn a_group_needs_a_name_and_members_with_values() {
        assert!(desired(&json!({"members": []})).is_err());
        assert!(desired(&json!({"displayName": "g", "members": [{"display": "x"}]})).is_err());
        assert!(desired(&json!({"displayName": "g", "members": "x"})).is_err());
        let (n, m, x) = desired(
            &json!({"DISPLAYNAME": "営業部", "members": [{"value": "u1"}], "externalId": "e-1"}),
        )
        .unwrap();
        assert_eq!(
            (n.as_str(), m, x.as_deref()),
            ("営業部", vec!["u1".to_owned()], Some("e-1"))
        );
    }
}
