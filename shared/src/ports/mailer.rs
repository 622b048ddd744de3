//! The mailer port: sends one finished RFC 5322 message (SES in AWS, `.eml` files in the local outbox).

use async_trait::async_trait;

/// A message ready to send: the raw RFC 5322 bytes plus the envelope recipient.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: String,
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for OutgoingMail {
    // The body carries a one-time link; never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("mail could not be sent: {message}")]
pub struct MailError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends the message and returns the provider's message id.
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError>;

    /// Sends the message unless one with the same `key` was sent already, and returns the message id.
    /// Background work that resumes after a crash mails with a key, so a mail that left just before the
    /// crash is not sent again. Only a mailer that can tell keeps the promise (the local outbox); SES has
    /// no idempotency key, so there a mail in flight at a crash may go twice (this default).
    async fn send_once(&self, key: &str, mail: &OutgoingMail) -> Result<String, MailError> {
        let _ = key;
        self.send(mail).await
    }

    /// Sends many messages, each with [`Mailer::send_once`] when it has a key and [`Mailer::send`]
    /// otherwise, `concurrency` at a time (this default); answers each one's result, in order. A mailer
    /// that can do better with many at once (the local outbox: one hand-off and one claims write for
    /// all) does, with the same promises per message.
    async fn send_all(
        &self,
        mails: Vec<(Option<String>, OutgoingMail)>,
        concurrency: usize,
    ) -> Vec<Result<String, MailError>> {
        use futures_util::StreamExt;
        futures_util::stream::iter(mails)
            .map(|(key, mail)| async move {
                match &key {
                    Some(k) => self.send_once(k, &mail).await,
                    None => self.send(&mail).await,
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }
}
