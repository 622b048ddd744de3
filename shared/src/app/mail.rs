//! Mail texts (Japanese then English, plain text) and their RFC 5322 form. The one-time link is the only
//! secret a mail carries. Sending records a mail-log entry either way.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;

use crate::app::{Services, audit};
use crate::domain::ids::{TenantId, new_id};
use crate::ports::{OutgoingMail, Table};

pub const FROM_DEFAULT: &str = "no-reply@kanri.example.com";

pub struct Message {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub fn invitation(to: &str, name: &str, tenant_name: &str, link: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: "【Kanri】アカウントのご案内 / Your Kanri account".into(),
        body: format!(
            "{name} 様\n\n\
             {tenant_name} の Kanri アカウントが作成されました。\n\
             次のリンクを開いて、パスワードを設定してください（有効期限 7 日、1 回限り）。\n\n\
             {link}\n\n\
             お心当たりのない場合は、このメールを破棄してください。\n\n\
             ----\n\n\
             Dear {name},\n\n\
             An account on Kanri has been created for you by {tenant_name}.\n\
             Open the link below to set your password (valid for 7 days, usable once).\n\n\
             {link}\n\n\
             If you did not expect this mail, you can ignore it.\n"
        ),
    }
}

pub fn password_reset(to: &str, name: &str, link: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: "【Kanri】パスワード再設定のご案内 / Reset your Kanri password".into(),
        body: format!(
            "{name} 様\n\n\
             パスワード再設定のご依頼を受け付けました。\n\
             次のリンクを開いて、新しいパスワードを設定してください（有効期限 1 時間、1 回限り）。\n\n\
             {link}\n\n\
             お心当たりのない場合は、このメールを破棄してください。パスワードは変更されません。\n\n\
             ----\n\n\
             Dear {name},\n\n\
             We received a request to reset your Kanri password.\n\
             Open the link below to choose a new one (valid for 1 hour, usable once).\n\n\
             {link}\n\n\
             If you did not ask for this, ignore this mail; your password stays as it is.\n"
        ),
    }
}

/// The notice that an admin reset the user's second factor: no secret, no link; what to do if it was not
/// expected.
pub fn mfa_reset(to: &str, name: &str, tenant_name: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: "【Kanri】二段階認証がリセットされました / Your two-step verification was reset"
            .into(),
        body: format!(
            "{name} 様\n\n\
             {tenant_name} の管理者が、あなたの Kanri アカウントの二段階認証（認証アプリと回復コード）をリセットしました。\n\
             次回からはパスワードだけでログインできます。ログイン後、アカウント画面の「二段階認証」からもう一度設定してください。\n\n\
             お心当たりのない場合は、すぐに組織の管理者に連絡してください。\n\n\
             ----\n\n\
             Dear {name},\n\n\
             An administrator of {tenant_name} has reset the two-step verification (authenticator app and recovery codes)\n\
             of your Kanri account. You can now sign in with your password alone; set it up again afterwards under\n\
             \"Two-step verification\" on your account page.\n\n\
             If you did not expect this, contact your organisation's administrator at once.\n"
        ),
    }
}

/// RFC 2047 encoded-word for a UTF-8 header.
fn encode_header(s: &str) -> String {
    if s.is_ascii() {
        s.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(s.as_bytes()))
    }
}

/// The finished RFC 5322 message: UTF-8 text, base64 transfer encoding in 76-character lines.
pub fn render(from: &str, m: &Message, now: OffsetDateTime) -> Vec<u8> {
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("kanri.local");
    let body = STANDARD.encode(m.body.as_bytes());
    let mut out = String::new();
    out.push_str(&format!("From: Kanri <{from}>\r\n"));
    out.push_str(&format!("To: {}\r\n", m.to));
    out.push_str(&format!("Subject: {}\r\n", encode_header(&m.subject)));
    out.push_str(&format!("Date: {date}\r\n"));
    out.push_str(&format!("Message-ID: <{}@{domain}>\r\n", new_id()));
    out.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    for chunk in body.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out.into_bytes()
}

impl Services {
    /// Sends one mail and records it in the mail log. A failed send is logged and recorded as `failed`;
    /// it does not undo the change that caused it (the admin can re-issue the credential).
    pub async fn send_mail(
        &self,
        tenant: &TenantId,
        kind: &str,
        m: Message,
        now: OffsetDateTime,
    ) -> Option<String> {
        let raw = render(&self.settings.mail_from, &m, now);
        let sent = self
            .mailer
            .send(&OutgoingMail {
                to: m.to.clone(),
                raw,
            })
            .await;
        let message_id = match sent {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, kind, "mail not sent");
                None
            }
        };
        match self.log_key(tenant).await {
            Ok(key) => {
                let record =
                    audit::mail_record(tenant, &key, &m.to, kind, message_id.as_deref(), now);
                if let Err(e) = self
                    .store
                    .transact(vec![crate::ports::Write::put(Table::Log, record)])
                    .await
                {
                    tracing::error!(error = %e, "mail log record not written");
                }
            }
            Err(e) => tracing::error!(error = %e, "mail log key unavailable"),
        }
        message_id
    }
}

impl Services {
    /// Sends many mails, a few at a time, and records them in the mail log with batched writes.
    pub async fn send_mails(
        &self,
        tenant: &TenantId,
        kind: &str,
        messages: Vec<Message>,
        now: OffsetDateTime,
    ) {
        let messages = messages.into_iter().map(|m| (None, m)).collect();
        self.send_mails_keyed(tenant, kind, messages, now).await;
    }

    /// [`Services::send_mails`] where a message with a key is sent with [`crate::ports::Mailer::send_once`]:
    /// work that resumes after a crash does not mail again what left before it. Returns, per message,
    /// whether it was sent.
    pub async fn send_mails_keyed(
        &self,
        tenant: &TenantId,
        kind: &str,
        messages: Vec<(Option<String>, Message)>,
        now: OffsetDateTime,
    ) -> Vec<bool> {
        if messages.is_empty() {
            return vec![];
        }
        let mut to = Vec::with_capacity(messages.len());
        let mails = messages
            .into_iter()
            .map(|(key, m)| {
                let raw = render(&self.settings.mail_from, &m, now);
                let mail = OutgoingMail {
                    to: m.to.clone(),
                    raw,
                };
                to.push(m.to);
                (key, mail)
            })
            .collect();
        let results = self.mailer.send_all(mails, MAIL_CONCURRENCY).await;
        let sent: Vec<(String, Option<String>)> = to
            .into_iter()
            .zip(results)
            .map(|(to, result)| match result {
                Ok(id) => (to, Some(id)),
                Err(e) => {
                    tracing::error!(error = %e, kind, "mail not sent");
                    (to, None)
                }
            })
            .collect();
        match self.log_key(tenant).await {
            Ok(key) => {
                let records = sent
                    .iter()
                    .map(|(to, id)| {
                        crate::ports::BatchWrite::Put(audit::mail_record(
                            tenant,
                            &key,
                            to,
                            kind,
                            id.as_deref(),
                            now,
                        ))
                    })
                    .collect();
                if let Err(e) = self.store.batch_write(Table::Log, records).await {
                    tracing::error!(error = %e, "mail log records not written");
                }
            }
            Err(e) => tracing::error!(error = %e, "mail log key unavailable"),
        }
        sent.iter().map(|(_, id)| id.is_some()).collect()
    }
}

/// Mails in flight at once when sending many (SES allows 14/s in the sandbox, more in production).
pub const MAIL_CONCURRENCY: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_mail_is_rfc5322_with_encoded_japanese_subject() {
        let m = invitation(
            "a@example.jp",
            "山田",
            "Acme",
            "http://x/set-password?token=abc",
        );
        let raw = String::from_utf8(render(
            "no-reply@kanri.example.com",
            &m,
            OffsetDateTime::UNIX_EPOCH,
        ))
        .unwrap();
        assert!(raw.contains("Subject: =?UTF-8?B?"));
        assert!(raw.contains("To: a@example.jp\r\n"));
        let body: String = raw
            .split("\r\n\r\n")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .collect();
        let text = String::from_utf8(STANDARD.decode(body).unwrap()).unwrap();
        assert!(text.contains("http://x/set-password?token=abc") && text.contains("山田 様"));
    }
}
