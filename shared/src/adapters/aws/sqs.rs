//! The SQS task queue: `SendMessageBatch` in tens to queue; the worker Lambda receives the messages through
//! its event source mapping, and the local server on the AWS backend polls with `ReceiveMessage`.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::ports::{QueueError, Task, TaskQueue};

/// SQS accepts at most ten messages per batch.
const BATCH: usize = 10;

pub struct SqsQueue {
    client: Client,
    url: String,
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

impl SqsQueue {
    pub fn new(client: Client, url: String) -> Self {
        SqsQueue { client, url }
    }

    /// Up to ten messages, waiting at most `wait_seconds` for the first (long polling).
    pub async fn receive(&self, wait_seconds: i32) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .map_err(|e| err("ReceiveMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
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

    /// Removes a message that was handled.
    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| err("DeleteMessage", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
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
                .map_err(|e| {
                    err(
                        "SendMessageBatch",
                        aws_sdk_sqs::error::DisplayErrorContext(e),
                    )
                })?;
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
