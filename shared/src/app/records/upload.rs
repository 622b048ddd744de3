//! An uploaded file as stored: its purpose and accepted types, its record and codec, load, the check that
//! it arrived, reading and erasing it, and the file keys of a page of upload items.

use serde::Serialize;
use time::OffsetDateTime;

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{TenantId, UploadId};
use crate::domain::permissions::Feature;
use crate::ports::{Change, Cond, Item, Table, Value, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Material,
    UserImport,
    GroupImport,
}

pub(crate) const IMPORT_TYPES: &[&str] = &["text/csv", "application/vnd.ms-excel", "text/plain"];

pub(crate) const MATERIAL_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "video/mp4",
    "audio/mpeg",
    "application/zip",
    "text/plain",
    "text/csv",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

impl Purpose {
    pub fn parse(s: &str) -> Option<Purpose> {
        [Purpose::Material, Purpose::UserImport, Purpose::GroupImport]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Material => "material",
            Purpose::UserImport => "user_import",
            Purpose::GroupImport => "group_import",
        }
    }
    pub fn max_size(self) -> u64 {
        match self {
            Purpose::Material => 100 * MIB,
            Purpose::UserImport | Purpose::GroupImport => 20 * MIB,
        }
    }
    pub fn content_types(self) -> &'static [&'static str] {
        match self {
            Purpose::Material => MATERIAL_TYPES,
            Purpose::UserImport | Purpose::GroupImport => IMPORT_TYPES,
        }
    }
    /// Materials need `materials`, import files `settings` (both at edit to upload or delete).
    pub fn feature(self) -> Feature {
        match self {
            Purpose::Material => Feature::Materials,
            Purpose::UserImport | Purpose::GroupImport => Feature::Settings,
        }
    }
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Purpose::Material => "materials",
            Purpose::UserImport | Purpose::GroupImport => "imports",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Stored,
}

#[derive(Clone, Debug)]
pub struct Upload {
    pub id: String,
    pub tenant: TenantId,
    pub purpose: Purpose,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub status: Status,
    /// Unix seconds.
    pub created: i64,
    /// The import using this file, once one does.
    pub import: Option<String>,
    /// The upload's entry in the expiry index.
    pub expiry_sk: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UploadView {
    pub id: String,
    pub purpose: Purpose,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub status: Status,
    /// A short-lived URL once the file is stored; `null` while it is pending.
    pub download_url: Option<String>,
    pub created_at: String,
}

/// An upload's object key in the file store: `<materials|imports>/<tenant>/<id>` (see [`parse_key`]).
pub(crate) fn file_key(purpose: Purpose, tenant: &TenantId, id: &str) -> String {
    format!("{}/{tenant}/{id}", purpose.prefix())
}

pub(crate) fn context(tenant: &TenantId, id: &str, field: &str) -> String {
    format!("{tenant}/upload/{id}/{field}")
}

pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Upload {
    /// The object's key in the file store.
    pub fn key(&self) -> String {
        file_key(self.purpose, &self.tenant, &self.id)
    }

    pub(crate) fn to_item(&self, scope: &Scope) -> Item {
        let mut item = Item::new(scope.pk(), layout::upload_sk(&self.id))
            .with(attr::PURPOSE, Value::S(self.purpose.as_str().into()))
            .with(
                attr::FILENAME,
                Value::B(
                    scope
                        .key
                        .seal(&context(&self.tenant, &self.id, "filename"), &self.filename),
                ),
            )
            .with(attr::CONTENT_TYPE, Value::S(self.content_type.clone()))
            .with(attr::SIZE, Value::N(self.size as i64))
            .with(
                attr::STATUS,
                Value::S(
                    match self.status {
                        Status::Pending => "pending",
                        Status::Stored => "stored",
                    }
                    .into(),
                ),
            )
            .with(attr::CREATED, Value::N(self.created));
        if let Some(sk) = &self.expiry_sk {
            item = item.with(attr::EXPIRY, Value::S(sk.clone()));
        }
        item
    }

    pub(crate) fn from_item(scope: &Scope, item: &Item) -> Result<Upload, AppError> {
        let id = item
            .sk
            .strip_prefix(layout::UPLOAD_PREFIX)
            .unwrap_or_default()
            .to_owned();
        let bad = || AppError::Internal(format!("upload item {id} is malformed").into());
        let filename = scope.key.open(
            &context(&scope.tenant, &id, "filename"),
            item.b(attr::FILENAME).ok_or_else(bad)?,
        )?;
        Ok(Upload {
            tenant: scope.tenant.clone(),
            purpose: item
                .s(attr::PURPOSE)
                .and_then(Purpose::parse)
                .ok_or_else(bad)?,
            filename,
            content_type: item.s(attr::CONTENT_TYPE).unwrap_or_default().to_owned(),
            size: item.n(attr::SIZE).unwrap_or(0).max(0) as u64,
            status: if item.s(attr::STATUS) == Some("stored") {
                Status::Stored
            } else {
                Status::Pending
            },
            created: item.n(attr::CREATED).unwrap_or(0),
            import: item.s(attr::IMPORT).map(str::to_owned),
            expiry_sk: item.s(attr::EXPIRY).map(str::to_owned),
            id,
        })
    }
}

pub async fn load(svc: &Services, scope: &Scope, id: &UploadId) -> Result<Upload, AppError> {
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::upload_sk(id.as_str()))
        .await?
        .ok_or(AppError::NotFound("upload"))?;
    Upload::from_item(scope, &item)
}

/// Marks a pending upload stored when its object exists (the check on read that stands in for an S3
/// event); it leaves the expiry index unless an import still needs to be watched.
pub async fn refresh(svc: &Services, scope: &Scope, mut u: Upload) -> Result<Upload, AppError> {
    if u.status == Status::Stored {
        return Ok(u);
    }
    let size = svc
        .files
        .size(&u.key())
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    if size.is_none() {
        return Ok(u);
    }
    mark_stored(svc, scope, &u).await?;
    u.status = Status::Stored;
    // As mark_stored: a stored material leaves the expiry index; an import file stays in it.
    if u.purpose == Purpose::Material {
        u.expiry_sk = None;
    }
    Ok(u)
}

pub(crate) async fn mark_stored(svc: &Services, scope: &Scope, u: &Upload) -> Result<(), AppError> {
    let mut changes = vec![Change::Set(attr::STATUS, Value::S("stored".into()))];
    let mut writes = vec![];
    // A material stays until deleted; an import file stays watched until its import ends.
    if u.purpose == Purpose::Material
        && let Some(sk) = &u.expiry_sk
    {
        changes.push(Change::Remove(attr::EXPIRY));
        writes.push(Write::delete(
            Table::Data,
            layout::UPLOAD_EXPIRY_PK,
            sk.clone(),
        ));
    }
    writes.push(Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::upload_sk(&u.id),
        changes,
        cond: Some(Cond::Exists),
    });
    match svc.store.transact(writes).await {
        Ok(()) => Ok(()),
        Err(crate::ports::StoreError::ConditionFailed { .. }) => Err(AppError::NotFound("upload")),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the object, the record and its expiry entry, with an audit entry.
pub async fn erase(
    svc: &Services,
    scope: &Scope,
    u: &Upload,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    svc.files
        .delete(&u.key())
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?;
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut writes = vec![
        Write::delete(Table::Data, scope.pk(), layout::upload_sk(&u.id)),
        audit::entry(
            &scope.tenant,
            &log_key,
            actor,
            Entry {
                action: "upload.delete",
                target_type: "upload",
                target_id: &u.id,
            },
            now,
        ),
    ];
    if let Some(sk) = &u.expiry_sk {
        writes.push(Write::delete(
            Table::Data,
            layout::UPLOAD_EXPIRY_PK,
            sk.clone(),
        ));
    }
    svc.store.transact(writes).await?;
    Ok(())
}

/// The file's bytes as uploaded (opened with the tenant key on the local store); `None` if not there.
pub async fn read(svc: &Services, scope: &Scope, u: &Upload) -> Result<Option<Vec<u8>>, AppError> {
    let Some(bytes) = svc
        .files
        .read(&u.key())
        .await
        .map_err(|e| AppError::Internal(Box::new(e)))?
    else {
        return Ok(None);
    };
    if svc.files.sealed_by_app() {
        Ok(Some(scope.key.open_bytes(
            &context(&scope.tenant, &u.id, "content"),
            &bytes,
        )?))
    } else {
        Ok(Some(bytes))
    }
}

/// The object keys of the uploads among a page of a tenant's items, for the purge (which deletes the
/// objects before the records).
pub fn keys_of_items(items: &[Item], tenant: &TenantId) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| {
            let id = i.sk.strip_prefix(layout::UPLOAD_PREFIX)?;
            let purpose = i.s(attr::PURPOSE).and_then(Purpose::parse)?;
            Some(file_key(purpose, tenant, id))
        })
        .collect()
}

pub const MIB: u64 = 1024 * 1024;
