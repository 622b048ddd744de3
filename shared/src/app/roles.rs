//! Roles: the built-in ones (fixed, in code) and a tenant's custom roles (stored, names unique, deletable
//! only while nobody holds them and they are not the tenant's default); the tenant default role; assigning a
//! role to a user; the org-admin flag, whose last holder is kept by a counter condition.

use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::layout::{self, attr};
pub use crate::app::records::role::{RoleView, list};
use crate::app::records::role::{
    custom_view, encode_grants, grants_of, holder_change, name_digest,
};
use crate::app::records::user;
use crate::app::records::user::UserRecord;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::domain::ids::{RoleId, UserId, new_id};
use crate::domain::permissions::{self, Grants};
use crate::domain::values::{Name, comparison_form};
use crate::ports::{Change, Cond, Item, Table, Value, Write};

fn name_taken() -> AppError {
    AppError::conflict(
        "role_name_taken",
        "another role of this tenant already has this name",
    )
}

fn check_not_builtin_name(name: &Name) -> Result<(), AppError> {
    let c = comparison_form(name.as_str());
    if permissions::BUILTIN_ROLES
        .iter()
        .any(|r| comparison_form(r.name) == c || r.id == c)
    {
        return Err(name_taken());
    }
    Ok(())
}

/// Creates a custom role. Its grants must lie within the caller's own (`app::access`): a role that
/// outranks its maker cannot be made (the routes are for org admins, whom no role outranks; the rule holds
/// here so that no caller of this use case depends on that).
pub async fn create(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    name: Name,
    grants: Grants,
    now: OffsetDateTime,
) -> Result<RoleView, AppError> {
    by.check_role(&grants)?;
    let actor = &by.actor;
    check_not_builtin_name(&name)?;
    let id = new_id();
    let mut tx = Tx::new();
    tx.guard(
        Write::put_new(
            Table::Data,
            Item::new(scope.pk(), layout::role_name_sk(&name_digest(&name)))
                .with(attr::ROLE, Value::S(id.clone())),
        ),
        name_taken,
    );
    tx.push(Write::put_new(
        Table::Data,
        Item::new(scope.pk(), layout::role_sk(&id))
            .with(attr::NAME, Value::S(name.as_str().to_owned()))
            .with(attr::GRANTS, Value::S(encode_grants(&grants)))
            .with(attr::HOLDERS, Value::N(0))
            .with(attr::UPDATED, Value::N(now.unix_timestamp())),
    ));
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "role.create",
            target_type: "role",
            target_id: &id,
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(RoleView {
        id,
        name: name.as_str().to_owned(),
        builtin: false,
        grants,
    })
}

async fn load_custom(svc: &Services, scope: &Scope, id: &RoleId) -> Result<Item, AppError> {
    if id.builtin().is_some() {
        return Err(AppError::Forbidden(
            "built-in roles cannot be changed or deleted".into(),
        ));
    }
    svc.store
        .get(Table::Data, &scope.pk(), &layout::role_sk(id.as_str()))
        .await?
        .ok_or(AppError::NotFound("role"))
}

/// Renames a custom role or changes its grants. The caller must be able to give the role both as it is and
/// as it becomes (the same rule as `create`).
pub async fn update(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &RoleId,
    name: Option<Name>,
    grants: Option<Grants>,
    now: OffsetDateTime,
) -> Result<RoleView, AppError> {
    let actor = &by.actor;
    let item = load_custom(svc, scope, id).await?;
    let old = custom_view(&item);
    by.check_role(&old.grants)?;
    if let Some(g) = &grants {
        by.check_role(g)?;
    }
    let mut tx = Tx::new();
    let mut changes = vec![Change::Set(
        attr::UPDATED,
        Value::N(
            now.unix_timestamp()
                .max(item.n(attr::UPDATED).unwrap_or(0) + 1),
        ),
    )];
    if let Some(n) = &name {
        check_not_builtin_name(n)?;
        let old_name = Name::parse("name", &old.name)?;
        if name_digest(n) != name_digest(&old_name) {
            tx.push(Write::delete(
                Table::Data,
                scope.pk(),
                layout::role_name_sk(&name_digest(&old_name)),
            ));
            tx.guard(
                Write::put_new(
                    Table::Data,
                    Item::new(scope.pk(), layout::role_name_sk(&name_digest(n)))
                        .with(attr::ROLE, Value::S(id.to_string())),
                ),
                name_taken,
            );
        }
        changes.push(Change::Set(attr::NAME, Value::S(n.as_str().to_owned())));
    }
    if let Some(g) = &grants {
        changes.push(Change::Set(attr::GRANTS, Value::S(encode_grants(g))));
    }
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::role_sk(id.as_str()),
            changes,
            cond: Some(Cond::Eq(
                attr::UPDATED,
                Value::N(item.n(attr::UPDATED).unwrap_or(0)),
            )),
        },
        || {
            AppError::conflict(
                "conflict",
                "the role changed while this request ran; read it again and retry",
            )
        },
    );
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "role.update",
            target_type: "role",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(RoleView {
        id: id.to_string(),
        name: name.map(|n| n.as_str().to_owned()).unwrap_or(old.name),
        builtin: false,
        grants: grants.unwrap_or(old.grants),
    })
}

pub async fn delete(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    id: &RoleId,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let item = load_custom(svc, scope, id).await?;
    let name = Name::parse("name", item.s(attr::NAME).unwrap_or("?"))?;
    let mut tx = Tx::new();
    tx.guard(
        Write::Delete {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::role_sk(id.as_str()),
            cond: Some(Cond::Eq(attr::HOLDERS, Value::N(0))),
        },
        || {
            AppError::conflict(
                "role_in_use",
                "users still hold this role; give them another role first",
            )
        },
    );
    tx.push(Write::delete(
        Table::Data,
        scope.pk(),
        layout::role_name_sk(&name_digest(&name)),
    ));
    tx.guard(
        Write::Check {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            cond: Cond::Not(Box::new(Cond::Eq(
                attr::DEFAULT_ROLE,
                Value::S(id.to_string()),
            ))),
        },
        || {
            AppError::conflict(
                "role_in_use",
                "this role is the tenant's default role; choose another default first",
            )
        },
    );
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "role.delete",
            target_type: "role",
            target_id: id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await
}

/// Sets the role new users get when none is named (in the API and in CSV import). The route is for org
/// admins; the role rule holds here too, as for every role given.
pub async fn set_default(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    role_id: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let actor = &by.actor;
    let Some(grants) = grants_of(svc, scope, role_id).await? else {
        return Err(AppError::invalid(
            "role_id",
            format!("no role with id {role_id:?}"),
        ));
    };
    by.check_role(&grants)?;
    let mut tx = Tx::new();
    tx.push(Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::META.into(),
        changes: vec![Change::Set(
            attr::DEFAULT_ROLE,
            Value::S(role_id.to_owned()),
        )],
        cond: Some(Cond::Exists),
    });
    if permissions::builtin(role_id).is_none() {
        // The role must still exist as the default is set (a concurrent delete checks the default).
        tx.guard(
            Write::Check {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::role_sk(role_id),
                cond: Cond::Exists,
            },
            || AppError::invalid("role_id", "the role was deleted meanwhile"),
        );
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action: "tenant.default_role",
            target_type: "role",
            target_id: role_id,
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await
}

/// Gives a user another role. A caller who is not an org admin may only hand out roles whose grants lie
/// within their own, and only to accounts the target rule lets them act on.
pub async fn assign(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    user_id: &UserId,
    role_id: &str,
    now: OffsetDateTime,
) -> Result<UserRecord, AppError> {
    let grants = grants_of(svc, scope, role_id)
        .await?
        .ok_or_else(|| AppError::invalid("role_id", format!("no role with id {role_id:?}")))?;
    by.check_role(&grants)?;
    let mut user = user::load(svc, scope, user_id).await?;
    by.check_target(svc, scope, &user).await?;
    if user.role_id == role_id {
        return Ok(user);
    }
    let mut tx = Tx::new();
    let old_role = std::mem::replace(&mut user.role_id, role_id.to_owned());
    let old_updated = user.updated;
    user.updated = now.unix_timestamp().max(old_updated + 1);
    tx.guard(user.profile_write(scope, old_updated), user::user_changed);
    if let Some(w) = holder_change(scope, role_id, 1) {
        tx.guard(w, || {
            AppError::invalid("role_id", "the role was deleted meanwhile")
        });
    }
    if let Some(w) = holder_change(scope, &old_role, -1) {
        tx.push(w);
    }
    let log_key = svc.log_key(&scope.tenant).await?;
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: "user.role",
            target_type: "user",
            target_id: user_id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(user)
}

/// Makes a user an org admin (`true`) or takes the flag away (`false`). The tenant's `org_admins` counter
/// changes in the same transaction; it never drops below 1, also when two admins demote each other at once.
pub async fn set_org_admin(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    user_id: &UserId,
    on: bool,
    now: OffsetDateTime,
) -> Result<UserRecord, AppError> {
    by.require_org_admin()?;
    let actor = &by.actor;
    let mut user = user::load(svc, scope, user_id).await?;
    if user.org_admin == on {
        return Ok(user);
    }
    // The `org_admins` count holds enabled org admins only; a disabled user changes flag once enabled.
    if user.status == user::Status::Disabled {
        return Err(user::user_disabled());
    }
    let old_updated = user.updated;
    user.org_admin = on;
    user.updated = now.unix_timestamp().max(old_updated + 1);
    let mut tx = Tx::new();
    tx.guard(user.profile_write(scope, old_updated), user::user_changed);
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            changes: vec![Change::Add(attr::ORG_ADMINS, if on { 1 } else { -1 })],
            cond: Some(if on {
                Cond::Exists
            } else {
                Cond::Ge(attr::ORG_ADMINS, 2)
            }),
        },
        || {
            AppError::conflict(
                "last_org_admin",
                "a tenant keeps at least one organisation admin",
            )
        },
    );
    let log_key = svc.log_key(&scope.tenant).await?;
    let action = if on {
        "user.org_admin.grant"
    } else {
        "user.org_admin.revoke"
    };
    tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        actor,
        Entry {
            action,
            target_type: "user",
            target_id: user_id.as_str(),
        },
        now,
    ));
    tx.commit(svc.store.as_ref()).await?;
    Ok(user)
}
