//! Scheduled jobs as Lambda functions: EventBridge invokes them with its event, whose `time` is the job's
//! `now`; the report is the function's result, and a failure is an error Lambda retries.

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::app::{AppError, Services, retention, uploads};
use crate::domain::time;

#[derive(Clone, Copy, Debug)]
pub enum Job {
    Backup,
    Purge,
    CleanupUploads,
}

/// The time of the EventBridge event, or now.
fn event_time(event: &Value) -> ::time::OffsetDateTime {
    event
        .get("time")
        .and_then(Value::as_str)
        .and_then(time::parse_rfc3339)
        .unwrap_or_else(time::now)
}

pub async fn run_once(svc: &Services, job: Job, event: &Value) -> Result<Value, AppError> {
    let now = event_time(event);
    Ok(match job {
        Job::Backup => json!(retention::backup(svc, now).await?),
        Job::Purge => json!(retention::purge(svc, now, retention::PURGE_BUDGET).await?),
        Job::CleanupUploads => json!({"deleted": uploads::cleanup(svc, now).await?}),
    })
}

pub async fn run(job: Job) -> Result<(), lambda_runtime::Error> {
    let svc = std::sync::Arc::new(crate::lambda::start().await?.services);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let svc = svc.clone();
        async move {
            let report = run_once(&svc, job, &event.payload).await;
            match report {
                Ok(r) => {
                    tracing::info!(job = ?job, report = %r, "job done");
                    Ok::<Value, lambda_runtime::Error>(r)
                }
                Err(e) => {
                    tracing::error!(job = ?job, error = %e, "job failed");
                    Err(Box::new(e) as lambda_runtime::Error)
                }
            }
        }
    }))
    .await
}
