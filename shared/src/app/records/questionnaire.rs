//! Questionnaires as stored: the questions, respondents and responses, sealed as JSON, read whole, and the
//! items that archive one.

use serde::{Deserialize, Serialize};

use crate::app::layout::{self, attr};
use crate::app::{AppError, Scope, Services};
use crate::crypto::TenantKey;
use crate::domain::ids::TenantId;
use crate::domain::time::jst_from_unix;
use crate::ports::{Item, Query, Table, Value};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Question {
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Respondent {
    pub name: String,
    pub email: String,
    pub company: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    /// `None` once the tenant was purged: the respondent's personal data is gone.
    pub respondent: Option<Respondent>,
    pub answers: Vec<String>,
    pub submitted_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Questionnaire {
    pub id: String,
    pub title: String,
    pub questions: Vec<Question>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<Vec<Response>>,
}

pub(crate) fn seal_json<T: Serialize>(
    key: &TenantKey,
    ctx: &str,
    v: &T,
) -> Result<Value, AppError> {
    let text = serde_json::to_string(v).map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(Value::B(key.seal(ctx, &text)))
}

pub(crate) fn open_json<T: for<'de> Deserialize<'de>>(
    key: &TenantKey,
    ctx: &str,
    item: &Item,
    name: &str,
) -> Result<T, AppError> {
    let text = key.open(ctx, item.b(name).unwrap_or_default())?;
    serde_json::from_str(&text).map_err(|e| AppError::Internal(Box::new(e)))
}

pub(crate) fn head(scope: &Scope, item: &Item) -> Result<Questionnaire, AppError> {
    let id = item
        .sk
        .strip_prefix(layout::QUESTIONNAIRE_PREFIX)
        .unwrap_or_default()
        .to_owned();
    let ctx = scope.context(&id, "questionnaire");
    Ok(Questionnaire {
        title: open_json(&scope.key, &ctx, item, attr::TITLE)?,
        questions: open_json(&scope.key, &ctx, item, attr::QUESTIONS)?,
        created_at: jst_from_unix(item.n(attr::CREATED).unwrap_or(0)),
        responses: None,
        id,
    })
}

/// Every questionnaire of a live tenant, with responses.
pub async fn all(svc: &Services, scope: &Scope) -> Result<Vec<Questionnaire>, AppError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), layout::QUESTIONNAIRE_PREFIX)
                    .after(after)
                    .limit(200),
            )
            .await?;
        for item in &page.items {
            let mut q = head(scope, item)?;
            q.responses = Some(responses(svc, scope, &q.id).await?);
            out.push(q);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The anonymised copy the purge keeps: questions and answers, no respondent, sealed under the log key.
/// Split across items so none exceeds [`MAX_STORED_BYTES`] of JSON: the questionnaire (sort key: its id),
/// then its responses packed into items `<id>#R<nnnnn>`.
pub fn archive_items(
    tenant: &TenantId,
    log_key: &TenantKey,
    q: &Questionnaire,
) -> Result<Vec<Item>, AppError> {
    let head = Questionnaire {
        responses: None,
        ..q.clone()
    };
    let seal = |sk: String, v: &dyn ErasedJson| -> Result<Item, AppError> {
        let ctx = format!("{tenant}/archive/{sk}");
        let text = v.json()?;
        Ok(Item::new(layout::archive_pk(tenant), sk)
            .with(attr::RESPONSES, Value::B(log_key.seal(&ctx, &text))))
    };
    let mut items = vec![seal(q.id.clone(), &head)?];
    let mut part: Vec<Response> = Vec::new();
    let mut used = 2;
    for r in q.responses.iter().flatten() {
        let r = Response {
            respondent: None,
            ..r.clone()
        };
        let n = json_len(&r)? + 1;
        if !part.is_empty() && used + n > MAX_STORED_BYTES {
            let sk = format!("{}#R{:05}", q.id, items.len());
            items.push(seal(sk, &std::mem::take(&mut part))?);
            used = 2;
        }
        used += n;
        part.push(r);
    }
    if !part.is_empty() {
        let sk = format!("{}#R{:05}", q.id, items.len());
        items.push(seal(sk, &part)?);
    }
    Ok(items)
}

/// Most bytes of JSON one stored part may hold: a questionnaire's title and questions, a response's
/// respondent and answers, one item of the purge's archive. DynamoDB items hold at most 400 KB; this leaves
/// room for the seal and the other attributes.
pub const MAX_STORED_BYTES: usize = 300_000;

pub(crate) fn json_len<T: Serialize>(v: &T) -> Result<usize, AppError> {
    serde_json::to_string(v)
        .map(|s| s.len())
        .map_err(|e| AppError::Internal(Box::new(e)))
}

pub(crate) async fn responses(
    svc: &Services,
    scope: &Scope,
    id: &str,
) -> Result<Vec<Response>, AppError> {
    let prefix = layout::responses_prefix(id);
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), prefix.clone())
                    .after(after)
                    .limit(500),
            )
            .await?;
        for item in &page.items {
            let rid = item.sk.strip_prefix(&prefix).unwrap_or_default().to_owned();
            let ctx = scope.context(&rid, "response");
            out.push(Response {
                respondent: Some(open_json(&scope.key, &ctx, item, attr::RESPONDENT)?),
                answers: open_json(&scope.key, &ctx, item, attr::ANSWERS)?,
                submitted_at: jst_from_unix(item.n(attr::CREATED).unwrap_or(0)),
                id: rid,
            });
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Serialises to JSON behind a trait object (the head and the response parts differ in type).
pub(crate) trait ErasedJson {
    fn json(&self) -> Result<String, AppError>;
}

impl<T: Serialize> ErasedJson for T {
    fn json(&self) -> Result<String, AppError> {
        serde_json::to_string(self).map_err(|e| AppError::Internal(Box::new(e)))
    }
}
