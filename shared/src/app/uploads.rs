//! Uploads: files the client sends straight to the file store through a presigned URL (S3 with SSE-KMS in
//! AWS; the local server, sealing the bytes under the tenant key, locally). The record lives in the tenant
//! partition; a global expiry index (`UPLOAD_EXPIRY`, time-ordered) lets the hourly clean-up find uploads
//! never completed after 24 hours, and import files whose import has ended, without a scan.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::principal::Principal;
pub use crate::app::records::upload::{
    MIB, Purpose, Status, Upload, UploadView, erase, keys_of_items, load, read, refresh,
};
use crate::app::records::upload::{context, ms};
use crate::app::{AppError, Services};
use crate::domain::ids::{ImportId, TenantId, UploadId, new_id};
use crate::domain::permissions::{Level, allows};
use crate::domain::time::jst_from_unix;
use crate::ports::{Change, Cond, Item, PresignedPut, Query, Table, Value, Write};

/// How long a presigned upload URL is valid.
pub const UPLOAD_URL_TTL: StdDuration = StdDuration::from_secs(15 * 60);
/// How long a download URL is valid.
pub const DOWNLOAD_URL_TTL: StdDuration = StdDuration::from_secs(5 * 60);
/// An upload not completed within this time is deleted, as is an import file this long after it stopped
/// being needed.
pub const PENDING_LIMIT: Duration = Duration::hours(24);
/// How often the clean-up looks again at the file of an import that still runs (and queues the import
/// again when it has stalled).
pub const WATCH_EVERY: Duration = Duration::hours(1);

pub struct NewUpload {
    pub purpose: Purpose,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

pub struct Issued {
    pub upload: Upload,
    pub put: PresignedPut,
    pub expires_at: OffsetDateTime,
}

fn require(p: &Principal, purpose: Purpose, level: Level) -> Result<(), AppError> {
    if allows(&p.grants, p.user.org_admin, purpose.feature(), level) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "{} uploads need the {} feature at {} level",
            purpose.as_str(),
            purpose.feature().as_str(),
            level.as_str()
        )))
    }
}

/// The longest file name an upload may carry, in characters.
pub const FILENAME_MAX: usize = 255;

fn valid_filename(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > FILENAME_MAX || name.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "filename",
            "filename must have 1 to 255 characters and no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Records a pending upload and issues the URL it is sent to; a size or type the purpose does not take is
/// refused first.
pub async fn create(
    svc: &Services,
    p: &Principal,
    new: NewUpload,
    now: OffsetDateTime,
) -> Result<Issued, AppError> {
    require(p, new.purpose, Level::Edit)?;
    let filename = valid_filename(&new.filename)?;
    let content_type = new.content_type.trim().to_ascii_lowercase();
    let max = new.purpose.max_size();
    if new.size == 0 {
        return Err(AppError::invalid("size", "size must be at least 1 byte"));
    }
    if new.size > max {
        return Err(AppError::TooLarge(format!(
            "{} files may have at most {} MiB; this one declares {} bytes",
            new.purpose.as_str(),
            max / MIB,
            new.size
        )));
    }
    if !new.purpose.content_types().contains(&content_type.as_str()) {
        return Err(AppError::UnsupportedMediaType(format!(
            "{} files may be {}",
            new.purpose.as_str(),
            new.purpose.content_types().join(", ")
        )));
    }
    let scope = &p.scope;
    let id = new_id();
    let expiry_sk = layout::upload_expiry_sk(ms(now + PENDING_LIMIT), &scope.tenant, &id);
    let upload = Upload {
        id: id.clone(),
        tenant: scope.tenant.clone(),
        purpose: new.purpose,
        filename,
        content_type,
        size: new.size,
        status: Status::Pending,
        created: now.unix_timestamp(),
        import: None,
        expiry_sk: Some(expiry_sk.clone()),
    };
    let put = svc
        .files
        .presign_put(
            &upload.key(),
            &upload.content_type,
            upload.size,
            UPLOAD_URL_TTL,
        )
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let log_key = svc.log_key(&scope.tenant).await?;
    svc.store
        .transact(vec![
            Write::put_new(Table::Data, upload.to_item(scope)),
            Write::put(Table::Data, Item::new(layout::UPLOAD_EXPIRY_PK, expiry_sk)),
            audit::entry(
                &scope.tenant,
                &log_key,
                &p.actor(),
                Entry {
                    action: "upload.create",
                    target_type: "upload",
                    target_id: &id,
                },
                now,
            ),
        ])
        .await?;
    Ok(Issued {
        upload,
        put,
        expires_at: now + Duration::seconds(UPLOAD_URL_TTL.as_secs() as i64),
    })
}

/// An upload whose bytes the server already holds (the console's file form, which cannot PUT to a
/// presigned URL without JavaScript): recorded as [`create`] records it (same checks, same expiry entry,
/// same audit entry), then written to the file store as the upload URL would have written it.
pub async fn store(
    svc: &Services,
    p: &Principal,
    purpose: Purpose,
    filename: &str,
    content_type: &str,
    bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<Upload, AppError> {
    let issued = create(
        svc,
        p,
        NewUpload {
            purpose,
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
        },
        now,
    )
    .await?;
    let u = issued.upload;
    let bytes = if svc.files.sealed_by_app() {
        p.scope
            .key
            .seal_bytes(&context(&p.scope.tenant, &u.id, "content"), &bytes)
    } else {
        bytes
    };
    svc.files
        .write(&u.key(), bytes)
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    refresh(svc, &p.scope, u).await
}

pub async fn view(svc: &Services, p: &Principal, id: &UploadId) -> Result<UploadView, AppError> {
    let u = load(svc, &p.scope, id).await?;
    require(p, u.purpose, Level::View)?;
    let u = refresh(svc, &p.scope, u).await?;
    let download_url = match u.status {
        Status::Stored => Some(
            svc.files
                .presign_get(&u.key(), &u.filename, DOWNLOAD_URL_TTL)
                .await
                .map_err(|e| AppError::Internal(Box::new(e)))?,
        ),
        Status::Pending => None,
    };
    Ok(UploadView {
        id: u.id.clone(),
        purpose: u.purpose,
        filename: u.filename.clone(),
        content_type: u.content_type.clone(),
        size: u.size,
        status: u.status,
        download_url,
        created_at: jst_from_unix(u.created),
    })
}

/// Removes the object and the record at once; an import file is kept while its import runs.
pub async fn delete(
    svc: &Services,
    p: &Principal,
    id: &UploadId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let u = load(svc, &p.scope, id).await?;
    require(p, u.purpose, Level::Edit)?;
    if let Some(import) = &u.import
        && crate::app::records::import::running(
            svc,
            &p.scope,
            &ImportId::from_stored(import.as_str()),
        )
        .await?
    {
        return Err(AppError::conflict(
            "upload_in_use",
            "an import is reading this file; it is deleted when the import ends",
        ));
    }
    erase(svc, &p.scope, &u, &p.actor(), now).await
}

fn already_stored() -> AppError {
    AppError::conflict(
        "upload_stored",
        "this upload's file is stored already; issue a new upload to send another file",
    )
}

/// The local store's upload URL was called: seal the bytes under the tenant key and store them. Size and
/// type must be the declared ones (the URL's signature covers them).
pub async fn receive_local(
    svc: &Services,
    key: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Result<(), AppError> {
    let (tenant, id) = parse_key(key).ok_or(AppError::NotFound("upload"))?;
    let scope = svc.scope(&tenant).await?;
    let u = load(svc, &scope, &id).await?;
    // A URL creates its file once: a stored file (an import's file too) is never replaced through it.
    if u.status == Status::Stored || u.import.is_some() {
        return Err(already_stored());
    }
    if bytes.len() as u64 != u.size {
        return Err(AppError::invalid(
            "size",
            format!(
                "the upload declared {} bytes and {} arrived",
                u.size,
                bytes.len()
            ),
        ));
    }
    if !content_type.eq_ignore_ascii_case(&u.content_type) {
        return Err(AppError::UnsupportedMediaType(format!(
            "the upload declared content type {}",
            u.content_type
        )));
    }
    let sealed = scope
        .key
        .seal_bytes(&context(&tenant, id.as_str(), "content"), &bytes);
    match svc.files.write(&u.key(), sealed).await {
        Ok(()) => {}
        Err(e) if e.exists => return Err(already_stored()),
        Err(e) => return Err(AppError::Internal(Box::new(e))),
    }
    refresh(svc, &scope, u).await?;
    Ok(())
}

/// `<prefix>/<tenant>/<id>` → tenant and upload id.
pub fn parse_key(key: &str) -> Option<(TenantId, UploadId)> {
    let mut parts = key.split('/');
    let (_, tenant, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((TenantId::parse(tenant)?, UploadId::parse(id)?))
}

/// The local download URL was called: the bytes, opened, with the record's type and name.
pub async fn serve_local(svc: &Services, key: &str) -> Result<(Upload, Vec<u8>), AppError> {
    let (tenant, id) = parse_key(key).ok_or(AppError::NotFound("upload"))?;
    let scope = svc.scope(&tenant).await?;
    let u = load(svc, &scope, &id).await?;
    let bytes = read(svc, &scope, &u)
        .await?
        .ok_or(AppError::NotFound("file"))?;
    Ok((u, bytes))
}

/// The hourly clean-up: uploads still pending 24 hours after they were issued are deleted (object and
/// record); an import file is deleted once its import has ended. Returns how many uploads went.
pub async fn cleanup(svc: &Services, as_of: OffsetDateTime) -> Result<usize, AppError> {
    let horizon = layout::upload_expiry_sk(ms(as_of), &TenantId::from_stored(String::new()), "");
    let mut deleted = 0;
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, layout::UPLOAD_EXPIRY_PK, "")
                    .after(after)
                    .limit(100),
            )
            .await?;
        let done = page.next.is_none();
        for entry in &page.items {
            if entry.sk > horizon {
                return Ok(deleted);
            }
            if sweep(svc, &entry.sk, as_of).await? {
                deleted += 1;
            }
        }
        if done {
            return Ok(deleted);
        }
        after = page.next;
    }
}

/// One due entry of the expiry index; true when an upload was deleted.
async fn sweep(svc: &Services, sk: &str, now: OffsetDateTime) -> Result<bool, AppError> {
    let drop_entry = || async {
        svc.store
            .transact(vec![Write::delete(
                Table::Data,
                layout::UPLOAD_EXPIRY_PK,
                sk,
            )])
            .await
    };
    let Some((tenant, id)) = layout::parse_upload_expiry_sk(sk) else {
        drop_entry().await?;
        return Ok(false);
    };
    let scope = match svc.scope(&tenant).await {
        Ok(s) => s,
        // The tenant is gone (purged): its files went with it.
        Err(AppError::NotFound(_)) => {
            drop_entry().await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    let u = match load(svc, &scope, &UploadId::from_stored(id.as_str())).await {
        Ok(u) if u.expiry_sk.as_deref() == Some(sk) => u,
        // Deleted, or this entry was replaced by a later one.
        Ok(_) | Err(AppError::NotFound(_)) => {
            drop_entry().await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    let watch = match &u.import {
        Some(import) => Some(
            crate::app::records::import::watch(
                svc,
                &scope,
                &ImportId::from_stored(import.as_str()),
                now,
            )
            .await?,
        ),
        None => None,
    };
    if let (Some(import), Some(crate::app::records::import::Watch::Stalled)) = (&u.import, &watch) {
        // Its worker is gone (a crash, a task that ran out of attempts): it resumes after its last row.
        crate::app::records::import::requeue(svc, &scope, &ImportId::from_stored(import.as_str()))
            .await?;
    }
    if matches!(
        watch,
        Some(
            crate::app::records::import::Watch::Alive | crate::app::records::import::Watch::Stalled
        )
    ) {
        // Still being read: look again at the next hourly run, when a stalled import is queued again.
        let next = layout::upload_expiry_sk(ms(now + WATCH_EVERY), &tenant, &id);
        svc.store
            .transact(vec![
                Write::delete(Table::Data, layout::UPLOAD_EXPIRY_PK, sk),
                Write::put(
                    Table::Data,
                    Item::new(layout::UPLOAD_EXPIRY_PK, next.clone()),
                ),
                Write::Update {
                    table: Table::Data,
                    pk: scope.pk(),
                    sk: layout::upload_sk(&id),
                    changes: vec![Change::Set(attr::EXPIRY, Value::S(next))],
                    cond: Some(Cond::Exists),
                },
            ])
            .await?;
        return Ok(false);
    }
    if u.purpose == Purpose::Material && u.import.is_none() {
        let u = refresh(svc, &scope, u).await?;
        if u.status == Status::Stored {
            return Ok(false);
        }
        erase(svc, &scope, &u, &Actor::Operator, now).await?;
        return Ok(true);
    }
    // An import file: never used within 24 hours, or its import has ended.
    erase(svc, &scope, &u, &Actor::Operator, now).await?;
    Ok(true)
}
