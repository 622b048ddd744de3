//! Supply-chain questionnaires: questions, and answers from respondents (suppliers). Everything is sealed
//! under the tenant's data key; the purge keeps questions and answers anonymised under the log key.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto::TenantKey;
use crate::domain::ids::{TenantId, new_id};
use crate::domain::time::jst_from_unix;
use crate::ports::{Item, Query, Table, Value, Write};

pub const MAX_QUESTIONS: usize = 200;
pub const MAX_TEXT: usize = 4000;

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

fn seal_json<T: Serialize>(key: &TenantKey, ctx: &str, v: &T) -> Result<Value, AppError> {
    let text = serde_json::to_string(v).map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(Value::B(key.seal(ctx, &text)))
}

fn open_json<T: for<'de> Deserialize<'de>>(
    key: &TenantKey,
    ctx: &str,
    item: &Item,
    name: &str,
) -> Result<T, AppError> {
    let text = key.open(ctx, item.b(name).unwrap_or_default())?;
    serde_json::from_str(&text).map_err(|e| AppError::Internal(Box::new(e)))
}

fn check_text(field: &'static str, s: &str) -> Result<(), AppError> {
    if s.trim().is_empty() || s.chars().count() > MAX_TEXT {
        return Err(AppError::invalid(
            field,
            format!("{field} must be 1 to {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

pub async fn create(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    title: String,
    questions: Vec<Question>,
    now: OffsetDateTime,
) -> Result<Questionnaire, AppError> {
    check_text("title", &title)?;
    if questions.is_empty() || questions.len() > MAX_QUESTIONS {
        return Err(AppError::invalid(
            "questions",
            format!("a questionnaire has 1 to {MAX_QUESTIONS} questions"),
        ));
    }
    for q in &questions {
        check_text("questions", &q.text)?;
    }
    let id = new_id();
    let ctx = scope.context(&id, "questionnaire");
    let item = Item::new(scope.pk(), layout::questionnaire_sk(&id))
        .with(attr::TITLE, seal_json(&scope.key, &ctx, &title)?)
        .with(attr::QUESTIONS, seal_json(&scope.key, &ctx, &questions)?)
        .with(attr::CREATED, Value::N(now.unix_timestamp()));
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.push(Write::put_new(Table::Data, item));
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "questionnaire.create",
            target_type: "questionnaire",
            target_id: &id,
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(Questionnaire {
        id,
        title,
        questions,
        created_at: jst_from_unix(now.unix_timestamp()),
        responses: None,
    })
}

async fn load_head(svc: &Services, scope: &Scope, id: &str) -> Result<Questionnaire, AppError> {
    if !crate::domain::ids::looks_like_id(id) {
        return Err(AppError::NotFound("questionnaire"));
    }
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::questionnaire_sk(id))
        .await?
        .ok_or(AppError::NotFound("questionnaire"))?;
    head(scope, &item)
}

fn head(scope: &Scope, item: &Item) -> Result<Questionnaire, AppError> {
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

pub async fn respond(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    respondent: Respondent,
    answers: Vec<String>,
    now: OffsetDateTime,
) -> Result<Response, AppError> {
    let q = load_head(svc, scope, id).await?;
    if answers.len() != q.questions.len() {
        return Err(AppError::invalid(
            "answers",
            format!(
                "{} answers for {} questions",
                answers.len(),
                q.questions.len()
            ),
        ));
    }
    for a in &answers {
        if a.chars().count() > MAX_TEXT {
            return Err(AppError::invalid(
                "answers",
                format!("an answer is at most {MAX_TEXT} characters"),
            ));
        }
    }
    check_text("respondent.name", &respondent.name)?;
    crate::domain::values::Email::parse(&respondent.email)?;
    check_text("respondent.company", &respondent.company)?;
    let rid = new_id();
    let ctx = scope.context(&rid, "response");
    let item = Item::new(scope.pk(), layout::response_sk(id, &rid))
        .with(attr::RESPONDENT, seal_json(&scope.key, &ctx, &respondent)?)
        .with(attr::ANSWERS, seal_json(&scope.key, &ctx, &answers)?)
        .with(attr::CREATED, Value::N(now.unix_timestamp()));
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut tx = Tx::new();
    tx.push(Write::put_new(Table::Data, item));
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::questionnaire_sk(id),
            cond: crate::ports::Cond::Exists,
        },
        || AppError::NotFound("questionnaire"),
    );
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "questionnaire.respond",
            target_type: "questionnaire",
            target_id: id,
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(Response {
        id: rid,
        respondent: Some(respondent),
        answers,
        submitted_at: jst_from_unix(now.unix_timestamp()),
    })
}

async fn responses(svc: &Services, scope: &Scope, id: &str) -> Result<Vec<Response>, AppError> {
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

pub async fn get(svc: &Services, scope: &Scope, id: &str) -> Result<Questionnaire, AppError> {
    let mut q = load_head(svc, scope, id).await?;
    q.responses = Some(responses(svc, scope, id).await?);
    Ok(q)
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
pub fn archive_item(
    tenant: &TenantId,
    log_key: &TenantKey,
    q: &Questionnaire,
) -> Result<Item, AppError> {
    let anonymised = Questionnaire {
        responses: q.responses.as_ref().map(|rs| {
            rs.iter()
                .map(|r| Response {
                    respondent: None,
                    ..r.clone()
                })
                .collect()
        }),
        ..q.clone()
    };
    let ctx = format!("{tenant}/archive/{}", q.id);
    Ok(Item::new(layout::archive_pk(tenant), q.id.clone())
        .with(attr::RESPONSES, seal_json(log_key, &ctx, &anonymised)?))
}

/// The anonymised questionnaires of a purged tenant.
pub async fn archived(svc: &Services, tenant: &TenantId) -> Result<Vec<Questionnaire>, AppError> {
    let key = svc.log_key(tenant).await?;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Log, layout::archive_pk(tenant), "")
                    .after(after)
                    .limit(200),
            )
            .await?;
        for item in &page.items {
            out.push(open_json(
                &key,
                &format!("{tenant}/archive/{}", item.sk),
                item,
                attr::RESPONSES,
            )?);
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}
