//! Supply-chain questionnaires: questions, and answers from respondents (suppliers). Everything is sealed
//! under the tenant's data key; the purge keeps questions and answers anonymised under the log key.

use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
pub use crate::app::records::questionnaire::{
    MAX_STORED_BYTES, Question, Questionnaire, Respondent, Response, all, archive_items,
};
use crate::app::records::questionnaire::{head, json_len, open_json, responses, seal_json};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{QuestionnaireId, TenantId, new_id};
use crate::domain::time::jst_from_unix;
use crate::ports::{Item, Query, Table, Value, Write};

pub const MAX_QUESTIONS: usize = 200;
pub const MAX_TEXT: usize = 4000;

/// Refuses what would not fit one stored item, naming the field.
fn check_stored_size(field: &'static str, what: &str, bytes: usize) -> Result<(), AppError> {
    if bytes > MAX_STORED_BYTES {
        return Err(AppError::invalid(
            field,
            format!(
                "{what} may hold at most {MAX_STORED_BYTES} bytes of text (as UTF-8 JSON); this one has {bytes}"
            ),
        ));
    }
    Ok(())
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
    check_stored_size(
        "questions",
        "a questionnaire's title and questions together",
        json_len(&title)? + json_len(&questions)?,
    )?;
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

async fn load_head(
    svc: &Services,
    scope: &Scope,
    id: &QuestionnaireId,
) -> Result<Questionnaire, AppError> {
    let item = svc
        .store
        .get(
            Table::Data,
            &scope.pk(),
            &layout::questionnaire_sk(id.as_str()),
        )
        .await?
        .ok_or(AppError::NotFound("questionnaire"))?;
    head(scope, &item)
}

pub async fn respond(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &QuestionnaireId,
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
    check_stored_size(
        "answers",
        "a response (answers and respondent together)",
        json_len(&respondent)? + json_len(&answers)?,
    )?;
    let rid = new_id();
    let ctx = scope.context(&rid, "response");
    let item = Item::new(scope.pk(), layout::response_sk(id.as_str(), &rid))
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
            sk: layout::questionnaire_sk(id.as_str()),
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
            target_id: id.as_str(),
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

pub async fn get(
    svc: &Services,
    scope: &Scope,
    id: &QuestionnaireId,
) -> Result<Questionnaire, AppError> {
    let mut q = load_head(svc, scope, id).await?;
    q.responses = Some(responses(svc, scope, id.as_str()).await?);
    Ok(q)
}

/// The anonymised questionnaires of a purged tenant, put together from their archive items.
pub async fn archived(svc: &Services, tenant: &TenantId) -> Result<Vec<Questionnaire>, AppError> {
    let key = svc.log_key(tenant).await?;
    let mut out: Vec<Questionnaire> = Vec::new();
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
            let ctx = format!("{tenant}/archive/{}", item.sk);
            match item.sk.split_once("#R") {
                // A part of the responses of the questionnaire before it (sort keys keep them together).
                Some((qid, _)) => {
                    let part: Vec<Response> = open_json(&key, &ctx, item, attr::RESPONSES)?;
                    if let Some(q) = out.last_mut().filter(|q| q.id == qid) {
                        q.responses.get_or_insert_with(Vec::new).extend(part);
                    }
                }
                None => {
                    let mut q: Questionnaire = open_json(&key, &ctx, item, attr::RESPONSES)?;
                    q.responses.get_or_insert_with(Vec::new);
                    out.push(q);
                }
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}
