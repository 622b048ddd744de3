//! The in-process task queue of the local server: an unbounded channel drained by `crate::worker`. Tasks
//! queued here live in memory only; a task that fails is retried a few times with backoff by the worker.

use async_trait::async_trait;
use std::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::ports::{QueueError, Task, TaskQueue};

/// A queued task and how many times it has failed so far.
pub type Queued = (Task, u32);

pub struct InProcessQueue {
    tx: UnboundedSender<Queued>,
    rx: Mutex<Option<UnboundedReceiver<Queued>>>,
}

impl Default for InProcessQueue {
    fn default() -> Self {
        let (tx, rx) = unbounded_channel();
        InProcessQueue {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl InProcessQueue {
    /// The receiving end, once: the worker that drains the queue takes it at start.
    pub fn take_receiver(&self) -> Option<UnboundedReceiver<Queued>> {
        self.rx.lock().ok()?.take()
    }

    /// Puts a failed task back with its failure count.
    pub fn requeue(&self, task: Task, failures: u32) -> Result<(), QueueError> {
        self.tx.send((task, failures)).map_err(|_| closed())
    }
}

fn closed() -> QueueError {
    QueueError {
        message: "the in-process queue is closed".into(),
        source: None,
    }
}

#[async_trait]
impl TaskQueue for InProcessQueue {
    async fn enqueue(&self, tasks: Vec<Task>) -> Result<(), QueueError> {
        for t in tasks {
            self.tx.send((t, 0)).map_err(|_| closed())?;
        }
        Ok(())
    }
}
