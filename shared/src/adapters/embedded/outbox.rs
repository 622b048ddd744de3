//! The local mailer: every message becomes one RFC 5322 `.eml` file in `$KANRI_DATA_DIR/outbox/`, written
//! whole (a temporary file renamed into place). Keyed sends ([`Mailer::send_once`]) remember their key in
//! `outbox.keys/claims.log` beside it (one line per key: its digest and the message id), so a mail that a
//! resumed task sends again is not written twice.
//!
//! One file is created per mail: a background import of 100,000 users mails 100,000 invitations, and on
//! ext4 creating a file (its inode) costs far more than the rest of a mail; a claim is a line appended to
//! the log, read back into memory when the outbox opens. (Claims written one file per key by earlier
//! versions are read at opening too.)

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::ports::mailer::{MailError, Mailer, OutgoingMail};

pub struct Outbox {
    dir: Arc<PathBuf>,
    /// The claims log, and the temporary files of mails being written.
    keys: Arc<PathBuf>,
    claims: Mutex<Claims>,
}

/// Keys claimed so far (digest of the key → message id), and the log they are appended to.
struct Claims {
    ids: HashMap<String, String>,
    log: std::fs::File,
}

fn io_err(what: String, e: std::io::Error) -> MailError {
    MailError {
        message: what,
        source: Some(Box::new(e)),
    }
}

const CLAIMS_LOG: &str = "claims.log";

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The claims in `keys`: the log's lines (a line cut short by a crash is skipped: its mail was not
/// written, and the next send claims the key again), and the one-file-per-key claims of earlier versions.
/// Also says whether the log's last line was cut short.
fn load_claims(keys: &Path) -> std::io::Result<(HashMap<String, String>, bool)> {
    let mut ids = HashMap::new();
    for entry in std::fs::read_dir(keys)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_digest(name) {
            let id = std::fs::read_to_string(entry.path())?;
            let id = id.trim();
            if crate::domain::ids::looks_like_id(id) {
                ids.insert(name.to_owned(), id.to_owned());
            }
        }
    }
    let log = match std::fs::read(keys.join(CLAIMS_LOG)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    for line in String::from_utf8_lossy(&log).lines() {
        if let Some((digest, id)) = line.split_once(' ')
            && is_digest(digest)
            && crate::domain::ids::looks_like_id(id)
        {
            ids.insert(digest.to_owned(), id.to_owned());
        }
    }
    let cut_short = log.last().is_some_and(|b| *b != b'\n');
    Ok((ids, cut_short))
}

/// Writes the mail under `id` (time-ordered ids make `ls` list the outbox in sending order): a temporary
/// file renamed into place, so a reader never sees half a mail.
fn write_mail(dir: &Path, keys: &Path, id: &str, raw: &[u8]) -> Result<(), MailError> {
    let path = dir.join(format!("{id}.eml"));
    let tmp = keys.join(format!("{id}.tmp"));
    std::fs::write(&tmp, raw).map_err(|e| io_err(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| io_err(format!("moving {} into the outbox", path.display()), e))
}

impl Outbox {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let keys = dir.with_extension("keys");
        std::fs::create_dir_all(&keys)?;
        let (ids, cut_short) = load_claims(&keys)?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(keys.join(CLAIMS_LOG))?;
        if cut_short {
            // The next claim starts on a line of its own.
            log.write_all(b"\n")?;
        }
        Ok(Outbox {
            dir: Arc::new(dir),
            keys: Arc::new(keys),
            claims: Mutex::new(Claims { ids, log }),
        })
    }

    /// Writes the mail under `id` on a blocking thread (one hand-off for the file and its rename).
    async fn write(
        &self,
        id: &str,
        mail: &OutgoingMail,
        unless_there: bool,
    ) -> Result<(), MailError> {
        let (dir, keys, id, raw) = (
            self.dir.clone(),
            self.keys.clone(),
            id.to_owned(),
            mail.raw.clone(),
        );
        tokio::task::spawn_blocking(move || {
            if unless_there && dir.join(format!("{id}.eml")).exists() {
                return Ok(());
            }
            write_mail(&dir, &keys, &id, &raw)
        })
        .await
        .map_err(|e| MailError {
            message: "outbox task".into(),
            source: Some(Box::new(e)),
        })?
    }

    /// The id the mail of `key` has, claimed now if the key is new (`true`): the claim is in the log
    /// before the mail is written, so a send that died between the two is finished by the next one, with
    /// the same id.
    fn claim(&self, key: &str) -> Result<(String, bool), MailError> {
        let digest = crate::util::hex(&Sha256::digest(key.as_bytes()));
        let mut claims = self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(id) = claims.ids.get(&digest) {
            return Ok((id.clone(), false));
        }
        let id = crate::domain::ids::new_id();
        // One write of a whole line (O_APPEND): a crash leaves at most a last line cut short.
        claims
            .log
            .write_all(format!("{digest} {id}\n").as_bytes())
            .map_err(|e| {
                io_err(
                    format!("writing {}", self.keys.join(CLAIMS_LOG).display()),
                    e,
                )
            })?;
        claims.ids.insert(digest, id.clone());
        Ok((id, true))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let id = crate::domain::ids::new_id();
        self.write(&id, mail, false).await?;
        Ok(format!("local-{id}"))
    }

    async fn send_once(&self, key: &str, mail: &OutgoingMail) -> Result<String, MailError> {
        let (id, fresh) = self.claim(key)?;
        // A key claimed before: its mail is written unless it is there already.
        self.write(&id, mail, !fresh).await?;
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
        // The claims outlive the process: an outbox opened again (a restarted server) knows them.
        drop(outbox);
        let again = Outbox::new(dir.join("outbox")).unwrap();
        assert_eq!(again.send_once("notice/N/U", &mail).await.unwrap(), first);
        assert_eq!(again.send_once("notice/N/V", &mail).await.unwrap(), other);
        assert_eq!(std::fs::read_dir(dir.join("outbox")).unwrap().count(), 3);
        // A last line cut short by a crash is no claim; a claim file of an earlier version is one.
        let legacy_id = crate::domain::ids::new_id();
        std::fs::write(
            dir.join("outbox.keys")
                .join(crate::util::hex(&Sha256::digest(b"notice/N/W"))),
            &legacy_id,
        )
        .unwrap();
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("outbox.keys").join(CLAIMS_LOG))
            .unwrap();
        log.write_all(&crate::util::hex(&Sha256::digest(b"notice/N/X")).as_bytes()[..20])
            .unwrap();
        drop((again, log));
        let again = Outbox::new(dir.join("outbox")).unwrap();
        assert_eq!(
            again.send_once("notice/N/W", &mail).await.unwrap(),
            format!("local-{legacy_id}")
        );
        let x = again.send_once("notice/N/X", &mail).await.unwrap();
        assert_ne!(x, first);
        assert_eq!(again.send_once("notice/N/X", &mail).await.unwrap(), x);
        assert_eq!(std::fs::read_dir(dir.join("outbox")).unwrap().count(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
