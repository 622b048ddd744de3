//! The local mailer: every message becomes one RFC 5322 `.eml` file in `$KANRI_DATA_DIR/outbox/`, written
//! whole (a temporary file renamed into place). Keyed sends ([`Mailer::send_once`]) remember their key in
//! `outbox.keys/` beside it, so a mail that a resumed task sends again is not written twice.

use std::path::PathBuf;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::ports::mailer::{MailError, Mailer, OutgoingMail};

pub struct Outbox {
    dir: PathBuf,
    /// Keys of keyed sends (file name: digest of the key; content: the message id), and the temporary
    /// files of mails being written.
    keys: PathBuf,
}

fn io_err(what: String, e: std::io::Error) -> MailError {
    MailError {
        message: what,
        source: Some(Box::new(e)),
    }
}

impl Outbox {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let keys = dir.with_extension("keys");
        std::fs::create_dir_all(&keys)?;
        Ok(Outbox { dir, keys })
    }

    /// Writes the mail under `id` (time-ordered ids make `ls` list the outbox in sending order).
    async fn write(&self, id: &str, mail: &OutgoingMail) -> Result<(), MailError> {
        let path = self.dir.join(format!("{id}.eml"));
        let tmp = self.keys.join(format!("{id}.tmp"));
        tokio::fs::write(&tmp, &mail.raw)
            .await
            .map_err(|e| io_err(format!("writing {}", tmp.display()), e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io_err(format!("moving {} into the outbox", path.display()), e))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let id = crate::domain::ids::new_id();
        self.write(&id, mail).await?;
        Ok(format!("local-{id}"))
    }

    async fn send_once(&self, key: &str, mail: &OutgoingMail) -> Result<String, MailError> {
        // The key is claimed first with the id the mail gets; a send that died between claim and write
        // is finished by the next one, with the same id.
        let claim = self
            .keys
            .join(crate::util::hex(&Sha256::digest(key.as_bytes())));
        let fresh = crate::domain::ids::new_id();
        let id = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim)
        {
            Ok(mut f) => {
                use std::io::Write as _;
                f.write_all(fresh.as_bytes())
                    .map_err(|e| io_err(format!("writing {}", claim.display()), e))?;
                fresh
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let id = std::fs::read_to_string(&claim)
                    .map_err(|e| io_err(format!("reading {}", claim.display()), e))?;
                let id = id.trim().to_owned();
                if crate::domain::ids::looks_like_id(&id) {
                    id
                } else {
                    // The claim was cut short: take it over.
                    std::fs::write(&claim, fresh.as_bytes())
                        .map_err(|e| io_err(format!("writing {}", claim.display()), e))?;
                    fresh
                }
            }
            Err(e) => return Err(io_err(format!("creating {}", claim.display()), e)),
        };
        if !self.dir.join(format!("{id}.eml")).exists() {
            self.write(&id, mail).await?;
        }
        Ok(format!("local-{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_keyed_mail_is_written_once_however_often_it_is_sent() {
        let dir =
            std::env::temp_dir().join(format!("kanri-outbox-{}", crate::domain::ids::new_id()));
        let outbox = Outbox::new(dir.join("outbox")).unwrap();
        let mail = OutgoingMail {
            to: "a@example.jp".into(),
            raw: b"Subject: x\r\n\r\nhello".to_vec(),
        };
        let first = outbox.send_once("notice/N/U", &mail).await.unwrap();
        let again = outbox.send_once("notice/N/U", &mail).await.unwrap();
        assert_eq!(first, again);
        let other = outbox.send_once("notice/N/V", &mail).await.unwrap();
        assert_ne!(first, other);
        outbox.send(&mail).await.unwrap();
        let files = std::fs::read_dir(dir.join("outbox")).unwrap().count();
        assert_eq!(files, 3);
        // A send that died after claiming its key but before writing: the next one writes the mail.
        let id = first.trim_start_matches("local-");
        std::fs::remove_file(dir.join("outbox").join(format!("{id}.eml"))).unwrap();
        assert_eq!(outbox.send_once("notice/N/U", &mail).await.unwrap(), first);
        assert_eq!(std::fs::read_dir(dir.join("outbox")).unwrap().count(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
