//! The SQS task queue: `SendMessageBatch` in tens to queue; the worker Lambda receives the messages through
//! its event source mapping, and the local server on the AWS backend polls with `ReceiveMessage`.
//!
//! A message being worked on is invisible for [`LEASE`] only, and the worker extends that every
//! `crate::worker::HEARTBEAT` while the task runs (`ChangeMessageVisibility`): a worker that crashes
//! leaves its tasks to be taken again within a minute, not after the queue's visibility timeout.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, SendMessageBatchRequestEntry};

use crate::ports::{QueueError, Task, TaskQueue};

/// SQS accepts at most ten messages per batch.
const BATCH: usize = 10;

/// How long a received message stays invisible without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(60);

pub struct SqsQueue {
    client: Client,
    url: String,
    lease: Duration,
}

/// A received message: the handle to delete it with, and its task (or why it could not be read).
pub struct Received {
    pub receipt: String,
    pub task: Result<Task, serde_json::Error>,
}

fn err(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError {
        message: format!("SQS {what}: {e}"),
        source: None,
    }
}

fn sdk_err<E>(what: &str, e: aws_sdk_sqs::error::SdkError<E>) -> QueueError
where
    E: std::error::Error + aws_sdk_sqs::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    let message = format!(
        "SQS {what}: {}",
        aws_sdk_sqs::error::DisplayErrorContext(&e)
    );
    let source: Option<Box<dyn std::error::Error + Send + Sync>> =
        super::is_transient(&e).then(|| Box::new(crate::ports::Unavailable(message.clone())) as _);
    QueueError { message, source }
}

impl SqsQueue {
    pub fn new(client: Client, url: String) -> Self {
        SqsQueue {
            client,
            url,
            lease: LEASE,
        }
    }

    /// The same queue with another lease (tests that wait for a lease to run out).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a message being worked on stays invisible without a heartbeat.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn lease_seconds(&self) -> i32 {
        i32::try_from(self.lease.as_secs().max(1)).unwrap_or(43_200)
    }

    /// Up to ten messages, waiting at most `wait_seconds` for the first (long polling), each invisible
    /// to other receivers for the lease.
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .visibility_timeout(self.lease_seconds())
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .map_err(|e| sdk_err("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receipt = m.receipt_handle?;
                let task = serde_json::from_str(m.body.as_deref().unwrap_or_default());
                Some(Received { receipt, task })
            })
            .collect())
    }

    /// Sets the messages' visibility timeout to the lease from now: the heartbeat of running tasks, and
    /// the first thing the worker Lambda does with a batch (the queue's own timeout is at least the
    /// function's timeout, as the event source mapping requires).
    pub async fn extend(&self, receipts: &[String]) -> Result<(), QueueError> {
        for chunk in receipts.chunks(BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, r) in chunk.iter().enumerate() {
                entries.push(
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .visibility_timeout(self.lease_seconds())
                        .build()
                        .map_err(|e| err("batch entry", e))?,
                );
            }
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_err("ChangeMessageVisibilityBatch", e))?;
            if let Some(f) = out.failed.first() {
                return Err(err(
                    "ChangeMessageVisibilityBatch",
                    format!(
                        "{} of {} refused, e.g. {}: {}",
                        out.failed.len(),
                        chunk.len(),
                        f.code,
                        f.message.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Removes a message that was handled.
    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_err("DeleteMessage", e))?;
        Ok(())
    }
}

#[async_trait]
impl TaskQueue for SqsQueue {
    async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), QueueError> {
        for chunk in tasks.chunks(BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, t) in chunk.iter().enumerate() {
                let body = serde_json::to_string(t).map_err(|e| err("message body", e))?;
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .map_err(|e| err("batch entry", e))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk_err("SendMessageBatch", e))?;
            if let Some(f) = out.failed.first() {
                return Err(err(
                    "SendMessageBatch",
                    format!(
                        "{} of {} messages refused, e.g. {}: {}",
                        out.failed.len(),
                        chunk.len(),
                        f.code,
                        f.message.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }
}
