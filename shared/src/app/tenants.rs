//! Tenants: created by the operator together with their first org admin (invited by link), read and
//! changed by the operator, read by their users.

use time::{Date, OffsetDateTime};

use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
use crate::app::records::tenant::{DATE, TenantRecord, load};
use crate::app::records::user;
use crate::app::records::user::{Delivery, NewUser, UserRecord};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services, key_contexts, mail};
use crate::crypto::TenantKey;
use crate::domain::ids::TenantId;
use crate::domain::permissions;
use crate::domain::values::{Email, Name, Slug};
use crate::ports::{Change, Cond, Item, Table, Value, Write};

pub struct NewTenant {
    pub slug: Slug,
    pub name: Name,
    pub seat_limit: i64,
    pub admin_name: Name,
    pub admin_email: Email,
}

pub struct CreatedTenant {
    pub tenant: TenantRecord,
    pub admin: UserRecord,
}

/// Creates the tenant, its data and log keys, and its first org admin (invited by link), all in one
/// transaction; then mails the invitation.
pub async fn create(
    svc: &Services,
    new: NewTenant,
    now: OffsetDateTime,
) -> Result<CreatedTenant, AppError> {
    let id = TenantId::generate();
    let (data_ctx, log_ctx) = key_contexts(&id);
    let (data_key, wrapped_data) = svc.keys.generate(&data_ctx).await?;
    let (log_key, wrapped_log) = svc.keys.generate(&log_ctx).await?;
    let scope = Scope {
        tenant: id.clone(),
        key: std::sync::Arc::new(TenantKey::new(&data_key)),
    };
    let log_key = TenantKey::new(&log_key);
    let ts = now.unix_timestamp();
    let tenant = TenantRecord {
        id: id.clone(),
        slug: new.slug.as_str().to_owned(),
        name: new.name.as_str().to_owned(),
        seat_limit: new.seat_limit,
        seats_used: 1,
        default_role_id: permissions::DEFAULT_ROLE.to_owned(),
        contract_end: None,
        created: ts,
        policy: Default::default(),
    };
    let admin = NewUser {
        name: new.admin_name,
        email: Some(new.admin_email),
        login_id: None,
        delivery: Delivery::InviteLink,
        role_id: None,
        org_admin: true,
        group_ids: vec![],
    };
    let mut w = user::creation_writes(
        svc,
        &scope,
        admin,
        "admin".to_owned(),
        None,
        crate::crypto::GENERATED_CHARS,
        now,
    )
    .await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::put_new(
            Table::Data,
            Item::new(layout::slug_pk(&tenant.slug), layout::SLUG_SK)
                .with(attr::TENANT, Value::S(id.to_string())),
        ),
        || AppError::conflict("slug_taken", "another tenant already uses this slug"),
    );
    tx.push(Write::put_new(
        Table::Data,
        Item::new(scope.pk(), layout::META)
            .with(attr::SLUG, Value::S(tenant.slug.clone()))
            .with(attr::NAME, Value::S(tenant.name.clone()))
            .with(attr::SEAT_LIMIT, Value::N(tenant.seat_limit))
            .with(attr::SEATS_USED, Value::N(1))
            .with(attr::ORG_ADMINS, Value::N(1))
            .with(attr::DEFAULT_ROLE, Value::S(tenant.default_role_id.clone()))
            .with(attr::CREATED, Value::N(ts)),
    ));
    // The wrapped data key lives in the keys table, which no backup copies: deleting it at the purge
    // makes the tenant's data unreadable in every backup generation too.
    tx.push(Write::put_new(
        Table::Keys,
        Item::new(scope.pk(), layout::DATA_KEY_SK).with(attr::DATA_KEY, Value::B(wrapped_data.0)),
    ));
    tx.push(Write::put_new(
        Table::Data,
        Item::new(layout::REGISTRY_PK, layout::registry_sk(&id)).with(attr::CREATED, Value::N(ts)),
    ));
    tx.push(Write::put_new(
        Table::Log,
        Item::new(layout::log_key_pk(&id), layout::LOG_KEY_SK)
            .with(attr::LOG_KEY, Value::B(wrapped_log.0)),
    ));
    tx.append(std::mem::take(&mut w.tx));
    tx.push(audit::entry(
        &id,
        &log_key,
        &Actor::Operator,
        Entry {
            action: "tenant.create",
            target_type: "tenant",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    if let (Some(token), Some(email)) = (&w.invitation, &w.record.email) {
        let link = user::set_password_link(svc, token);
        let m = mail::invitation(email, &w.record.name, &tenant.name, &link);
        svc.send_mail(&id, "invitation", m, now).await;
    }
    Ok(CreatedTenant {
        tenant,
        admin: w.record,
    })
}

pub struct TenantChanges {
    pub name: Option<Name>,
    pub seat_limit: Option<i64>,
}

/// The operator changes name or seat limit. Lowering the limit below the seats in use is refused.
pub async fn update(
    svc: &Services,
    id: &TenantId,
    changes: TenantChanges,
    now: OffsetDateTime,
) -> Result<TenantRecord, AppError> {
    let mut set = vec![];
    let mut conds = vec![Cond::Exists];
    if let Some(n) = &changes.name {
        set.push(Change::Set(attr::NAME, Value::S(n.as_str().to_owned())));
    }
    if let Some(limit) = changes.seat_limit {
        set.push(Change::Set(attr::SEAT_LIMIT, Value::N(limit)));
        // seats_used <= limit, checked against the live counter in the same write.
        conds.push(Cond::Lt(attr::SEATS_USED, limit + 1));
    }
    let current = load(svc, id).await?;
    if set.is_empty() {
        return Ok(current);
    }
    // A transaction returns no item: the answer is the item read above with what was written (its other
    // fields, e.g. the seats in use, as read then), not a read after it.
    let mut updated = current;
    if let Some(n) = &changes.name {
        updated.name = n.as_str().to_owned();
    }
    if let Some(limit) = changes.seat_limit {
        updated.seat_limit = limit;
    }
    let log_key = svc.log_key(id).await?;
    let mut tx = Tx::new();
    let tid = id.clone();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: layout::tenant_pk(id),
            sk: layout::META.into(),
            changes: set,
            cond: Some(Cond::And(conds)),
        },
        move || match changes.seat_limit {
            Some(l) => AppError::conflict(
                "seat_limit_below_usage",
                format!(
                    "seat_limit {l} is below the seats in use of tenant {tid}; delete users first"
                ),
            ),
            None => AppError::NotFound("tenant"),
        },
    );
    tx.push(audit::entry(
        id,
        &log_key,
        &Actor::Operator,
        Entry {
            action: "tenant.update",
            target_type: "tenant",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(updated)
}

/// Ends the contract on `contract_end` (a date in JST): from the next day logins answer `contract_ended`,
/// sessions are capped at the end, and the purge erases the tenant's data 90 days later. An end already
/// past also ends every session now.
pub async fn terminate(
    svc: &Services,
    id: &TenantId,
    contract_end: Date,
    now: OffsetDateTime,
) -> Result<TenantRecord, AppError> {
    load(svc, id).await?;
    let end = Value::S(
        contract_end
            .format(DATE)
            .map_err(|e| AppError::Internal(Box::new(e)))?,
    );
    let log_key = svc.log_key(id).await?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: layout::tenant_pk(id),
            sk: layout::META.into(),
            changes: vec![Change::Set(attr::CONTRACT_END, end.clone())],
            cond: Some(Cond::Exists),
        },
        || AppError::NotFound("tenant"),
    );
    tx.push(Write::Update {
        table: Table::Data,
        pk: layout::REGISTRY_PK.into(),
        sk: layout::registry_sk(id),
        changes: vec![Change::Set(attr::CONTRACT_END, end)],
        cond: None,
    });
    tx.push(audit::entry(
        id,
        &log_key,
        &Actor::Operator,
        Entry {
            action: "tenant.terminate",
            target_type: "tenant",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    let tenant = load(svc, id).await?;
    if tenant.contract_ended(now) {
        let scope = svc.scope(id).await?;
        let mut after = None;
        loop {
            let page = svc
                .store
                .query(
                    &crate::ports::Query::prefix(Table::Data, scope.pk(), layout::USER_PREFIX)
                        .after(after)
                        .limit(200),
                )
                .await?;
            for item in &page.items {
                let uid = crate::domain::ids::UserId::from_stored(
                    item.sk
                        .strip_prefix(layout::USER_PREFIX)
                        .unwrap_or_default(),
                );
                crate::app::records::token::revoke_tokens(
                    svc,
                    &scope,
                    &uid,
                    &[crate::app::records::token::SESSION],
                    None,
                )
                .await?;
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    Ok(tenant)
}
