//! Notices: the list every user reads, the operator's publishing and list, and the caller's subscriptions.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::notices::{self, Kind, NewNotice, Notice, Subscriptions};
use crate::app::paging::PageRequest;
use crate::domain::time::{self, parse_rfc3339};
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Json, Params};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    kind: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn page(
    s: &AppState,
    q: NoticeQuery,
    operator: bool,
    render: fn(&Notice) -> Value,
) -> ApiResult<Out<Value>> {
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            Kind::parse(k).ok_or_else(|| ApiError {
                field: Some("kind"),
                ..ApiError::invalid("kind must be release or incident")
            })
        })
        .transpose()?;
    let req = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref())?;
    let page = notices::list(&s.svc, kind, req, operator).await?;
    Ok(Out(json!(page.map(|n| render(&n)))))
}

pub async fn list(
    State(s): State<AppState>,
    Params(q): Params<NoticeQuery>,
) -> ApiResult<Out<Value>> {
    page(&s, q, false, |n| json!(n.view())).await
}

pub async fn ops_list(
    State(s): State<AppState>,
    Params(q): Params<NoticeQuery>,
) -> ApiResult<Out<Value>> {
    page(&s, q, true, |n| json!(n.ops_view())).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNoticeBody {
    kind: Kind,
    title: String,
    body: String,
    occurred_at: Option<String>,
}

pub async fn publish(
    State(s): State<AppState>,
    Json(b): Json<NewNoticeBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let occurred = b
        .occurred_at
        .as_deref()
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| ApiError {
                field: Some("occurred_at"),
                ..ApiError::invalid(
                    "occurred_at must be an RFC 3339 time, e.g. 2026-11-26T09:00:00+09:00",
                )
            })
        })
        .transpose()?;
    let new = NewNotice {
        kind: b.kind,
        title: b.title,
        body: b.body,
        occurred,
    };
    let n = notices::publish(&s.svc, new, time::now()).await?;
    Ok((StatusCode::CREATED, Out(json!(n.ops_view()))))
}

pub async fn subscriptions(
    State(s): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Out<Subscriptions>> {
    Ok(Out(
        notices::subscriptions(&s.svc, &p.scope, &p.user.id).await?
    ))
}

pub async fn subscribe(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<Subscriptions>,
) -> ApiResult<Out<Subscriptions>> {
    Ok(Out(notices::subscribe(&s.svc, &p, b, time::now()).await?))
}
