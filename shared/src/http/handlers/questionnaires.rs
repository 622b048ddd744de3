//! Supply-chain questionnaires of the caller's tenant.

use axum::Json as Out;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::questionnaires::{self, Question, Respondent};
use crate::domain::ids::QuestionnaireId;
use crate::domain::time;
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{Caller, Json, PathId};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewQuestionnaireBody {
    title: String,
    questions: Vec<QuestionBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionBody {
    text: String,
}

pub async fn create(
    State(s): State<AppState>,
    Caller(p): Caller,
    Json(b): Json<NewQuestionnaireBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let questions = b
        .questions
        .into_iter()
        .map(|q| Question { text: q.text })
        .collect();
    let q = questionnaires::create(
        &s.svc,
        &p.scope,
        &p.actor(),
        b.title,
        questions,
        time::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Out(json!(q))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    respondent: RespondentBody,
    answers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondentBody {
    name: String,
    email: String,
    company: String,
}

pub async fn respond(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<QuestionnaireId>,
    Json(b): Json<ResponseBody>,
) -> ApiResult<(StatusCode, Out<Value>)> {
    let r = b.respondent;
    let respondent = Respondent {
        name: r.name,
        email: r.email,
        company: r.company,
    };
    let resp = questionnaires::respond(
        &s.svc,
        &p.scope,
        &p.actor(),
        &id,
        respondent,
        b.answers,
        time::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Out(json!(resp))))
}

pub async fn get(
    State(s): State<AppState>,
    Caller(p): Caller,
    PathId(id): PathId<QuestionnaireId>,
) -> ApiResult<Out<Value>> {
    Ok(Out(json!(
        questionnaires::get(&s.svc, &p.scope, &id).await?
    )))
}
