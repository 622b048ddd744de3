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

/// Threads writing the mails of one [`Mailer::send_all`] at once: the cores (creating a file is mostly
/// the kernel's work), but few, since writers into one directory queue on its lock.
const MAX_WRITERS: usize = 4;

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
        let mut claimed = self.claim_all(&[Some(key)])?;
        Ok(claimed.remove(0))
    }

    /// [`Outbox::claim`] for many keys at once, with one write to the log for all the new ones; a mail
    /// without a key gets a new id (and `true`). Keys claimed before, or twice among these, keep their id.
    fn claim_all(&self, keys: &[Option<&str>]) -> Result<Vec<(String, bool)>, MailError> {
        let mut claims = self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::with_capacity(keys.len());
        let mut lines = String::new();
        let mut new = Vec::new();
        for key in keys {
            let Some(key) = key else {
                out.push((crate::domain::ids::new_id(), true));
                continue;
            };
            let digest = crate::util::hex(&Sha256::digest(key.as_bytes()));
            if let Some(id) = claims.ids.get(&digest) {
                out.push((id.clone(), false));
                continue;
            }
            let id = crate::domain::ids::new_id();
            lines.push_str(&digest);
            lines.push(' ');
            lines.push_str(&id);
            lines.push('\n');
            claims.ids.insert(digest.clone(), id.clone());
            new.push(digest);
            out.push((id, true));
        }
        if lines.is_empty() {
            return Ok(out);
        }
        // One write of whole lines (O_APPEND): a crash leaves whole claims and at most a last line cut
        // short (no claim: its mail is not written yet).
        if let Err(e) = claims.log.write_all(lines.as_bytes()) {
            for digest in new {
                claims.ids.remove(&digest);
            }
            return Err(io_err(
                format!("writing {}", self.keys.join(CLAIMS_LOG).display()),
                e,
            ));
        }
        Ok(out)
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

    /// Every key claimed with one write to the log, then the mails written, a run of them per core on a
    /// blocking thread each (a background import mails a few hundred at a time: a hand-off per core
    /// instead of one per mail, and few writers queueing on the outbox directory's lock). The promises of [`Mailer::send_once`] hold for each: a process
    /// that dies half-way left its claims, and the next send of the same keys writes the mails missing.
    async fn send_all(
        &self,
        mails: Vec<(Option<String>, OutgoingMail)>,
        _concurrency: usize,
    ) -> Vec<Result<String, MailError>> {
        let keys: Vec<Option<&str>> = mails.iter().map(|(k, _)| k.as_deref()).collect();
        let claimed = match self.claim_all(&keys) {
            Ok(c) => c,
            Err(e) => {
                return mails
                    .iter()
                    .map(|_| {
                        Err(MailError {
                            message: e.message.clone(),
                            source: None,
                        })
                    })
                    .collect();
            }
        };
        let n = mails.len();
        // One writer per core, each with a run of the mails, in order (a key twice among them has one
        // id: its second mail finds the first's file or writes the same file again).
        let writers = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .clamp(1, MAX_WRITERS);
        let per = n.div_ceil(writers).max(1);
        let mut runs = Vec::new();
        let mut work = claimed.into_iter().zip(mails).peekable();
        while work.peek().is_some() {
            let run: Vec<_> = work.by_ref().take(per).collect();
            let (dir, keys) = (self.dir.clone(), self.keys.clone());
            runs.push(tokio::task::spawn_blocking(move || {
                run.into_iter()
                    .map(|((id, fresh), (_, mail))| {
                        // A key claimed before: its mail is written unless it is there already.
                        if !fresh && dir.join(format!("{id}.eml")).exists() {
                            return Ok(format!("local-{id}"));
                        }
                        write_mail(&dir, &keys, &id, &mail.raw).map(|()| format!("local-{id}"))
                    })
                    .collect::<Vec<_>>()
            }));
        }
        let written: Result<Vec<_>, _> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map(|runs| runs.into_iter().flatten().collect());
        match written {
            Ok(results) => results,
            Err(e) => {
                let message = format!("outbox task: {e}");
                (0..n)
                    .map(|_| {
                        Err(MailError {
                            message: message.clone(),
                            source: None,
                        })
                    })
                    .collect()
            }
        }
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

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn mails_sent_together_are_each_written_once_even_when_the_process_dies_half_way() {
        let dir =
            std::env::temp_dir().join(format!("kanri-outbox-{}", crate::domain::ids::new_id()));
        let outbox = Outbox::new(dir.join("outbox")).unwrap();
        let mail = |to: &str| OutgoingMail {
            to: to.into(),
            raw: format!("To: {to}\r\n\r\nhello").into_bytes(),
        };
        let batch = |keys: &[Option<&str>]| -> Vec<(Option<String>, OutgoingMail)> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.map(str::to_owned), mail(&format!("u{i}@example.jp"))))
                .collect()
        };
        let keys = [
            Some("invite/I/A"),
            Some("invite/I/B"),
            None,
            Some("invite/I/C"),
        ];
        let first: Vec<String> = outbox
            .send_all(batch(&keys), 8)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(files(&dir.join("outbox")).len(), 4);
        // Sent again (a resumed task): the same ids, nothing written twice; a key twice in one batch is
        // one mail.
        let again: Vec<String> = outbox
            .send_all(
                batch(&[Some("invite/I/A"), Some("invite/I/B"), Some("invite/I/B")]),
                8,
            )
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            again,
            [first[0].clone(), first[1].clone(), first[1].clone()]
        );
        assert_eq!(files(&dir.join("outbox")).len(), 4);
        // The process died after the claims went to the log and before two of the mails were written:
        // a restarted outbox writes those two, under the ids claimed, and nothing else.
        for id in [&first[1], &first[3]] {
            let id = id.trim_start_matches("local-");
            std::fs::remove_file(dir.join("outbox").join(format!("{id}.eml"))).unwrap();
        }
        let before = files(&dir.join("outbox"));
        assert_eq!(before.len(), 2);
        drop(outbox);
        let outbox = Outbox::new(dir.join("outbox")).unwrap();
        let resumed: Vec<String> = outbox
            .send_all(
                batch(&[Some("invite/I/A"), Some("invite/I/B"), Some("invite/I/C")]),
                8,
            )
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            resumed,
            [first[0].clone(), first[1].clone(), first[3].clone()]
        );
        let after = files(&dir.join("outbox"));
        assert_eq!(after.len(), 4, "{after:?}");
        for id in &first {
            let id = id.trim_start_matches("local-");
            assert!(after.contains(&format!("{id}.eml")), "{id} in {after:?}");
        }
        // No temporary file is left behind.
        assert_eq!(files(&dir.join("outbox.keys")), [CLAIMS_LOG]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
