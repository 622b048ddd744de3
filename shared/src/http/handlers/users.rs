//! Users of the caller's tenant.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::app::paging::PageRequest;
use crate::app::records::user;
use crate::app::records::user::{Delivery, NewUser, Patch, UserChanges};
use crate::app::users;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::time;
use crate::domain::values::{Email, LoginId, Name};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Csv, Json, Params, PathId, row_failures};
use crate::http::handlers::{IdsBody, deletion_report, too_many};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    name: String,
    email: Option<String>,
    login_id: Option<String>,
    delivery: Delivery,
    role_id: Option<String>,
    #[serde(default)]
    group_ids: Vec<String>,
}

pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewUserBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    if b.group_ids.len() > user::MAX_GROUPS_ON_CREATE {
        let max = user::MAX_GROUPS_ON_CREATE;
        return Err(ApiError {
            field: Some("group_ids"),
            ..ApiError::invalid(format!(
                "at most {max} groups; add more with POST /v1/groups/{{id}}/members"
            ))
        });
    }
    let mut group_ids = Vec::new();
    for g in &b.group_ids {
        let id = GroupId::parse(g).ok_or_else(|| ApiError {
            field: Some("group_ids"),
            ..ApiError::invalid(format!("no group with id {g:?}"))
        })?;
        if !group_ids.contains(&id) {
            group_ids.push(id);
        }
    }
    let new = NewUser {
        name: Name::parse("name", &b.name)?,
        email: b.email.as_deref().map(Email::parse).transpose()?,
        login_id: b.login_id.as_deref().map(LoginId::parse).transpose()?,
        delivery: b.delivery,
        role_id: b.role_id,
        org_admin: false,
        group_ids,
    };
    let c = users::create(&s.svc, &p.scope, &p.authority(), new, time::now()).await?;
    let mut body = json!({"user": c.user.view()});
    if let Some(pw) = c.initial_password {
        body["initial_password"] = json!(pw.expose_secret());
    }
    Ok((StatusCode::CREATED, Out(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    q: Option<String>,
    group_id: Option<String>,
    status: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ListQuery>,
) -> ApiResult<Out<Value>> {
    let req = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None => None,
        Some(v) => Some(user::Status::parse(v).ok_or_else(|| ApiError {
            field: Some("status"),
            ..ApiError::invalid("status is one of invited, active, disabled")
        })?),
    };
    let page = match q.group_id.as_deref() {
        Some(g) => {
            if q.q.is_some() || status.is_some() {
                return Err(ApiError::invalid(
                    "q and status cannot be combined with group_id",
                ));
            }
            let gid = GroupId::parse(g).ok_or_else(|| ApiError::not_found("group"))?;
            crate::app::groups::members(&s.svc, &p.scope, &gid, req).await?
        }
        None => users::list_filtered(&s.svc, &p.scope, req, q.q.as_deref(), status).await?,
    };
    Ok(Out(json!(page.map(|u| u.view()))))
}

pub async fn get(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Out<Value>> {
    let u = user::load(&s.svc, &p.scope, &id).await?;
    Ok(Out(json!(u.view())))
}

/// Absent → keep, `null` → clear, value → set.
fn patch_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChangesBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "patch_field")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch_field")]
    login_id: Option<Option<String>>,
}

pub async fn update(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
    Json(b): Json<UserChangesBody>,
) -> ApiResult<Out<Value>> {
    let changes = UserChanges {
        name: b
            .name
            .as_deref()
            .map(|n| Name::parse("name", n))
            .transpose()?,
        email: match b.email {
            None => Patch::Keep,
            Some(None) => Patch::Clear,
            Some(Some(e)) => Patch::Set(Email::parse(&e)?),
        },
        login_id: match b.login_id {
            None => Patch::Keep,
            Some(None) => Patch::Clear,
            Some(Some(l)) => Patch::Set(LoginId::parse(&l)?),
        },
    };
    let u = users::update(&s.svc, &p.scope, &p.authority(), &id, changes, time::now()).await?;
    Ok(Out(json!(u.view())))
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<StatusCode> {
    users::delete(&s.svc, &p.scope, &p.authority(), &id, time::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user: no login, no seat, sessions and links revoked (`users::set_disabled`).
pub async fn disable(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Out<Value>> {
    let u = users::set_disabled(&s.svc, &p.scope, &p.authority(), &id, true, time::now()).await?;
    Ok(Out(json!(u.view())))
}

/// Enables a disabled user again, taking a seat (409 `seat_limit_reached` when none is free).
pub async fn enable(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
) -> ApiResult<Out<Value>> {
    let u = users::set_disabled(&s.svc, &p.scope, &p.authority(), &id, false, time::now()).await?;
    Ok(Out(json!(u.view())))
}

/// Deletes each id in turn (`users::delete_many`), reporting every failure.
pub async fn bulk_delete(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<IdsBody>,
) -> ApiResult<Out<Value>> {
    too_many("ids", b.ids.len())?;
    let (deleted, failed) =
        users::delete_many(&s.svc, &p.scope, &p.authority(), b.ids, time::now()).await;
    Ok(deletion_report(deleted, failed))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    delivery: Delivery,
}

/// A new invitation link (202) or a new generated password, shown once (200).
pub async fn credentials(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<UserId>,
    Json(b): Json<CredentialsBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    match crate::app::users::reissue(
        &s.svc,
        &p.scope,
        &p.authority(),
        &id,
        b.delivery,
        time::now(),
    )
    .await?
    {
        crate::app::users::Reissued::Mailed => Ok((StatusCode::ACCEPTED, Out(json!({})))),
        crate::app::users::Reissued::Generated(pw) => Ok((
            StatusCode::OK,
            Out(json!({"initial_password": pw.expose_secret()})),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    delivery: Option<Delivery>,
}

/// Registers users from a CSV file (`name,email,login_id,role,groups`); invalid rows are reported by line.
pub async fn import(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<ImportQuery>,
    Csv(bytes): Csv,
) -> ApiResult<Out<Value>> {
    let delivery = q.delivery.unwrap_or(Delivery::InviteLink);
    let report = crate::app::imports::import_users(
        &s.svc,
        &p.scope,
        &p.authority(),
        &bytes,
        delivery,
        time::now(),
    )
    .await?;
    let users: Vec<Value> = report
        .users
        .iter()
        .map(|u| {
            let mut v = json!({"line": u.line, "id": u.id, "login": u.login});
            if let Some(pw) = &u.initial_password {
                v["initial_password"] = json!(pw.expose_secret());
            }
            v
        })
        .collect();
    Ok(Out(
        json!({"created": report.created, "failed": row_failures(report.failed), "users": users}),
    ))
}
