//! Users as SCIM provisions them (issue 18): Kanri's user plus what SCIM keeps beside it (`externalId`, the
//! name's parts, the enterprise extension's `employeeNumber` and `department`), sealed in the user's
//! `SCIMU#<user>` item. The protocol (JSON, filters, PATCH) is the HTTP layer's; these are the use cases it
//! calls, with the SCIM token as the actor of every change and the same rules as the API: seats, guards,
//! the last org admin, the operation log.

use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Entry};
use crate::app::layout::{self, attr};
use crate::app::records::role;
use crate::app::records::scim::MAX_EXTRA;
use crate::app::records::tenant;
use crate::app::records::user;
use crate::app::records::user::{Delivery, NewUser, Patch, Status, UserChanges, UserRecord};
use crate::app::users;
use crate::app::{AppError, Scope, Services, mail};
use crate::domain::ids::UserId;
use crate::domain::values::{Email, Login, LoginId, Name};
use crate::ports::{Item, Query, Table, Value, Write};

/// The attributes SCIM keeps beside Kanri's profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_number: Option<String>,
    pub department: Option<String>,
    /// `displayName` and `name.formatted` as sent (Kanri's name is derived from them).
    pub display_name: Option<String>,
    pub formatted: Option<String>,
    /// The `type` and `primary` (`"true"`/`"false"`) of the address's `emails` value, as sent.
    pub email_type: Option<String>,
    pub email_primary: Option<String>,
    /// `"login_id"` when SCIM named the user by its login id (a `userName` that is not an address): its
    /// `userName` is then the login id even when it has an address too, as SCIM sent it.
    pub user_name: Option<String>,
}

const FIELDS: [&str; 10] = [
    "external_id",
    "given_name",
    "family_name",
    "employee_number",
    "department",
    "display_name",
    "formatted",
    "email_type",
    "email_primary",
    "user_name",
];

impl Extra {
    fn fields(&self) -> [&Option<String>; 10] {
        [
            &self.external_id,
            &self.given_name,
            &self.family_name,
            &self.employee_number,
            &self.department,
            &self.display_name,
            &self.formatted,
            &self.email_type,
            &self.email_primary,
            &self.user_name,
        ]
    }

    fn item(&self, scope: &Scope, id: &UserId) -> Item {
        let mut item = Item::new(scope.pk(), layout::scim_user_sk(id));
        for (name, v) in FIELDS.iter().zip(self.fields()) {
            if let Some(v) = v {
                let ctx = scope.context(id.as_str(), &format!("scim.{name}"));
                item = item.with(name, Value::B(scope.key.seal(&ctx, v)));
            }
        }
        item
    }

    fn from_item(scope: &Scope, id: &UserId, item: Option<&Item>) -> Result<Self, AppError> {
        let Some(item) = item else {
            return Ok(Extra::default());
        };
        let open = |name: &str| -> Result<Option<String>, AppError> {
            match item.b(name) {
                Some(b) => {
                    let ctx = scope.context(id.as_str(), &format!("scim.{name}"));
                    Ok(Some(scope.key.open(&ctx, b)?))
                }
                None => Ok(None),
            }
        };
        Ok(Extra {
            external_id: open(FIELDS[0])?,
            given_name: open(FIELDS[1])?,
            family_name: open(FIELDS[2])?,
            employee_number: open(FIELDS[3])?,
            department: open(FIELDS[4])?,
            display_name: open(FIELDS[5])?,
            formatted: open(FIELDS[6])?,
            email_type: open(FIELDS[7])?,
            email_primary: open(FIELDS[8])?,
            user_name: open(FIELDS[9])?,
        })
    }

    /// Refuses values too long or with invisible characters, as names are.
    pub fn check(&self) -> Result<(), AppError> {
        for (name, v) in FIELDS.iter().zip(self.fields()) {
            if let Some(v) = v {
                if v.chars().count() > MAX_EXTRA {
                    return Err(AppError::invalid(
                        "scim",
                        format!("{name} has at most {MAX_EXTRA} characters"),
                    ));
                }
                if v.chars().any(char::is_control) {
                    return Err(AppError::invalid(
                        "scim",
                        format!("{name} holds a control character"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A user as SCIM shows it.
#[derive(Clone, Debug)]
pub struct ScimUser {
    pub user: UserRecord,
    pub extra: Extra,
    /// SCIM has written the user's attributes (created or replaced it): its `displayName` and `name` are
    /// then SCIM's as sent; otherwise they show Kanri's name.
    pub provisioned: bool,
}

/// What a SCIM request asks a user to be.
pub struct Desired {
    pub name: Name,
    pub email: Option<Email>,
    pub login_id: Option<LoginId>,
    pub active: bool,
    pub extra: Extra,
}

pub async fn load(svc: &Services, scope: &Scope, id: &UserId) -> Result<ScimUser, AppError> {
    let keys = [
        (scope.pk(), layout::user_sk(id)),
        (scope.pk(), layout::scim_user_sk(id)),
    ];
    let items = svc.store.batch_get(Table::Data, &keys).await?;
    let user = items
        .iter()
        .find(|i| i.sk == keys[0].1)
        .ok_or(AppError::NotFound("user"))?;
    let user = UserRecord::from_item(scope, user)?;
    let scim_item = items.iter().find(|i| i.sk == keys[1].1);
    let extra = Extra::from_item(scope, id, scim_item)?;
    Ok(ScimUser {
        user,
        extra,
        provisioned: scim_item.is_some(),
    })
}

async fn all_items(svc: &Services, scope: &Scope, prefix: &str) -> Result<Vec<Item>, AppError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = svc
            .store
            .query(
                &Query::prefix(Table::Data, scope.pk(), prefix)
                    .after(after)
                    .limit(500),
            )
            .await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// Every user of the tenant in creation order (a SCIM filter is evaluated over them: its results and
/// `totalResults` are exact, and paging by `startIndex` is stable while nobody is created or deleted).
pub async fn all(svc: &Services, scope: &Scope) -> Result<Vec<ScimUser>, AppError> {
    let users = all_items(svc, scope, layout::USER_PREFIX).await?;
    let extras = all_items(svc, scope, layout::SCIM_USER_PREFIX).await?;
    let extras: std::collections::HashMap<&str, &Item> = extras
        .iter()
        .map(|i| {
            (
                i.sk.strip_prefix(layout::SCIM_USER_PREFIX)
                    .unwrap_or_default(),
                i,
            )
        })
        .collect();
    users
        .iter()
        .map(|i| {
            let user = UserRecord::from_item(scope, i)?;
            let item = extras.get(user.id.as_str()).copied();
            let extra = Extra::from_item(scope, &user.id, item)?;
            Ok(ScimUser {
                user,
                extra,
                provisioned: item.is_some(),
            })
        })
        .collect()
}

/// The user whose e-mail address or login id is `login` (the look-up of a `userName eq` filter).
pub async fn find_by_login(
    svc: &Services,
    scope: &Scope,
    login: &str,
) -> Result<Option<ScimUser>, AppError> {
    let Some(login) = Login::parse(login) else {
        return Ok(None);
    };
    let sk = match &login {
        Login::Email(e) => layout::email_guard_sk(&user::email_index(&scope.key, e)),
        Login::LoginId(l) => layout::login_guard_sk(&user::login_index(&scope.key, l)),
    };
    let Some(guard) = svc.store.get(Table::Data, &scope.pk(), &sk).await? else {
        return Ok(None);
    };
    let id = UserId::from_stored(guard.s(attr::USER).unwrap_or_default());
    match load(svc, scope, &id).await {
        Ok(u) => Ok(Some(u)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates a user with the tenant's default role in one transaction with its seat (none when created
/// inactive: it is created disabled), guards and SCIM attributes. A user with an e-mail address is mailed
/// an invitation link; one without gets no credential (an admin re-issues one, or the tenant signs in by SSO
/// once Kanri offers it: the hook is here).
pub async fn create(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    d: Desired,
    now: OffsetDateTime,
) -> Result<ScimUser, AppError> {
    d.extra.check()?;
    let tenant = tenant::load(svc, &scope.tenant).await?;
    let role_id = tenant.default_role_id.clone();
    // With an address: an invitation link. Without one there is nowhere to send a credential: a generated
    // password nobody is shown, so the user signs in once an admin re-issues one (or, once Kanri offers
    // it, by the tenant's SSO: the hook for that is here).
    let delivery = if d.email.is_some() {
        Delivery::InviteLink
    } else {
        Delivery::Generated
    };
    let new = NewUser {
        name: d.name,
        email: d.email,
        login_id: d.login_id,
        delivery,
        role_id: Some(role_id.clone()),
        org_admin: false,
        group_ids: vec![],
    };
    let mut w = user::creation_writes_as(
        svc,
        scope,
        new,
        role_id,
        Some(tenant.seat_limit),
        tenant.policy.generated_password_chars(),
        !d.active,
        now,
    )
    .await?;
    let id = w.record.id.clone();
    if let Some(h) = role::holder_change(scope, &w.record.role_id, 1) {
        w.tx.guard(h, || {
            AppError::invalid("role_id", "the default role was deleted meanwhile")
        });
    }
    w.tx.push(Write::put_new(Table::Data, d.extra.item(scope, &id)));
    let log_key = svc.log_key(&scope.tenant).await?;
    w.tx.push(audit::entry(
        &scope.tenant,
        &log_key,
        &by.actor,
        Entry {
            action: "user.create",
            target_type: "user",
            target_id: id.as_str(),
        },
        now,
    ));
    w.tx.commit(svc.store.as_ref()).await?;
    if let (Some(token), Some(email)) = (&w.invitation, &w.record.email) {
        let link = user::set_password_link(svc, token);
        let m = mail::invitation(email, &w.record.name, &tenant.name, &link);
        svc.send_mail(&scope.tenant, "invitation", m, now).await;
    }
    Ok(ScimUser {
        user: w.record,
        extra: d.extra,
        provisioned: true,
    })
}

/// Makes a user what a PUT (or a PATCH, applied to the user's representation) asks: first the status (a
/// seat is taken or given back; 409 `seat_limit_reached` changes nothing), then name, address and login
/// id (as `PATCH /v1/users/{id}`, with its guards), then the SCIM attributes. Each step is its own
/// transaction; a step refused leaves the earlier ones done, and says why.
pub async fn replace(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    d: Desired,
    now: OffsetDateTime,
) -> Result<ScimUser, AppError> {
    d.extra.check()?;
    let old = load(svc, scope, id).await?;
    replace_from(svc, scope, by, id, old, d, now).await
}

/// [`replace`] of a user read already (a PATCH applies its operations to what it read).
pub async fn replace_from(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    id: &UserId,
    old: ScimUser,
    d: Desired,
    now: OffsetDateTime,
) -> Result<ScimUser, AppError> {
    d.extra.check()?;
    let was_active = old.user.status != Status::Disabled;
    let mut status = old.user.status;
    // The user as the last step left it (`None`: as stored, read again at the end).
    let mut current = Some(old.user.clone());
    if d.active != was_active {
        let u = users::set_disabled(svc, scope, by, id, !d.active, now).await?;
        status = u.status;
        current = Some(u);
    }
    let email = match (&d.email, &old.user.email) {
        (Some(e), Some(o)) if e.as_str() == o => Patch::Keep,
        (Some(e), _) => Patch::Set(e.clone()),
        (None, None) => Patch::Keep,
        (None, Some(_)) => Patch::Clear,
    };
    let login_id = match (&d.login_id, &old.user.login_id) {
        (Some(l), Some(o)) if l.as_str() == o => Patch::Keep,
        (Some(l), _) => Patch::Set(l.clone()),
        // SCIM names a user by one of the two: a login id it does not send is kept.
        (None, _) => Patch::Keep,
    };
    // An invited user left without an address (the directory removed it, or enabled a user who never had
    // one) cannot use an invitation: it is left as SCIM creates a user without an address, with a generated
    // password nobody is shown (an admin re-issues one, or the tenant's SSO signs it in). The invitation
    // mailed to a removed address stops working.
    if d.email.is_none() && status == Status::Invited && old.user.password_hash.is_none() {
        users::reissue(svc, scope, by, id, Delivery::Generated, now).await?;
        current = None;
    }
    let renamed = d.name.as_str() != old.user.name;
    if renamed || !matches!(email, Patch::Keep) || !matches!(login_id, Patch::Keep) {
        let changes = UserChanges {
            name: renamed.then_some(d.name),
            email,
            login_id,
        };
        current = Some(users::update(svc, scope, by, id, changes, now).await?);
    }
    let extra_written = d.extra != old.extra || !old.provisioned;
    if extra_written {
        let mut tx = crate::app::tx::Tx::new();
        tx.guard(
            Write::Check {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::user_sk(id),
                cond: crate::ports::Cond::Exists,
            },
            || AppError::NotFound("user"),
        );
        tx.push(Write::Put {
            table: Table::Data,
            item: d.extra.item(scope, id),
            cond: None,
        });
        let log_key = svc.log_key(&scope.tenant).await?;
        tx.push(audit::entry(
            &scope.tenant,
            &log_key,
            &by.actor,
            Entry {
                action: "user.update",
                target_type: "user",
                target_id: id.as_str(),
            },
            now,
        ));
        tx.commit(svc.store.as_ref()).await?;
    }
    // What was written is known: the user is read again only after a re-issue (whose record no step
    // answers).
    match current {
        Some(user) => Ok(ScimUser {
            user,
            extra: if extra_written { d.extra } else { old.extra },
            provisioned: true,
        }),
        None => load(svc, scope, id).await,
    }
}
