//! The worker of background tasks ([`Task`]): the SQS-triggered Lambda function in AWS, and in the local
//! server a loop that drains the in-process queue (or polls SQS on the AWS backend). All three run the same
//! [`run_task`]; tasks are idempotent, so a redelivery or retry does no harm.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::app::{AppError, Services, TaskSource, import_jobs, notices};
use crate::domain::time;
use crate::ports::Task;

/// Attempts of a task in the in-process queue before it is dropped (SQS counts its own, then the
/// dead-letter queue takes the message).
pub const MAX_ATTEMPTS: u32 = 5;
/// Tasks the local worker runs at once.
const CONCURRENCY: usize = 4;

pub async fn run_task(svc: &Services, task: &Task) -> Result<(), AppError> {
    let now = time::now();
    match task {
        Task::NoticeFanout { notice } => {
            let tenants = notices::fan_out(svc, notice, now).await?;
            tracing::info!(notice, tenants, "notice queued per tenant");
        }
        Task::NoticeMails {
            notice,
            tenant,
            after,
        } => {
            let r = notices::mail_page(svc, notice, tenant, after.clone(), now).await?;
            tracing::info!(
                notice,
                tenant,
                sent = r.sent,
                skipped = r.skipped,
                "notice mails sent"
            );
        }
        Task::Import { tenant, import } => {
            let r = import_jobs::run(svc, tenant, import, import_jobs::ROWS_PER_TASK, now).await?;
            tracing::info!(
                import,
                tenant,
                processed = r.processed,
                finished = r.finished,
                "import ran"
            );
        }
    }
    Ok(())
}

/// Starts this process's worker in the background: the in-process queue's drain loop, or an SQS poller.
pub fn start(svc: Arc<Services>) {
    match svc.tasks.clone() {
        TaskSource::InProcess(queue) => {
            let Some(mut rx) = queue.take_receiver() else {
                return;
            };
            let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
            tokio::spawn(async move {
                while let Some((task, failures)) = rx.recv().await {
                    let Ok(slot) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let (svc, queue) = (svc.clone(), queue.clone());
                    let _running = tokio::spawn(async move {
                        let result = run_task(&svc, &task).await;
                        drop(slot);
                        if let Err(e) = result {
                            let failures = failures + 1;
                            if failures >= MAX_ATTEMPTS {
                                tracing::error!(error = %e, ?task, failures, "task dropped after its last attempt");
                                return;
                            }
                            tracing::warn!(error = %e, ?task, failures, "task failed; retrying");
                            tokio::time::sleep(backoff(failures)).await;
                            if let Err(e) = queue.requeue(task, failures) {
                                tracing::error!(error = %e, "task not requeued");
                            }
                        }
                    });
                }
            });
        }
        TaskSource::Sqs(queue) => {
            let _poller = tokio::spawn(async move {
                loop {
                    // Short polls, a second apart when idle: this poller is the local server's stand-in for
                    // the worker Lambda's event source, and a long poll would hold an emulator that serves
                    // one request at a time.
                    let received = match queue.receive(0).await {
                        Ok(r) if r.is_empty() => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                        Ok(r) => r,
                        Err(e) => {
                            tracing::error!(error = %e, "polling the task queue failed");
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            continue;
                        }
                    };
                    for m in received {
                        let done = match &m.task {
                            Ok(task) => match run_task(&svc, task).await {
                                Ok(()) => true,
                                Err(e) => {
                                    // Left in the queue: it comes back after its visibility timeout.
                                    tracing::warn!(error = %e, ?task, "task failed; SQS redelivers it");
                                    false
                                }
                            },
                            Err(e) => {
                                tracing::error!(error = %e, "unreadable task message dropped");
                                true
                            }
                        };
                        if done && let Err(e) = queue.delete(&m.receipt).await {
                            tracing::error!(error = %e, "handled task message not deleted");
                        }
                    }
                }
            });
        }
    }
}

/// 1 s, 2 s, 4 s, ... up to a minute.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// Handles an SQS event (the Lambda event source mapping's batch) and answers which messages failed, so
/// SQS redelivers only those (`ReportBatchItemFailures`).
pub async fn handle_sqs_event(svc: &Services, event: &Value) -> Value {
    let mut failures = vec![];
    for record in event["Records"].as_array().into_iter().flatten() {
        let id = record["messageId"].as_str().unwrap_or_default();
        let body = record["body"].as_str().unwrap_or_default();
        let ok = match serde_json::from_str::<Task>(body) {
            Ok(task) => match run_task(svc, &task).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, ?task, message = id, "task failed; SQS redelivers it");
                    false
                }
            },
            Err(e) => {
                // After its receives run out it lands in the dead-letter queue, where it can be read.
                tracing::error!(error = %e, message = id, "unreadable task message");
                false
            }
        };
        if !ok {
            failures.push(json!({"itemIdentifier": id}));
        }
    }
    json!({"batchItemFailures": failures})
}

/// The worker Lambda function.
pub async fn run_lambda() -> Result<(), lambda_runtime::Error> {
    let svc = crate::jobs::lambda_services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let svc = svc.clone();
        async move { Ok::<Value, lambda_runtime::Error>(handle_sqs_event(&svc, &event.payload).await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(20), Duration::from_secs(60));
    }

    #[test]
    fn task_json_is_the_queue_message_body() {
        let t = Task::NoticeMails {
            notice: "N1".into(),
            tenant: "T1".into(),
            after: None,
        };
        let body = serde_json::to_string(&t).unwrap();
        assert_eq!(
            body,
            r#"{"task":"notice_mails","notice":"N1","tenant":"T1","after":null}"#
        );
        assert_eq!(serde_json::from_str::<Task>(&body).unwrap(), t);
        assert!(serde_json::from_str::<Task>(r#"{"task":"nope"}"#).is_err());
    }
}
