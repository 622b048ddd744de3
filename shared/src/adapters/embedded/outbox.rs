//! The local mailer: every message becomes one RFC 5322 `.eml` file in `$KANRI_DATA_DIR/outbox/`.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::ports::mailer::{MailError, Mailer, OutgoingMail};

pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Outbox { dir })
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let id = crate::domain::ids::new_id();
        // Time-ordered ids make `ls` list the outbox in sending order.
        let path = self.dir.join(format!("{id}.eml"));
        tokio::fs::write(&path, &mail.raw)
            .await
            .map_err(|e| MailError {
                message: format!("writing {}", path.display()),
                source: Some(Box::new(e)),
            })?;
        Ok(format!("local-{id}"))
    }
}
