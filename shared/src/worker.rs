//! The worker of background tasks ([`Task`]): the SQS-triggered Lambda function in AWS, and in the local
//! server a loop that drains the local queue (kept in the embedded store) or polls SQS on the AWS backend.
//! All three run the same [`run_task`]; tasks are idempotent, so a redelivery or retry does no harm.
//!
//! A task is leased while it runs ([`LEASE`]: the local queue's lease, SQS's visibility timeout) and the
//! lease is extended every [`HEARTBEAT`]; a worker that dies stops extending it, so its task is taken
//! again within [`LEASE`] (at once by the local server after a restart).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use crate::adapters::aws::SqsQueue;
use crate::adapters::embedded::queue::{Leased, LocalQueue};
use crate::app::{AppError, Services, auth, imports::job as import_jobs, notices};
use crate::domain::time;
use crate::ports::Task;

/// Deliveries of a task in the local queue before it goes to the dead-letter table (SQS counts its own
/// receives, then its dead-letter queue takes the message).
pub const MAX_ATTEMPTS: u32 = 5;
/// Tasks the local worker runs at once.
const CONCURRENCY: usize = 4;
/// How long a task stays leased to its worker without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often a running task's lease is extended.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// The longest a task runs in the local server before it counts as failed (a Lambda worker is stopped by
/// its function timeout, 300 s in template.yaml).
pub const MAX_RUN: Duration = Duration::from_secs(15 * 60);

/// The queue behind [`Services::queue`], for the worker that drains it (wired with the services by
/// [`crate::wiring::wire`]).
#[derive(Clone)]
pub enum TaskSource {
    /// The local server's queue, kept in the embedded store (in memory on the AWS backend without SQS)
    /// and drained in this process by `crate::worker::start`.
    InProcess(Arc<LocalQueue>),
    /// SQS: the worker Lambda receives its messages; the local server on the AWS backend polls it.
    Sqs(Arc<SqsQueue>),
}

impl TaskSource {
    pub fn queue(&self) -> Arc<dyn crate::ports::TaskQueue> {
        match self {
            TaskSource::InProcess(q) => q.clone(),
            TaskSource::Sqs(q) => q.clone(),
        }
    }
}

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
        Task::PasswordReset { tenant, guard } => {
            auth::send_reset(svc, tenant, guard, now).await?;
        }
    }
    Ok(())
}

/// Starts this process's worker in the background: the local queue's drain loop, or an SQS poller.
pub fn start(svc: Arc<Services>, tasks: TaskSource) {
    match tasks {
        TaskSource::InProcess(queue) => {
            tokio::spawn(drain(svc, queue));
        }
        TaskSource::Sqs(queue) => {
            tokio::spawn(poll(svc, queue));
        }
    }
}

/// The local queue's drain loop: up to [`CONCURRENCY`] tasks at once, each leased and kept alive by a
/// heartbeat while it runs.
async fn drain(svc: Arc<Services>, queue: Arc<LocalQueue>) {
    // Tasks leased by a process that is gone (a crash, kill -9) come back at once.
    match queue.release_all().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(tasks = n, "queued tasks resumed"),
        Err(e) => tracing::error!(error = %e, "queued tasks not released"),
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let leased = match queue.take(1 + slots.available_permits(), LEASE).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "taking tasks failed");
                drop(first);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if leased.is_empty() {
            drop(first);
            // Woken by a new task; a retry that falls due is found by the next look.
            queue.wait(Duration::from_millis(500)).await;
            continue;
        }
        let mut permits = vec![first];
        while permits.len() < leased.len() {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        for (l, permit) in leased.into_iter().zip(permits) {
            let (svc, queue) = (svc.clone(), queue.clone());
            tokio::spawn(async move {
                run_leased(&svc, &queue, l).await;
                drop(permit);
            });
        }
    }
}

async fn run_leased(svc: &Services, queue: &LocalQueue, mut l: Leased) {
    let task = match &l.task {
        Ok(t) => t.clone(),
        Err(e) => {
            tracing::error!(error = %e, "unreadable task moved to the dead-letter table");
            if let Err(e) = queue.bury(&l, e).await {
                tracing::error!(error = %e, "unreadable task not moved");
            }
            return;
        }
    };
    let result = {
        let run = tokio::time::timeout(MAX_RUN, run_task(svc, &task));
        tokio::pin!(run);
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.tick().await;
        loop {
            tokio::select! {
                r = &mut run => break r,
                _ = beat.tick() => match queue.extend(&mut l, LEASE).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(?task, "task lease lost; another run may take it"),
                    Err(e) => tracing::error!(error = %e, ?task, "task lease not extended"),
                },
            }
        }
    };
    let failure = match result {
        Ok(Ok(())) => {
            if let Err(e) = queue.done(&l).await {
                tracing::error!(error = %e, ?task, "finished task not removed; it runs again");
            }
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("the task ran longer than {} s", MAX_RUN.as_secs()),
    };
    if l.attempts >= MAX_ATTEMPTS {
        tracing::error!(error = %failure, ?task, attempts = l.attempts, "task moved to the dead-letter table after its last attempt");
        if let Err(e) = queue.bury(&l, &failure).await {
            tracing::error!(error = %e, "failed task not moved");
        }
        return;
    }
    tracing::warn!(error = %failure, ?task, attempts = l.attempts, "task failed; retrying");
    if let Err(e) = queue.retry(&l, backoff(l.attempts)).await {
        tracing::error!(error = %e, "failed task not put back; it comes back when its lease ends");
    }
}

/// One message of an SQS batch: its id, the handle to extend and delete it with, its body.
struct Message {
    id: String,
    receipt: Option<String>,
    task: Result<Task, String>,
}

/// Runs a batch of SQS messages one after the other, the ones not handled yet kept invisible by a
/// heartbeat; returns the ids of those that failed (they come back within the lease).
async fn run_batch(svc: &Services, queue: Option<&SqsQueue>, messages: &[Message]) -> Vec<String> {
    let pending: Mutex<Vec<String>> =
        Mutex::new(messages.iter().filter_map(|m| m.receipt.clone()).collect());
    let receipts = || pending.lock().map(|p| p.clone()).unwrap_or_default();
    let forget = |receipt: &Option<String>| {
        if let (Some(r), Ok(mut p)) = (receipt, pending.lock()) {
            p.retain(|x| x != r);
        }
    };
    let work = async {
        let mut failed = vec![];
        for m in messages {
            let ok = match &m.task {
                Ok(task) => match run_task(svc, task).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, ?task, message = %m.id, "task failed; SQS redelivers it");
                        false
                    }
                },
                Err(e) => {
                    // After its receives run out it lands in the dead-letter queue, where it can be read.
                    tracing::error!(error = %e, message = %m.id, "unreadable task message");
                    false
                }
            };
            forget(&m.receipt);
            if !ok {
                failed.push(m.id.clone());
            }
        }
        failed
    };
    let Some(queue) = queue else {
        return work.await;
    };
    // The lease starts now, whatever the queue's own visibility timeout.
    if let Err(e) = queue.extend(&receipts()).await {
        tracing::error!(error = %e, "task messages' visibility not shortened");
    }
    tokio::pin!(work);
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    loop {
        tokio::select! {
            failed = &mut work => return failed,
            _ = beat.tick() => {
                let r = receipts();
                if !r.is_empty() && let Err(e) = queue.extend(&r).await {
                    tracing::error!(error = %e, "task messages' visibility not extended");
                }
            }
        }
    }
}

/// The local server's SQS poller, the stand-in for the worker Lambda's event source.
async fn poll(svc: Arc<Services>, queue: Arc<SqsQueue>) {
    loop {
        // Short polls, a second apart when idle: a long poll would hold an emulator that serves one
        // request at a time.
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
        let messages: Vec<Message> = received
            .into_iter()
            .map(|r| Message {
                id: r.receipt.clone(),
                receipt: Some(r.receipt),
                task: r.task.map_err(|e| e.to_string()),
            })
            .collect();
        let failed = run_batch(&svc, Some(&queue), &messages).await;
        for m in &messages {
            // Failed ones are left in the queue: they come back when their lease ends. An unreadable
            // one is dropped here (the Lambda path leaves it to the dead-letter queue).
            if (m.task.is_err() || !failed.contains(&m.id))
                && let Some(r) = &m.receipt
                && let Err(e) = queue.delete(r).await
            {
                tracing::error!(error = %e, "handled task message not deleted");
            }
        }
    }
}

/// 1 s, 2 s, 4 s, ... up to a minute.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// Handles an SQS event (the Lambda event source mapping's batch) and answers which messages failed, so
/// SQS redelivers only those (`ReportBatchItemFailures`). The batch's messages are kept invisible by a
/// heartbeat while it runs, so those of a crashed invocation come back within [`LEASE`].
pub async fn handle_sqs_event(
    svc: &Services,
    queue: Option<&SqsQueue>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let messages: Vec<Message> = event
        .records
        .into_iter()
        .map(|record| Message {
            id: record.message_id.unwrap_or_default(),
            receipt: record.receipt_handle,
            task: serde_json::from_str::<Task>(record.body.as_deref().unwrap_or_default())
                .map_err(|e| e.to_string()),
        })
        .collect();
    let failed = run_batch(svc, queue, &messages).await;
    let mut answer = SqsBatchResponse::default();
    answer.set_failures(failed);
    answer
}

/// The worker Lambda function.
pub async fn run_lambda() -> Result<(), lambda_runtime::Error> {
    let wired = crate::lambda::start().await?;
    let svc = Arc::new(wired.services);
    // The queue whose messages the batch holds, to keep them leased while they run.
    let queue = match wired.tasks {
        TaskSource::Sqs(q) => Some(q),
        TaskSource::InProcess(_) => None,
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (svc, queue) = (svc.clone(), queue.clone());
        async move {
            Ok::<SqsBatchResponse, lambda_runtime::Error>(
                handle_sqs_event(&svc, queue.as_deref(), event.payload).await,
            )
        }
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
