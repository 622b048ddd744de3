//! SCIM 2.0 (RFC 7643/7644) under `/scim/v2` (issue 18): discovery, Users, Groups, searching by POST
//! (`/.search`). Authenticated by the tenant's
//! SCIM tokens (`app::scim_tokens`), never a session; every answer is `application/scim+json`, every
//! error a SCIM error body (`schemas`, `status` as a string, `scimType`, `detail`), 401 included.
//!
//! A SCIM token acts for its tenant as an organisation admin would on accounts (the identity provider is the
//! organisation's own directory): the target rule lets it act on anyone, the seat limit, the guards and
//! the last org admin still hold, and the operation log names the token as the actor.

pub mod filter;
pub mod groups;
pub mod patch;
pub mod users;

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppError;
use crate::app::scim_tokens::{self, ScimCaller};
use crate::domain::time;
use crate::http::AppState;

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SP_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const CONTENT_TYPE: &str = "application/scim+json";
/// Results one list answer holds at most (`count` beyond it is cut down to it).
pub const MAX_RESULTS: usize = 1000;

/// A SCIM error (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Logged once when answered: an error of ours or of a dependency.
    cause: Option<AppError>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }
}

impl From<AppError> for ScimError {
    fn from(e: AppError) -> Self {
        let (status, scim_type) = match &e {
            AppError::Invalid { .. }
            | AppError::WeakPassword(_)
            | AppError::DeliveryRequiresEmail => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            AppError::Unauthenticated | AppError::InvalidCredentials | AppError::InvalidToken => {
                (StatusCode::UNAUTHORIZED, None)
            }
            AppError::Forbidden(_)
            | AppError::TargetOutranksCaller
            | AppError::RoleOutranksCaller
            | AppError::PasswordChangeRequired
            | AppError::MfaEnrolmentRequired
            | AppError::IpNotAllowed
            | AppError::ContractEnded => (StatusCode::FORBIDDEN, None),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, None),
            AppError::Conflict { code, .. } => match *code {
                "email_taken" | "login_id_taken" | "group_name_taken" => {
                    (StatusCode::CONFLICT, Some("uniqueness"))
                }
                _ => (StatusCode::CONFLICT, None),
            },
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
            AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, None),
            _ if e.is_unavailable() => (StatusCode::SERVICE_UNAVAILABLE, None),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        let detail = match &e {
            AppError::Conflict { code, .. } => format!("{} ({code})", e.public_message()),
            _ => e.public_message(),
        };
        ScimError {
            status,
            scim_type,
            detail,
            cause: Some(e),
        }
    }
}

impl From<filter::Invalid> for ScimError {
    fn from(e: filter::Invalid) -> Self {
        ScimError::bad("invalidFilter", e.0)
    }
}

impl From<patch::Refused> for ScimError {
    fn from(e: patch::Refused) -> Self {
        ScimError::bad(e.scim_type, e.detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        if let Some(c) = &self.cause {
            c.log("SCIM request failed");
        }
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut resp = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kanri-scim\""),
            );
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        resp
    }
}

/// A JSON answer as `application/scim+json`.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

pub type ScimResult = Result<Response, ScimError>;

/// The SCIM route's authorisation: the bearer token must be one of a tenant's SCIM tokens.
pub async fn authorize(state: &AppState, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a SCIM bearer token is required (Authorization: Bearer …)",
        )
        .into_response();
    };
    match scim_tokens::authenticate(&state.svc, &token, time::now()).await {
        Ok(caller) => {
            req.extensions_mut().insert(Arc::new(caller));
            next.run(req).await
        }
        Err(AppError::Unauthenticated) => ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "the SCIM token is unknown or revoked",
        )
        .into_response(),
        Err(e) => ScimError::from(e).into_response(),
    }
}

/// The tenant acting through a SCIM token.
pub struct Scim(pub Arc<ScimCaller>);

impl<S: Send + Sync> FromRequestParts<S> for Scim {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        parts
            .extensions
            .get::<Arc<ScimCaller>>()
            .cloned()
            .map(Scim)
            .ok_or_else(|| {
                ScimError::new(StatusCode::UNAUTHORIZED, None, "authentication required")
            })
    }
}

/// A SCIM request body: a JSON object sent as `application/scim+json` or `application/json`, no key named
/// twice (as the API's bodies).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ScimError> {
        let mime = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != CONTENT_TYPE && mime != "application/json" {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send the body as application/scim+json",
            ));
        }
        let bytes = crate::http::extract::read_body(req, crate::http::extract::BODY_LIMIT)
            .await
            .map_err(|_| {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "the request body is too large",
                )
            })?;
        let v = crate::http::extract::parse_json_object(&bytes)
            .map_err(|e| ScimError::bad("invalidSyntax", format!("malformed JSON: {e}")))?;
        if !v.is_object() {
            return Err(ScimError::bad(
                "invalidSyntax",
                "the body must be a JSON object",
            ));
        }
        Ok(ScimBody(v))
    }
}

/// Where the SCIM endpoints live, for `meta.location`.
pub fn base(state: &AppState) -> String {
    format!(
        "{}/scim/v2",
        state.svc.settings.public_url.trim_end_matches('/')
    )
}

// ---- queries: GET with parameters, POST …/.search with a SearchRequest --------------------------------

pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The query parameters of `GET /Users` and `GET /Groups`.
#[derive(serde::Deserialize)]
pub struct ListQuery {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// A query (RFC 7644 §3.4.2), asked by `GET` parameters or by a `POST …/.search` body (§3.4.3): both
/// answer alike.
pub struct Search {
    pub filter: Option<filter::Filter>,
    /// From 1.
    pub start_index: usize,
    /// At most [`MAX_RESULTS`].
    pub count: usize,
    /// Comma-separated attribute paths, as the query parameters name them.
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// Results a query answers when it does not say (`count`).
pub const DEFAULT_COUNT: i64 = 100;

impl Search {
    fn new(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        attributes: Option<String>,
        excluded_attributes: Option<String>,
    ) -> Result<Self, ScimError> {
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(filter::parse)
            .transpose()?;
        let blank_none = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Ok(Search {
            filter,
            // SCIM reads a startIndex below 1 as 1 and a negative count as 0 (RFC 7644 §3.4.2.4).
            start_index: start_index.unwrap_or(1).max(1) as usize,
            count: count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_RESULTS as i64) as usize,
            attributes: blank_none(attributes),
            excluded_attributes: blank_none(excluded_attributes),
        })
    }

    pub fn from_query(q: ListQuery) -> Result<Self, ScimError> {
        let int = |raw: Option<&str>, what: &str| {
            raw.map(|r| {
                r.trim().parse::<i64>().map_err(|_| {
                    ScimError::bad("invalidValue", format!("{what} must be an integer"))
                })
            })
            .transpose()
        };
        Search::new(
            q.filter.as_deref(),
            int(q.start_index.as_deref(), "startIndex")?,
            int(q.count.as_deref(), "count")?,
            q.attributes,
            q.excluded_attributes,
        )
    }

    /// A SearchRequest body: `schemas` (when sent) names the SearchRequest; `filter` a string;
    /// `startIndex` and `count` integers; `attributes` and `excludedAttributes` lists of attribute paths
    /// (or one comma-separated string). `sortBy` and `sortOrder` are ignored, as sorting is not offered
    /// (`sort.supported` false). Any other member is refused.
    pub fn from_body(v: &Value) -> Result<Self, ScimError> {
        let Value::Object(obj) = v else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "the body must be a JSON object",
            ));
        };
        let mut filter_s = None;
        let mut start = None;
        let mut count = None;
        let mut attributes = None;
        let mut excluded = None;
        for (k, val) in obj {
            let key = k.to_ascii_lowercase();
            let int = |what: &str| match val {
                Value::Null => Ok(None),
                Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| {
                    ScimError::bad("invalidValue", format!("{what} must be an integer"))
                }),
                _ => Err(ScimError::bad(
                    "invalidValue",
                    format!("{what} must be an integer"),
                )),
            };
            let paths = |what: &str| -> Result<Option<String>, ScimError> {
                let bad = || {
                    ScimError::bad(
                        "invalidValue",
                        format!("{what} must be a list of attribute paths"),
                    )
                };
                match val {
                    Value::Null => Ok(None),
                    Value::String(s) => Ok(Some(s.clone())),
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned).ok_or_else(bad))
                        .collect::<Result<Vec<_>, _>>()
                        .map(|v| Some(v.join(","))),
                    _ => Err(bad()),
                }
            };
            match key.as_str() {
                "schemas" => {
                    let names_search = val.as_array().is_some_and(|a| {
                        a.iter().any(|s| {
                            s.as_str()
                                .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST))
                        })
                    });
                    if !names_search {
                        return Err(ScimError::bad(
                            "invalidSyntax",
                            format!("schemas must be [\"{SEARCH_REQUEST}\"]"),
                        ));
                    }
                }
                "filter" => match val {
                    Value::Null => {}
                    Value::String(f) => filter_s = Some(f.clone()),
                    _ => return Err(ScimError::bad("invalidFilter", "filter must be a string")),
                },
                "startindex" => start = int("startIndex")?,
                "count" => count = int("count")?,
                "attributes" => attributes = paths("attributes")?,
                "excludedattributes" => excluded = paths("excludedAttributes")?,
                "sortby" | "sortorder" => {}
                _ => {
                    return Err(ScimError::bad(
                        "invalidSyntax",
                        format!(
                            "unknown member {k:?}: a SearchRequest has schemas, filter, startIndex, count, \
                             attributes, excludedAttributes (sortBy and sortOrder are ignored)"
                        ),
                    ));
                }
            }
        }
        if attributes.is_some() && excluded.is_some() {
            return Err(ScimError::bad(
                "invalidSyntax",
                "attributes and excludedAttributes cannot both be sent",
            ));
        }
        Search::new(filter_s.as_deref(), start, count, attributes, excluded)
    }

    /// The ListResponse of the representations matched (already filtered), paged and projected by `shape`.
    pub fn answer(
        &self,
        matched: Vec<Value>,
        shape: impl Fn(&mut Value) -> Result<(), ScimError>,
    ) -> ScimResult {
        let total = matched.len();
        let mut page: Vec<Value> = matched
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .collect();
        for v in &mut page {
            shape(v)?;
        }
        Ok(scim_json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": total,
                "startIndex": self.start_index,
                "itemsPerPage": page.len(),
                "Resources": page,
            }),
        ))
    }
}

/// `POST /scim/v2/.search`: a query over every resource type (users, then groups, each in creation
/// order); a filter naming an attribute one type lacks matches none of that type.
pub async fn search_all(
    State(s): State<AppState>,
    Scim(c): Scim,
    ScimBody(body): ScimBody,
) -> ScimResult {
    let q = Search::from_body(&body)?;
    let mut matched = users::matching(&s, &c, &q).await?;
    matched.extend(groups::matching(&s, &c, &q).await?);
    q.answer(matched, |v| {
        let is_group = v["meta"]["resourceType"] == "Group";
        if is_group {
            groups::shape(v, &q)
        } else {
            users::project(v, q.attributes.as_deref(), q.excluded_attributes.as_deref())
        }
    })
}

// ---- discovery ------------------------------------------------------------------------------------------

pub async fn service_provider_config(State(s): State<AppState>, _: Scim) -> ScimResult {
    let b = base(&s);
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [SP_CONFIG],
            "documentationUri": "https://github.com/kanri/kanri/blob/main/docs/SCIM.md",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "SCIM token",
                "description": "A bearer token an organisation admin creates with POST /v1/scim-tokens",
                "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{b}/ServiceProviderConfig")},
        }),
    ))
}

fn resource_types(b: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A user of the tenant",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{b}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of the tenant (a department, a team)",
            "schema": groups::CORE_GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{b}/ResourceTypes/Group")},
        }),
    ]
}

fn list_of(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

pub async fn resource_types_list(State(s): State<AppState>, _: Scim) -> ScimResult {
    Ok(scim_json(
        StatusCode::OK,
        &list_of(resource_types(&base(&s))),
    ))
}

pub async fn resource_type_get(
    State(s): State<AppState>,
    _: Scim,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ScimResult {
    resource_types(&base(&s))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found("resource type"))
}

fn attr(
    name: &str,
    ty: &str,
    required: bool,
    case_exact: bool,
    mutability: &str,
    uniqueness: &str,
) -> Value {
    json!({
        "name": name, "type": ty, "multiValued": false, "description": name, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default", "uniqueness": uniqueness,
    })
}

fn schemas(b: &str) -> Vec<Value> {
    let name = json!({
        "name": "name", "type": "complex", "multiValued": false, "description": "The user's name",
        "required": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
        "subAttributes": [
            attr("formatted", "string", false, false, "readWrite", "none"),
            attr("familyName", "string", false, false, "readWrite", "none"),
            attr("givenName", "string", false, false, "readWrite", "none"),
        ],
    });
    let emails = json!({
        "name": "emails", "type": "complex", "multiValued": true,
        "description": "The user's e-mail address (one: Kanri keeps one address)",
        "required": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
        "subAttributes": [
            attr("value", "string", false, false, "readWrite", "none"),
            {"name": "type", "type": "string", "multiValued": false, "description": "work",
             "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default",
             "uniqueness": "none", "canonicalValues": ["work"]},
            attr("primary", "boolean", false, false, "readWrite", "none"),
        ],
    });
    // Every user has a status: `active` is required (a POST or PUT without it means `true`; a PATCH
    // cannot remove it).
    let mut active = attr("active", "boolean", true, false, "readWrite", "none");
    active["description"] = json!("The account's status: false is disabled (no login, no seat)");
    let mut user_name = attr("userName", "string", true, false, "readWrite", "server");
    user_name["description"] = json!("The e-mail address, or the login id of a user without one");
    let user = json!({
        "schemas": [SCHEMA],
        "id": CORE_USER, "name": "User", "description": "User Account",
        "attributes": [
            user_name,
            name,
            attr("displayName", "string", false, false, "readWrite", "none"),
            emails,
            active,
        ],
        "meta": {"resourceType": "Schema", "location": format!("{b}/Schemas/{CORE_USER}")},
    });
    let enterprise = json!({
        "schemas": [SCHEMA],
        "id": ENTERPRISE, "name": "EnterpriseUser", "description": "Enterprise User",
        "attributes": [
            attr("employeeNumber", "string", false, false, "readWrite", "none"),
            attr("department", "string", false, false, "readWrite", "none"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{b}/Schemas/{ENTERPRISE}")},
    });
    let members = json!({
        "name": "members", "type": "complex", "multiValued": true, "description": "The users of the group",
        "required": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
        "subAttributes": [
            {"name": "value", "type": "string", "multiValued": false, "description": "a user id",
             "required": false, "caseExact": true, "mutability": "immutable", "returned": "default", "uniqueness": "none"},
            {"name": "$ref", "type": "reference", "referenceTypes": ["User"], "multiValued": false,
             "description": "the user's URI", "required": false, "caseExact": true, "mutability": "immutable",
             "returned": "default", "uniqueness": "none"},
            {"name": "display", "type": "string", "multiValued": false,
             "description": "the user's name (returned when attributes names members.display, or the request sent it)",
             "required": false, "caseExact": false, "mutability": "readOnly", "returned": "request", "uniqueness": "none"},
            {"name": "type", "type": "string", "multiValued": false, "description": "User",
             "required": false, "caseExact": false, "mutability": "immutable", "returned": "default",
             "uniqueness": "none", "canonicalValues": ["User"]},
        ],
    });
    let group = json!({
        "schemas": [SCHEMA],
        "id": groups::CORE_GROUP, "name": "Group", "description": "Group",
        "attributes": [attr("displayName", "string", true, false, "readWrite", "server"), members],
        "meta": {"resourceType": "Schema", "location": format!("{b}/Schemas/{}", groups::CORE_GROUP)},
    });
    vec![user, enterprise, group]
}

pub async fn schemas_list(State(s): State<AppState>, _: Scim) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &list_of(schemas(&base(&s)))))
}

pub async fn schema_get(
    State(s): State<AppState>,
    _: Scim,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> ScimResult {
    schemas(&base(&s))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found("schema"))
}
