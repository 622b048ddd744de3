//! The task queue port: work that runs after the request that caused it (SQS in AWS, an in-process queue
//! locally). Delivery is at least once, so every task is idempotent.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A unit of background work. The JSON form is the SQS message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case", deny_unknown_fields)]
pub enum Task {
    /// Queue one `NoticeMails` task per active tenant.
    NoticeFanout { notice: String },
    /// Mail one page of a tenant's subscribers of a notice's kind, starting after `after` (a subscription
    /// sort key), and queue the next page.
    NoticeMails {
        notice: String,
        tenant: String,
        after: Option<String>,
    },
    /// Run (or resume) a background import; it queues itself again while rows remain.
    Import { tenant: String, import: String },
    /// Mail a password-reset link to the user a login guard item (`guard`, its sort key: a blind index, so
    /// no address waits in the queue) points at, if there is one.
    PasswordReset { tenant: String, guard: String },
}

#[derive(Debug, thiserror::Error)]
#[error("task could not be queued: {message}")]
pub struct QueueError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[async_trait]
pub trait TaskQueue: Send + Sync {
    /// Queues the tasks (all of them, or an error).
    async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), QueueError>;
}
