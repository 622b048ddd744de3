//! The SES mailer: sends the finished RFC 5322 message as raw content (SES v2 `SendEmail`).

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use crate::ports::mailer::{MailError, Mailer, OutgoingMail};

pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: String) -> Self {
        SesMailer { client, from }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mail.raw.clone()))
            .build()
            .map_err(|e| MailError {
                message: "building the raw message".into(),
                source: Some(Box::new(e)),
            })?;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| {
                let message = format!(
                    "SES SendEmail: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&e)
                );
                let source: Option<Box<dyn std::error::Error + Send + Sync>> =
                    super::is_transient(&e)
                        .then(|| Box::new(crate::ports::Unavailable(message.clone())) as _);
                MailError { message, source }
            })?;
        Ok(out.message_id.unwrap_or_default())
    }
}
