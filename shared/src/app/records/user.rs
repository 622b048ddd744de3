//! The user record: the item and its codec, the blind indexes and guard items, load, the writes that create
//! a user (seat, guards, invitation) and the errors of a changed or disabled user.

use secrecy::SecretString;
use serde::Serialize;
use time::OffsetDateTime;

use crate::app::layout::{self, attr};
use crate::app::records::token::writes_of_token;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto::{self, TenantKey};
use crate::domain::ids::UserId;
use crate::domain::permissions;
use crate::domain::time::jst_from_unix;
use crate::domain::values::{Email, LoginId, Name};
use crate::ports::{Change, Cond, Item, Table, Value, Write};

pub const EMAIL_KIND: &str = "email";

pub const LOGIN_KIND: &str = "login";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Invited,
    Active,
    /// Cannot log in and holds no seat; keeps data, groups and role (issue 18).
    Disabled,
}

impl Status {
    /// The status as stored and as the API and exports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Invited => "invited",
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }

    /// The status a query parameter names.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "invited" => Some(Status::Invited),
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// A user as the use cases see it: decrypted.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub login_id: Option<String>,
    pub email_index: Option<String>,
    pub login_index: Option<String>,
    pub role_id: String,
    pub org_admin: bool,
    pub group_ids: Vec<String>,
    pub status: Status,
    pub must_change_password: bool,
    pub password_hash: Option<String>,
    /// An active second factor (`app::mfa`): the password alone opens no session. Read from the stored
    /// item only; the profile writes never touch the factor's attributes.
    pub mfa: bool,
    pub created: i64,
    pub updated: i64,
}

/// The user object of the API.
#[derive(Clone, Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub login_id: Option<String>,
    pub role_id: String,
    pub org_admin: bool,
    pub group_ids: Vec<String>,
    pub status: Status,
    pub must_change_password: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl UserRecord {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            login_id: self.login_id.clone(),
            role_id: self.role_id.clone(),
            org_admin: self.org_admin,
            group_ids: self.group_ids.clone(),
            status: self.status,
            must_change_password: self.must_change_password,
            created_at: jst_from_unix(self.created),
            updated_at: jst_from_unix(self.updated),
        }
    }

    /// The identities a password must not equal.
    pub fn identities(&self) -> Vec<&str> {
        self.email
            .iter()
            .chain(self.login_id.iter())
            .map(String::as_str)
            .collect()
    }

    pub fn to_item(&self, scope: &Scope) -> Item {
        let id = self.id.as_str();
        let seal = |field: &str, v: &str| Value::B(scope.key.seal(&scope.context(id, field), v));
        let mut item = Item::new(scope.pk(), layout::user_sk(&self.id))
            .with(attr::NAME, seal(attr::NAME, &self.name))
            .with(attr::ROLE, Value::S(self.role_id.clone()))
            .with(attr::ORG_ADMIN, Value::Bool(self.org_admin))
            .with(attr::STATUS, Value::S(self.status.as_str().into()))
            .with(attr::MUST_CHANGE, Value::Bool(self.must_change_password))
            .with(attr::CREATED, Value::N(self.created))
            .with(attr::UPDATED, Value::N(self.updated));
        if let (Some(e), Some(i)) = (&self.email, &self.email_index) {
            item = item
                .with(attr::EMAIL, seal(attr::EMAIL, e))
                .with(attr::EMAIL_INDEX, Value::S(i.clone()));
        }
        if let (Some(l), Some(i)) = (&self.login_id, &self.login_index) {
            item = item
                .with(attr::LOGIN_ID, seal(attr::LOGIN_ID, l))
                .with(attr::LOGIN_INDEX, Value::S(i.clone()));
        }
        if let Some(h) = &self.password_hash {
            item = item.with(attr::PASSWORD, Value::S(h.clone()));
        }
        if !self.group_ids.is_empty() {
            item = item.with(
                attr::GROUPS,
                Value::Ss(self.group_ids.iter().cloned().collect()),
            );
        }
        item
    }

    /// The write that stores this profile over the stored one, provided nobody changed the profile since
    /// it was read (`updated` still `read_updated`). It sets or removes each profile attribute one by one
    /// and never touches the groups set: that belongs to the membership writes, which a profile change
    /// racing them must not undo (a whole-item put did).
    pub(crate) fn profile_write(&self, scope: &Scope, read_updated: i64) -> Write {
        let mut item = self.to_item(scope);
        let changes = PROFILE_ATTRS
            .iter()
            .map(|a| match item.attrs.remove(*a) {
                Some(v) => Change::Set(a, v),
                None => Change::Remove(a),
            })
            .collect();
        Write::Update {
            table: Table::Data,
            pk: item.pk,
            sk: item.sk,
            changes,
            cond: Some(Cond::Eq(attr::UPDATED, Value::N(read_updated))),
        }
    }

    pub fn from_item(scope: &Scope, item: &Item) -> Result<Self, AppError> {
        let id = item
            .sk
            .strip_prefix(layout::USER_PREFIX)
            .unwrap_or_default()
            .to_owned();
        let open = |field: &str| -> Result<Option<String>, AppError> {
            match item.b(field) {
                Some(b) => Ok(Some(scope.key.open(&scope.context(&id, field), b)?)),
                None => Ok(None),
            }
        };
        Ok(UserRecord {
            name: open(attr::NAME)?.unwrap_or_default(),
            email: open(attr::EMAIL)?,
            login_id: open(attr::LOGIN_ID)?,
            email_index: item.s(attr::EMAIL_INDEX).map(str::to_owned),
            login_index: item.s(attr::LOGIN_INDEX).map(str::to_owned),
            role_id: item
                .s(attr::ROLE)
                .unwrap_or(permissions::DEFAULT_ROLE)
                .to_owned(),
            org_admin: item.bool(attr::ORG_ADMIN).unwrap_or(false),
            group_ids: item.ss(attr::GROUPS),
            status: match item.s(attr::STATUS) {
                Some("active") => Status::Active,
                Some("disabled") => Status::Disabled,
                _ => Status::Invited,
            },
            must_change_password: item.bool(attr::MUST_CHANGE).unwrap_or(false),
            password_hash: item.s(attr::PASSWORD).map(str::to_owned),
            mfa: active(item),
            created: item.n(attr::CREATED).unwrap_or(0),
            updated: item.n(attr::UPDATED).unwrap_or(0),
            id: UserId::from_stored(id),
        })
    }
}

/// Every attribute of a user item but the groups set and its revision (see [`UserRecord::profile_write`]).
pub(crate) const PROFILE_ATTRS: [&str; 12] = [
    attr::NAME,
    attr::EMAIL,
    attr::EMAIL_INDEX,
    attr::LOGIN_ID,
    attr::LOGIN_INDEX,
    attr::ROLE,
    attr::ORG_ADMIN,
    attr::STATUS,
    attr::MUST_CHANGE,
    attr::PASSWORD,
    attr::CREATED,
    attr::UPDATED,
];

pub fn email_index(key: &TenantKey, e: &Email) -> String {
    key.blind_index(EMAIL_KIND, &e.comparison())
}

pub fn login_index(key: &TenantKey, l: &LoginId) -> String {
    key.blind_index(LOGIN_KIND, &l.comparison())
}

pub(crate) fn guard_item(scope: &Scope, sk: String, user: &UserId) -> Item {
    Item::new(scope.pk(), sk).with(attr::USER, Value::S(user.to_string()))
}

pub(crate) fn user_changed() -> AppError {
    AppError::conflict(
        "conflict",
        "the user changed while this request ran; read it again and retry",
    )
}

pub(crate) fn email_taken() -> AppError {
    AppError::conflict(
        "email_taken",
        "this e-mail address is already used by another user of this tenant",
    )
}

pub(crate) fn login_taken() -> AppError {
    AppError::conflict(
        "login_id_taken",
        "this login id is already used by another user of this tenant",
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    InviteLink,
    Generated,
}

/// Groups a new user may be put in by the creating request (two writes each in its transaction).
pub const MAX_GROUPS_ON_CREATE: usize = 20;

pub struct NewUser {
    pub name: Name,
    pub email: Option<Email>,
    pub login_id: Option<LoginId>,
    pub delivery: Delivery,
    pub role_id: Option<String>,
    pub org_admin: bool,
    pub group_ids: Vec<crate::domain::ids::GroupId>,
}

/// The writes that create a user: the profile, its guards, one seat, and the invitation token when mailed.
/// Returned with the record and the invitation token, so tenant creation can add its own items to the
/// same transaction.
pub(crate) struct UserWrites {
    pub tx: Tx,
    pub record: UserRecord,
    pub invitation: Option<SecretString>,
    pub initial_password: Option<SecretString>,
}

/// `password_chars`: the length of a generated password (the tenant's policy,
/// `SignInPolicy::generated_password_chars`).
pub(crate) async fn creation_writes(
    svc: &Services,
    scope: &Scope,
    new: NewUser,
    role_id: String,
    seat_limit: Option<i64>,
    password_chars: usize,
    now: OffsetDateTime,
) -> Result<UserWrites, AppError> {
    creation_writes_as(
        svc,
        scope,
        new,
        role_id,
        seat_limit,
        password_chars,
        false,
        now,
    )
    .await
}

/// [`creation_writes`] of a user created `disabled` (by SCIM with `active: false`): no seat is taken and
/// no invitation is made, whatever `seat_limit` and the delivery say.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn creation_writes_as(
    svc: &Services,
    scope: &Scope,
    new: NewUser,
    role_id: String,
    seat_limit: Option<i64>,
    password_chars: usize,
    disabled: bool,
    now: OffsetDateTime,
) -> Result<UserWrites, AppError> {
    let seat_limit = seat_limit.filter(|_| !disabled);
    if new.email.is_none() && new.login_id.is_none() {
        return Err(AppError::Invalid {
            field: None,
            message: "a user needs an email or a login_id (or both)".into(),
        });
    }
    if new.delivery == Delivery::InviteLink && new.email.is_none() && !disabled {
        return Err(AppError::DeliveryRequiresEmail);
    }
    let id = UserId::generate();
    let (password_hash, initial_password) = match new.delivery {
        Delivery::Generated if !disabled => {
            let p = crypto::generate_password_of(password_chars);
            (Some(crypto::hash_password(p.clone()).await?), Some(p))
        }
        _ => (None, None),
    };
    let ts = now.unix_timestamp();
    let record = UserRecord {
        id: id.clone(),
        name: new.name.as_str().to_owned(),
        email_index: new.email.as_ref().map(|e| email_index(&scope.key, e)),
        login_index: new.login_id.as_ref().map(|l| login_index(&scope.key, l)),
        email: new.email.map(|e| e.as_str().to_owned()),
        login_id: new.login_id.map(|l| l.as_str().to_owned()),
        role_id,
        org_admin: new.org_admin,
        group_ids: new.group_ids.iter().map(|g| g.to_string()).collect(),
        status: match (disabled, password_hash.is_some()) {
            (true, _) => Status::Disabled,
            (false, true) => Status::Active,
            (false, false) => Status::Invited,
        },
        must_change_password: password_hash.is_some(),
        password_hash,
        mfa: false,
        created: ts,
        updated: ts,
    };
    let mut tx = Tx::new();
    if let Some(limit) = seat_limit {
        tx.guard(
            Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::META.into(),
                changes: vec![Change::Add(attr::SEATS_USED, 1)],
                cond: Some(Cond::LtAttr(attr::SEATS_USED, attr::SEAT_LIMIT)),
            },
            move || AppError::conflict("seat_limit_reached", format!("all {limit} seats of the contract are taken; delete a user or ask for more seats")),
        );
    }
    tx.push(Write::put_new(Table::Data, record.to_item(scope)));
    for g in &new.group_ids {
        tx.push(Write::put_new(
            Table::Data,
            Item::new(scope.pk(), layout::member_sk(g, &id)).with(attr::CREATED, Value::N(ts)),
        ));
        let gid = g.to_string();
        tx.guard(
            Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::group_sk(g),
                changes: vec![Change::Add(attr::MEMBER_COUNT, 1)],
                cond: Some(Cond::Exists),
            },
            move || AppError::invalid("group_ids", format!("no group with id {gid}")),
        );
    }
    if let Some(i) = &record.email_index {
        tx.guard(
            Write::put_new(
                Table::Data,
                guard_item(scope, layout::email_guard_sk(i), &id),
            ),
            email_taken,
        );
    }
    if let Some(i) = &record.login_index {
        tx.guard(
            Write::put_new(
                Table::Data,
                guard_item(scope, layout::login_guard_sk(i), &id),
            ),
            login_taken,
        );
    }
    let invitation = if new.delivery == Delivery::InviteLink && !disabled {
        let (token, hash) = crypto::new_token();
        for w in link_writes(
            scope,
            &record,
            &hash,
            crate::app::records::token::INVITATION,
            now + svc.settings.invitation_ttl,
        ) {
            tx.push(w);
        }
        Some(token)
    } else {
        None
    };
    Ok(UserWrites {
        tx,
        record,
        invitation,
        initial_password,
    })
}

pub fn set_password_link(svc: &Services, token: &SecretString) -> String {
    use secrecy::ExposeSecret;
    format!(
        "{}/set-password?token={}",
        svc.settings.public_url.trim_end_matches('/'),
        token.expose_secret()
    )
}

pub async fn load(svc: &Services, scope: &Scope, id: &UserId) -> Result<UserRecord, AppError> {
    let item = svc
        .store
        .get(Table::Data, &scope.pk(), &layout::user_sk(id))
        .await?
        .ok_or(AppError::NotFound("user"))?;
    UserRecord::from_item(scope, &item)
}

/// How many stored users one search request may decrypt before it answers with what it found so far
/// (and a cursor to go on from). Bounds the cost of `q` on encrypted fields.
pub const SEARCH_SCAN_BUDGET: usize = 2000;

/// A field of a PATCH: absent (keep), null (clear), or a new value.
#[derive(Debug, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

pub struct UserChanges {
    pub name: Option<Name>,
    pub email: Patch<Email>,
    pub login_id: Patch<LoginId>,
}

/// The tenant item's counters as a user takes (`delta` 1) or gives back (`delta` -1) a seat: `seats_used`,
/// and `org_admins` for an org admin. Taking is conditioned on a free seat (`seats_used < seat_limit`);
/// giving back on the counters staying sound, and for an org admin on another one remaining.
pub(crate) fn seat_write(scope: &Scope, org_admin: bool, delta: i64) -> Write {
    let mut changes = vec![Change::Add(attr::SEATS_USED, delta)];
    if org_admin {
        changes.push(Change::Add(attr::ORG_ADMINS, delta));
    }
    let cond = match (delta > 0, org_admin) {
        (true, _) => Cond::LtAttr(attr::SEATS_USED, attr::SEAT_LIMIT),
        (false, false) => Cond::Ge(attr::SEATS_USED, 1),
        (false, true) => Cond::And(vec![
            Cond::Ge(attr::SEATS_USED, 1),
            Cond::Ge(attr::ORG_ADMINS, 2),
        ]),
    };
    Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::META.into(),
        changes,
        cond: Some(cond),
    }
}

/// The seats (and org-admin places) of `users` users leaving at once, `org_admins` of them org admins: one
/// write of the tenant item, as [`seat_write`] of each would be (never below one org admin left).
pub(crate) fn seats_release(scope: &Scope, users: i64, org_admins: i64) -> Write {
    let mut changes = vec![Change::Add(attr::SEATS_USED, -users)];
    let mut conds = vec![Cond::Ge(attr::SEATS_USED, users)];
    if org_admins > 0 {
        changes.push(Change::Add(attr::ORG_ADMINS, -org_admins));
        conds.push(Cond::Ge(attr::ORG_ADMINS, org_admins + 1));
    }
    Write::Update {
        table: Table::Data,
        pk: scope.pk(),
        sk: layout::META.into(),
        changes,
        cond: Some(if conds.len() == 1 {
            conds.remove(0)
        } else {
            Cond::And(conds)
        }),
    }
}

/// 409 `user_disabled`: what a disabled account cannot be given (credentials, the org-admin flag).
pub(crate) fn user_disabled() -> AppError {
    AppError::conflict(
        "user_disabled",
        "this user is disabled; enable the user first",
    )
}

/// Whether a stored user item has an active second factor (`UserRecord::mfa`).
pub(crate) fn active(item: &Item) -> bool {
    item.b(attr::MFA_SECRET).is_some()
}

/// The items of a link mailed to a user (invitation, reset), bound to the address it was mailed to: once
/// the user's address is another, `set_password` refuses the link, even one that escaped revocation.
pub(crate) fn link_writes(
    scope: &Scope,
    user: &UserRecord,
    hash: &str,
    kind: &str,
    expires: OffsetDateTime,
) -> [Write; 2] {
    writes_of_token(
        scope,
        &user.id,
        hash,
        kind,
        expires,
        user.email_index.as_deref(),
    )
}

/// The condition that a user item is not disabled (a missing status, as before issue 18, is not).
pub(crate) fn not_disabled() -> Cond {
    Cond::Not(Box::new(Cond::Eq(
        attr::STATUS,
        Value::S(Status::Disabled.as_str().into()),
    )))
}
