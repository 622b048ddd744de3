//! The tenant record (the META item of its partition): its codec, load, look-up by slug, contract dates.

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::app::layout::{self, attr};
use crate::app::{AppError, Services};
use crate::domain::ids::TenantId;
use crate::domain::permissions;
use crate::domain::time::jst_from_unix;
use crate::domain::values::Slug;
use crate::ports::{Item, Table};

#[derive(Clone, Debug)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub seat_limit: i64,
    pub seats_used: i64,
    pub default_role_id: String,
    pub contract_end: Option<Date>,
    pub created: i64,
    /// The sign-in policy (`app::sign_in_policy`), stored on the same item.
    pub policy: crate::app::records::policy::SignInPolicy,
}

#[derive(Clone, Debug, Serialize)]
pub struct TenantView {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub seat_limit: i64,
    pub seats_used: i64,
    pub default_role_id: String,
    pub contract_end: Option<String>,
    pub created_at: String,
}

pub(crate) const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl TenantRecord {
    pub fn view(&self) -> TenantView {
        TenantView {
            id: self.id.clone(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            seat_limit: self.seat_limit,
            seats_used: self.seats_used,
            default_role_id: self.default_role_id.clone(),
            contract_end: self.contract_end.and_then(|d| d.format(DATE).ok()),
            created_at: jst_from_unix(self.created),
        }
    }

    pub(crate) fn from_item(id: &TenantId, item: &Item) -> Self {
        TenantRecord {
            id: id.clone(),
            slug: item.s(attr::SLUG).unwrap_or_default().to_owned(),
            name: item.s(attr::NAME).unwrap_or_default().to_owned(),
            seat_limit: item.n(attr::SEAT_LIMIT).unwrap_or(0),
            seats_used: item.n(attr::SEATS_USED).unwrap_or(0),
            default_role_id: item
                .s(attr::DEFAULT_ROLE)
                .unwrap_or(permissions::DEFAULT_ROLE)
                .to_owned(),
            contract_end: item
                .s(attr::CONTRACT_END)
                .and_then(|s| Date::parse(s, DATE).ok()),
            created: item.n(attr::CREATED).unwrap_or(0),
            policy: crate::app::records::policy::SignInPolicy::from_item(item),
        }
    }

    /// The last moment of the contract: the end of its last day in JST.
    pub fn contract_last_moment(&self) -> Option<OffsetDateTime> {
        let end = self.contract_end?.next_day()?;
        Some(end.midnight().assume_offset(crate::domain::time::JST))
    }

    /// Logins stop after the contract's last day (JST).
    pub fn contract_ended(&self, now: OffsetDateTime) -> bool {
        self.contract_end
            .is_some_and(|end| now.to_offset(crate::domain::time::JST).date() > end)
    }
}

pub async fn load(svc: &Services, id: &TenantId) -> Result<TenantRecord, AppError> {
    let item = svc
        .store
        .get(Table::Data, &layout::tenant_pk(id), layout::META)
        .await?
        .ok_or(AppError::NotFound("tenant"))?;
    Ok(TenantRecord::from_item(id, &item))
}

/// The tenant a slug names, if any.
pub async fn by_slug(svc: &Services, slug: &str) -> Result<Option<TenantId>, AppError> {
    let Ok(slug) = Slug::parse(slug) else {
        return Ok(None);
    };
    let item = svc
        .store
        .get(
            Table::Data,
            &layout::slug_pk(slug.as_str()),
            layout::SLUG_SK,
        )
        .await?;
    Ok(item.and_then(|i| i.s(attr::TENANT).map(TenantId::from_stored)))
}

pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, DATE).ok()
}
