//! `/scim/v2/Groups`: a Kanri group as a SCIM Group. `displayName` is the group's name (unique in the
//! tenant, compared as Kanri compares names: 409 `uniqueness`); `members` are users (`value` the user id,
//! `display` the name). PATCH is applied to the group's representation (Entra's `Remove` of `members` with a
//! value list, `members[value eq "…"]`, Okta's replace of `members`) and stored as a PUT: the name, then the
//! members added and removed in the groups' batched transactions. It answers 200 with the group.
//! `excludedAttributes=members` reads no membership.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::{self, get_ci};
use super::users::project;
use super::{
    LIST_RESPONSE, MAX_RESULTS, Scim, ScimBody, ScimError, ScimResult, base, patch, scim_json,
};
use crate::app::scim_groups::{self, ScimGroup};
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

#[derive(Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

fn int(raw: Option<&str>, what: &str) -> Result<Option<i64>, ScimError> {
    raw.map(|r| {
        r.trim()
            .parse::<i64>()
            .map_err(|_| ScimError::bad("invalidValue", format!("{what} must be an integer")))
    })
    .transpose()
}

pub async fn list(
    State(s): State<AppState>,
    Scim(c): Scim,
    Query(q): Query<ListQuery>,
) -> ScimResult {
    let f = q
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(filter::parse)
        .transpose()?;
    let start = int(q.start_index.as_deref(), "startIndex")?
        .unwrap_or(1)
        .max(1) as usize;
    let count = int(q.count.as_deref(), "count")?
        .unwrap_or(100)
        .clamp(0, MAX_RESULTS as i64) as usize;
    // A filter on members needs them even when the answer leaves them out.
    let filter_on_members = q
        .filter
        .as_deref()
        .is_some_and(|f| f.to_ascii_lowercase().contains("members"));
    let with_members = filter_on_members
        || wants_members(q.attributes.as_deref(), q.excluded_attributes.as_deref());
    let b = base(&s);
    let candidates = match f.as_ref().and_then(|f| f.eq_value("displayName")) {
        Some(name) => scim_groups::by_name(&s.svc, &c.scope, name, with_members)
            .await?
            .into_iter()
            .collect(),
        None => scim_groups::all(&s.svc, &c.scope, with_members).await?,
    };
    let matched: Vec<Value> = candidates
        .iter()
        .map(|g| to_json(&b, g))
        .filter(|v| f.as_ref().is_none_or(|f| filter::eval(f, v)))
        .collect();
    let total = matched.len();
    let mut page: Vec<Value> = matched.into_iter().skip(start - 1).take(count).collect();
    for v in &mut page {
        project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())?;
    }
    Ok(scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start, "itemsPerPage": page.len(), "Resources": page}),
    ))
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
    let mut resp = scim_json(StatusCode::CREATED, &to_json(&b, &g));
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
    Ok(scim_json(StatusCode::OK, &to_json(&base(&s), &g)))
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
    let old = to_json(&b, &scim_groups::load(&s.svc, &c.scope, &id, true).await?);
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
    Ok(scim_json(StatusCode::OK, &to_json(&b, &g)))
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
