//! The operation log and the mail log, for the tenant (feature audit_log) and for the operator.

use axum::Json as Out;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::logs::{self, Window};
use crate::app::paging::PageRequest;
use crate::domain::ids::TenantId;
use crate::domain::time::parse_rfc3339;
use crate::http::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Caller, Params, PathId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    limit: Option<String>,
    cursor: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl LogQuery {
    /// The window, page size and cursor the query asks for; 400 naming the field that is wrong.
    fn read(&self) -> ApiResult<(Window, PageRequest)> {
        let parse = |field: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    parse_rfc3339(s).ok_or_else(|| ApiError {
                        field: Some(field),
                        ..ApiError::invalid(format!(
                            "{field} must be an RFC 3339 time, e.g. 2026-11-26T09:00:00+09:00"
                        ))
                    })
                })
                .transpose()
        };
        let window = Window {
            from: parse("from", &self.from)?,
            to: parse("to", &self.to)?,
        };
        Ok((
            window,
            PageRequest::parse(self.limit.as_deref(), self.cursor.as_deref())?,
        ))
    }
}

async fn audit_page(s: &AppState, tenant: &TenantId, q: LogQuery) -> ApiResult<Out<Value>> {
    let (w, req) = q.read()?;
    Ok(Out(json!(logs::audit(&s.svc, tenant, &w, req).await?)))
}

pub async fn audit(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<LogQuery>,
) -> ApiResult<Out<Value>> {
    audit_page(&s, &p.scope.tenant, q).await
}

pub async fn mail(
    State(s): State<AppState>,
    Caller(p): Caller,
    Params(q): Params<LogQuery>,
) -> ApiResult<Out<Value>> {
    let (w, req) = q.read()?;
    Ok(Out(json!(
        logs::mail(&s.svc, &p.scope.tenant, &w, req).await?
    )))
}

/// The operator reads a tenant's operation log, also after the tenant's data was purged.
pub async fn ops_audit(
    State(s): State<AppState>,
    PathId(tenant): PathId<TenantId>,
    Params(q): Params<LogQuery>,
) -> ApiResult<Out<Value>> {
    audit_page(&s, &tenant, q).await
}
