//! CSV registration of users (`name,email,login_id,role,groups`) and groups (`group_name,members`).
//! Rows are checked first (format, duplicates in the file, guards already taken, seats in file order);
//! valid rows are then written in transactions of up to 100 items, so N rows cost about N/20 requests;
//! a transaction that meets a concurrent change is redone row by row so each failure is named. Nothing
//! is half-created: each row's items go in one transaction.

pub mod job;

use std::collections::{BTreeMap, HashMap, HashSet};

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::app::access::Authority;
use crate::app::audit::{self, Actor, Entry};
use crate::app::csv_file::{self, Row};
use crate::app::layout::{self, attr};
use crate::app::records::group;
use crate::app::records::membership;
use crate::app::records::role;
use crate::app::records::tenant;
use crate::app::records::token;
use crate::app::records::user;
use crate::app::records::user::{Delivery, Status, UserRecord, email_index, login_index};
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services, mail};
use crate::crypto;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::values::{Email, Login, LoginId, Name, comparison_form};
use crate::ports::store::{BATCH_GET_CHUNK, MAX_TRANSACTION_ITEMS};
use crate::ports::{Change, Cond, Item, Table, Value, Write};

/// Most rows of one synchronous import (the 1 MiB body holds about that many).
pub const MAX_ROWS: usize = 20_000;
/// Most rows of one import whose passwords are generated (`delivery=generated`). Each is an argon2id hash of
/// about 0.1 s on one core (BENCHMARKS.md, section 4), all computed before the rows are written, and the whole
/// import must end within the request's deadline (9 s on Lambda, where the functions that import get a whole
/// vCPU in template.yaml), else rows would be created whose passwords nobody saw. More rows: invitation links,
/// or several files.
pub const MAX_GENERATED_ROWS: usize = 30;
/// Most groups one row names, as for `POST /v1/users`: a row's writes (profile, two guards, invitation,
/// two per group) must fit one transaction beside the counters.
pub const MAX_GROUPS_PER_ROW: usize = user::MAX_GROUPS_ON_CREATE;

pub struct RowFailure {
    pub line: u64,
    pub error: AppError,
}

pub struct ImportedUser {
    pub line: u64,
    pub id: UserId,
    pub login: String,
    pub initial_password: Option<SecretString>,
}

pub struct UserImportReport {
    pub created: usize,
    pub failed: Vec<RowFailure>,
    pub users: Vec<ImportedUser>,
}

/// A row that passed every check and is ready to be written.
pub struct Prepared {
    pub line: u64,
    record: UserRecord,
    invitation: Option<(SecretString, String)>,
    password: Option<SecretString>,
    groups: Vec<GroupId>,
    /// The tenant as the checks read it: its seat limit (the transactions' seat condition holds them to
    /// it) and its name (for the invitation mail), so that writing and mailing need not read it again.
    seat_limit: i64,
    tenant_name: std::sync::Arc<str>,
}

fn fail(line: u64, error: AppError) -> RowFailure {
    RowFailure { line, error }
}

pub async fn import_users(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    bytes: &[u8],
    delivery: Delivery,
    now: OffsetDateTime,
) -> Result<UserImportReport, AppError> {
    let text = csv_file::decode(bytes)?;
    let rows = user_rows(&text)?;
    if rows.len() > MAX_ROWS {
        return Err(AppError::invalid(
            "file",
            format!("at most {MAX_ROWS} rows per file; larger files go through POST /v1/imports"),
        ));
    }
    if delivery == Delivery::Generated && rows.len() > MAX_GENERATED_ROWS {
        return Err(AppError::invalid(
            "delivery",
            format!(
                "passwords are generated for at most {MAX_GENERATED_ROWS} rows per file; this file has {}: \
                 use delivery=invite_link, or split the file",
                rows.len()
            ),
        ));
    }
    let (prepared, mut failed) = prepare_user_rows(svc, scope, by, &rows, delivery, now).await?;
    let (created, more) = commit_user_rows(svc, scope, &by.actor, &prepared, None, now).await?;
    failed.extend(more);
    send_invitations(svc, scope, &created, now).await?;
    failed.sort_by_key(|f| f.line);
    let users = created
        .iter()
        .map(|r| ImportedUser {
            line: r.line,
            id: r.record.id.clone(),
            login: r
                .record
                .email
                .clone()
                .or_else(|| r.record.login_id.clone())
                .unwrap_or_default(),
            initial_password: r.password.clone(),
        })
        .collect::<Vec<_>>();
    Ok(UserImportReport {
        created: users.len(),
        failed,
        users,
    })
}

/// The rows of a user file (header `name,email,login_id,role,groups`; only `name` is required).
pub fn user_rows(text: &str) -> Result<Vec<Row>, AppError> {
    csv_file::rows(text, &["name"], &["email", "login_id", "role", "groups"])
}

/// The checks of a user file that read and never write: rows that passed every check, in file order, and
/// the rows that failed with the reason. Shared by the import ([`prepare_user_rows`]) and its dry run
/// ([`preview_users`]), so a preview cannot disagree with the import it stands for.
struct Checked {
    ready: Vec<ParsedRow>,
    failed: Vec<RowFailure>,
    seat_limit: i64,
    seats_used: i64,
    tenant_name: String,
}

/// Checks rows: format, duplicates in the file, the role against the caller's grants, guards already
/// taken, seats in file order.
async fn check_user_rows(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    rows: &[Row],
    delivery: Delivery,
) -> Result<Checked, AppError> {
    let tenant = tenant::load(svc, &scope.tenant).await?;
    let mut role_ids: HashMap<String, String> = HashMap::new();
    let mut role_grants = HashMap::new();
    for r in role::list(svc, scope).await? {
        role_ids.insert(comparison_form(&r.name), r.id.clone());
        role_ids.insert(r.id.clone(), r.id.clone());
        role_grants.insert(r.id, r.grants);
    }
    let mut failed = Vec::new();
    let mut seen = HashSet::new();
    let mut parsed = Vec::new();
    for row in rows {
        // The role named, or the tenant default, must lie within the caller's grants.
        let check_role =
            |id: &str| by.check_role(&role_grants.get(id).cloned().unwrap_or_default());
        let roles: RoleCheck<'_> = (tenant.default_role_id.as_str(), &role_ids, &check_role);
        match parse_user_row(row, delivery, roles, &mut seen) {
            Ok(p) => parsed.push(p),
            Err(e) => failed.push(fail(row.line, e)),
        }
    }
    // Addresses and login ids already taken in the tenant: batched reads of their guards.
    let guard_keys: Vec<(String, String)> = parsed
        .iter()
        .flat_map(|p: &ParsedRow| {
            let e = p
                .email
                .as_ref()
                .map(|e| layout::email_guard_sk(&email_index(&scope.key, e)));
            let l = p
                .login_id
                .as_ref()
                .map(|l| layout::login_guard_sk(&login_index(&scope.key, l)));
            e.into_iter().chain(l)
        })
        .map(|sk| (scope.pk(), sk))
        .collect();
    let mut taken = HashSet::new();
    for chunk in guard_keys.chunks(BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            taken.insert(item.sk);
        }
    }
    let mut free = tenant.seat_limit - tenant.seats_used;
    let mut ready = Vec::new();
    for p in parsed {
        let email_sk = p
            .email
            .as_ref()
            .map(|e| layout::email_guard_sk(&email_index(&scope.key, e)));
        let login_sk = p
            .login_id
            .as_ref()
            .map(|l| layout::login_guard_sk(&login_index(&scope.key, l)));
        if email_sk.is_some_and(|sk| taken.contains(&sk)) {
            failed.push(fail(
                p.line,
                AppError::conflict(
                    "email_taken",
                    "this e-mail address is already used by another user of this tenant",
                ),
            ));
            continue;
        }
        if login_sk.is_some_and(|sk| taken.contains(&sk)) {
            failed.push(fail(
                p.line,
                AppError::conflict(
                    "login_id_taken",
                    "this login id is already used by another user of this tenant",
                ),
            ));
            continue;
        }
        if free <= 0 {
            failed.push(fail(
                p.line,
                AppError::conflict(
                    "seat_limit_reached",
                    format!("all {} seats of the contract are taken", tenant.seat_limit),
                ),
            ));
            continue;
        }
        free -= 1;
        ready.push(p);
    }
    Ok(Checked {
        ready,
        failed,
        seat_limit: tenant.seat_limit,
        seats_used: tenant.seats_used,
        tenant_name: tenant.name,
    })
}

/// A row a preview found ready to import: what it would create.
pub struct PreviewRow {
    pub line: u64,
    pub name: String,
    /// The e-mail address, else the login id.
    pub login: String,
    pub role_id: String,
    pub groups: Vec<String>,
}

/// What importing a user file would do, found without writing anything.
pub struct UserImportPreview {
    /// Rows in the file (blank lines not counted).
    pub rows: usize,
    pub to_create: Vec<PreviewRow>,
    /// Rows that would fail, by line, with the reason the import would give.
    pub failed: Vec<RowFailure>,
    pub seat_limit: i64,
    pub seats_used: i64,
    /// Groups the ready rows name that do not exist yet: the import creates them.
    pub new_groups: Vec<String>,
}

impl UserImportPreview {
    /// Seats left once the rows to create are created.
    pub fn seats_left_after(&self) -> i64 {
        self.seat_limit - self.seats_used - self.to_create.len() as i64
    }
}

/// The dry run of an import: the same decoding, header, row checks and seat count as [`import_users`] and
/// the background import, in file order over the whole file, and nothing written (no user, no group, no
/// audit entry). A file the import would refuse whole is refused with the same error.
pub async fn preview_users(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    bytes: &[u8],
    delivery: Delivery,
) -> Result<UserImportPreview, AppError> {
    let text = csv_file::decode(bytes)?;
    let rows = user_rows(&text)?;
    if rows.len() > crate::app::records::import::MAX_ROWS {
        return Err(AppError::invalid(
            "file",
            format!(
                "at most {} rows per file",
                crate::app::records::import::MAX_ROWS
            ),
        ));
    }
    let checked = check_user_rows(svc, scope, by, &rows, delivery).await?;
    let mut new_groups = Vec::new();
    let mut looked = HashSet::new();
    for p in &checked.ready {
        for g in &p.groups {
            if looked.insert(comparison_form(g.as_str()))
                && group::by_name(svc, scope, g.as_str()).await?.is_none()
            {
                new_groups.push(g.as_str().to_owned());
            }
        }
    }
    let mut failed = checked.failed;
    failed.sort_by_key(|f| f.line);
    Ok(UserImportPreview {
        rows: rows.len(),
        to_create: checked
            .ready
            .iter()
            .map(|p| PreviewRow {
                line: p.line,
                name: p.name.as_str().to_owned(),
                login: p
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .or_else(|| p.login_id.as_ref().map(|l| l.as_str().to_owned()))
                    .unwrap_or_default(),
                role_id: p.role_id.clone(),
                groups: p.groups.iter().map(|g| g.as_str().to_owned()).collect(),
            })
            .collect(),
        failed,
        seat_limit: checked.seat_limit,
        seats_used: checked.seats_used,
        new_groups,
    })
}

/// Checks rows (as [`check_user_rows`]) and prepares the valid ones for writing; invalid rows come back as
/// failures. Groups named by valid rows are created.
pub async fn prepare_user_rows(
    svc: &Services,
    scope: &Scope,
    by: &Authority,
    rows: &[Row],
    delivery: Delivery,
    now: OffsetDateTime,
) -> Result<(Vec<Prepared>, Vec<RowFailure>), AppError> {
    let actor = &by.actor;
    let Checked {
        ready,
        mut failed,
        seat_limit,
        tenant_name,
        ..
    } = check_user_rows(svc, scope, by, rows, delivery).await?;
    let tenant_name: std::sync::Arc<str> = tenant_name.into();
    // Only now, for the rows that passed every check, are the groups they name created when missing: a
    // refused row creates none.
    let names: Vec<String> = ready
        .iter()
        .flat_map(|p| p.groups.iter().map(|g| g.as_str().to_owned()))
        .collect();
    let group_ids = group::ensure_named(svc, scope, actor, &names, now).await?;
    let mut resolved = Vec::with_capacity(ready.len());
    for p in ready {
        let mut gids = Vec::new();
        let mut bad_group = None;
        for g in &p.groups {
            match group_ids.get(&comparison_form(g.as_str())) {
                Some(Ok(id)) if !gids.contains(id) => gids.push(id.clone()),
                Some(Ok(_)) => {}
                Some(Err(m)) => bad_group = Some(format!("group {:?}: {m}", g.as_str())),
                None => bad_group = Some(format!("group {:?} could not be resolved", g.as_str())),
            }
        }
        match bad_group {
            Some(m) => failed.push(fail(p.line, AppError::invalid("groups", m))),
            None => resolved.push((p, gids)),
        }
    }
    let ready = resolved;
    // argon2 for generated passwords on every core, as long as the tenant's policy asks.
    let generated = ready
        .iter()
        .filter(|(p, _)| p.delivery == Delivery::Generated)
        .count();
    let length = if generated > 0 {
        crate::app::records::policy::load(svc, scope)
            .await?
            .generated_password_chars()
    } else {
        crypto::GENERATED_CHARS
    };
    let passwords = hash_all(generated, length).await?;
    let mut passwords = passwords.into_iter();
    let ts = now.unix_timestamp();
    let mut prepared = Vec::with_capacity(ready.len());
    for (p, gids) in ready {
        let (hash, password) = match p.delivery {
            Delivery::Generated => match passwords.next() {
                Some((pw, h)) => (Some(h), Some(pw)),
                None => {
                    return Err(AppError::Internal(
                        "password hashing produced too few hashes".into(),
                    ));
                }
            },
            Delivery::InviteLink => (None, None),
        };
        let id = UserId::generate();
        let record = UserRecord {
            id: id.clone(),
            name: p.name.as_str().to_owned(),
            email_index: p.email.as_ref().map(|e| email_index(&scope.key, e)),
            login_index: p.login_id.as_ref().map(|l| login_index(&scope.key, l)),
            email: p.email.map(|e| e.as_str().to_owned()),
            login_id: p.login_id.map(|l| l.as_str().to_owned()),
            role_id: p.role_id,
            org_admin: false,
            group_ids: gids.iter().map(|g| g.to_string()).collect(),
            status: if hash.is_some() {
                Status::Active
            } else {
                Status::Invited
            },
            must_change_password: hash.is_some(),
            password_hash: hash,
            mfa: false,
            created: ts,
            updated: ts,
        };
        let invitation = (p.delivery == Delivery::InviteLink).then(crypto::new_token);
        prepared.push(Prepared {
            line: p.line,
            record,
            invitation,
            password,
            groups: gids,
            seat_limit,
            tenant_name: tenant_name.clone(),
        });
    }
    Ok((prepared, failed))
}

/// Where a background import keeps its progress: the import item, updated in the same transaction as the
/// rows it covers, so a row is written exactly once however often the import is resumed.
pub struct RowProgress {
    pub pk: String,
    pub sk: String,
    /// Rows of the file before the ones being committed.
    pub base: usize,
    /// Line and position (rows up to and including it) of every row being committed, in file order.
    pub positions: Vec<(u64, usize)>,
    /// The item that lists the invited users whose mails have not gone yet (written with them, deleted
    /// once mailed), until when (ms) this run holds it, and who holds it.
    pub invites: Option<(String, i64, String)>,
}

/// The code of the error a progress write that lost its condition turns into: another run of the same
/// import committed these rows already.
pub const PROGRESS_MOVED: &str = "import_progress_moved";

impl RowProgress {
    fn position(&self, line: u64) -> usize {
        let i = self.positions.partition_point(|(l, _)| *l <= line);
        self.base + if i == 0 { 0 } else { self.positions[i - 1].1 }
    }

    /// The progress update for rows `first..=last` (lines) of which `created` are new users. It moves
    /// `updated_at` too (the import's heartbeat), and resets the count of failed attempts. Only a running import moves (a cancelled one stops).
    pub fn write(&self, first: u64, last: u64, created: i64) -> Write {
        Write::Update {
            table: Table::Data,
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            changes: vec![
                Change::Set(attr::DONE_LINE, Value::N(last as i64)),
                Change::Set(attr::PROCESSED, Value::N(self.position(last) as i64)),
                Change::Add(attr::CREATED_COUNT, created),
                Change::Set(
                    attr::UPDATED,
                    Value::N(crate::domain::time::now().unix_timestamp()),
                ),
                // Progress: the run is no failed attempt.
                Change::Set(attr::ATTEMPTS, Value::N(0)),
            ],
            cond: Some(Cond::And(vec![
                Cond::Lt(attr::DONE_LINE, first as i64),
                Cond::Eq(attr::STATUS, Value::S("running".into())),
            ])),
        }
    }

    /// Adds the invited users of `rows` to the list of mails still to send, in the transaction that
    /// creates them: a crash before their mails leave cannot lose them.
    pub fn invites_write(&self, rows: &[Prepared]) -> Option<Write> {
        let (sk, lease, holder) = self.invites.as_ref()?;
        let users: Vec<String> = rows
            .iter()
            .filter(|r| r.invitation.is_some() && r.record.email.is_some())
            .map(|r| r.record.id.to_string())
            .collect();
        (!users.is_empty()).then(|| Write::Update {
            table: Table::Data,
            pk: self.pk.clone(),
            sk: sk.clone(),
            changes: vec![
                Change::SetInsert(attr::USERS, users),
                Change::Set(attr::LEASE, Value::N(*lease)),
                Change::Set(attr::HOLDER, Value::S(holder.clone())),
            ],
            cond: None,
        })
    }
}

/// Writes prepared rows in transactions of up to 100 items, handed to the store together
/// ([`crate::ports::ItemStore::transact_all`]); a transaction that meets a concurrent change is redone row
/// by row so each failure is named. Returns the rows created and the rows that failed.
pub async fn commit_user_rows<'a>(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    prepared: &'a [Prepared],
    progress: Option<&RowProgress>,
    now: OffsetDateTime,
) -> Result<(Vec<&'a Prepared>, Vec<RowFailure>), AppError> {
    // The seat limit the rows were checked against (the same for all of them).
    let Some(seat_limit) = prepared.first().map(|r| r.seat_limit) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let log_key = svc.log_key(&scope.tenant).await?;
    let mut created = Vec::new();
    let mut failed = Vec::new();
    let write = |rows: &'a [Prepared]| {
        let p = progress.map(|p| {
            (
                p.write(rows[0].line, rows[rows.len() - 1].line, rows.len() as i64),
                p.invites_write(rows),
            )
        });
        write_rows(svc, scope, actor, &log_key, rows, seat_limit, p, now)
    };
    // Every transaction holds the seat counter and the audit entry; a background import's also its
    // progress and its list of mails to send.
    let fixed = 2 + progress.map_or(0, |p| 1 + usize::from(p.invites.is_some()));
    let packs = pack(prepared, fixed);
    // All the transactions go to the store together (the embedded store commits them at once); at the
    // first that fails, its rows are redone one by one so each failure is named, and the rest go on.
    let mut at = 0;
    while at < packs.len() {
        let txs = packs[at..]
            .iter()
            .map(|r| write(&prepared[r.clone()]))
            .collect();
        let (done, error) = Tx::commit_all(txs, svc.store.as_ref()).await;
        for r in &packs[at..at + done] {
            created.extend(prepared[r.clone()].iter());
        }
        at += done;
        let Some(error) = error else { break };
        let rows = &prepared[packs[at].clone()];
        at += 1;
        match error {
            e @ AppError::Conflict {
                code: PROGRESS_MOVED,
                ..
            } => return Err(e),
            _ if rows.len() > 1 => {
                for row in rows {
                    match write(std::slice::from_ref(row))
                        .commit(svc.store.as_ref())
                        .await
                    {
                        Ok(()) => created.push(row),
                        Err(
                            e @ AppError::Conflict {
                                code: PROGRESS_MOVED,
                                ..
                            },
                        ) => return Err(e),
                        Err(e @ (AppError::Conflict { .. } | AppError::Invalid { .. })) => {
                            failed.push(fail(row.line, e))
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            e @ (AppError::Conflict { .. } | AppError::Invalid { .. }) => {
                failed.push(fail(rows[0].line, e))
            }
            e => return Err(e),
        }
    }
    Ok((created, failed))
}

/// Mails the invitations of rows just created.
pub async fn send_invitations(
    svc: &Services,
    scope: &Scope,
    created: &[&Prepared],
    now: OffsetDateTime,
) -> Result<(), AppError> {
    send_invitations_keyed(svc, scope, created, |_| None, now).await
}

/// [`send_invitations`], each mail sent with the key `key` gives its user (see
/// [`crate::ports::Mailer::send_once`]).
pub async fn send_invitations_keyed(
    svc: &Services,
    scope: &Scope,
    created: &[&Prepared],
    key: impl Fn(&crate::domain::ids::UserId) -> Option<String>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if created.iter().all(|r| r.invitation.is_none()) {
        return Ok(());
    }
    let messages: Vec<(Option<String>, mail::Message)> = created
        .iter()
        .filter_map(|r| {
            let (token, _) = r.invitation.as_ref()?;
            let email = r.record.email.as_ref()?;
            Some((
                key(&r.record.id),
                mail::invitation(
                    email,
                    &r.record.name,
                    &r.tenant_name,
                    &user::set_password_link(svc, token),
                ),
            ))
        })
        .collect();
    svc.send_mails_keyed(&scope.tenant, "invitation", messages, now)
        .await;
    Ok(())
}

struct ParsedRow {
    line: u64,
    name: Name,
    email: Option<Email>,
    login_id: Option<LoginId>,
    role_id: String,
    groups: Vec<Name>,
    delivery: Delivery,
}

/// The tenant default role, role ids by name and id, and the role rule of the caller.
type RoleCheck<'a> = (
    &'a str,
    &'a HashMap<String, String>,
    &'a dyn Fn(&str) -> Result<(), AppError>,
);

fn parse_user_row(
    row: &Row,
    delivery: Delivery,
    (default_role, roles, check_role): RoleCheck<'_>,
    seen: &mut HashSet<String>,
) -> Result<ParsedRow, AppError> {
    // Cells are stored as the text they are, formula-looking or not; the API returns JSON, never CSV.
    let name = Name::parse("name", row.get("name"))?;
    let email = Some(row.get("email"))
        .filter(|s| !s.is_empty())
        .map(Email::parse)
        .transpose()?;
    let login_id = Some(row.get("login_id"))
        .filter(|s| !s.is_empty())
        .map(LoginId::parse)
        .transpose()?;
    if email.is_none() && login_id.is_none() {
        return Err(AppError::Invalid {
            field: None,
            message: "a user needs an email or a login_id (or both)".into(),
        });
    }
    if delivery == Delivery::InviteLink && email.is_none() {
        return Err(AppError::DeliveryRequiresEmail);
    }
    let role_id = match row.get("role") {
        "" => default_role.to_owned(),
        r => roles
            .get(&comparison_form(r))
            .cloned()
            .ok_or_else(|| AppError::invalid("role", format!("no role named {r:?}")))?,
    };
    check_role(&role_id)?;
    if let Some(e) = &email
        && !seen.insert(format!("e:{}", e.comparison()))
    {
        return Err(AppError::conflict(
            "email_taken",
            "this e-mail address appears earlier in the file",
        ));
    }
    if let Some(l) = &login_id
        && !seen.insert(format!("l:{}", l.comparison()))
    {
        return Err(AppError::conflict(
            "login_id_taken",
            "this login id appears earlier in the file",
        ));
    }
    let mut groups: Vec<Name> = Vec::new();
    let mut folded = HashSet::new();
    for g in row
        .get("groups")
        .split(';')
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        let name = Name::parse("groups", g)
            .map_err(|e| AppError::invalid("groups", format!("group {g:?}: {}", e.message)))?;
        if folded.insert(comparison_form(name.as_str())) {
            groups.push(name);
        }
    }
    // Each row's items go in one transaction (at most 100 writes): a row names a bounded number of groups.
    if groups.len() > MAX_GROUPS_PER_ROW {
        return Err(AppError::invalid(
            "groups",
            format!(
                "a row names at most {MAX_GROUPS_PER_ROW} groups (this one names {}); add more with \
                 POST /v1/groups/{{id}}/members",
                groups.len()
            ),
        ));
    }
    Ok(ParsedRow {
        line: row.line,
        name,
        email,
        login_id,
        role_id,
        groups,
        delivery,
    })
}

/// `n` generated passwords with their argon2id hashes, computed on every core.
async fn hash_all(n: usize, length: usize) -> Result<Vec<(SecretString, String)>, AppError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(2)
        .min(n);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let count = n / workers + usize::from(w < n % workers);
        // Each worker holds one of the process's password slots for its whole run.
        let slot = crypto::password_slots()
            .acquire()
            .await
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        tasks.push(tokio::task::spawn_blocking(move || {
            let _slot = slot;
            (0..count)
                .map(|_| {
                    let pw = crypto::generate_password_of(length);
                    crypto::hash_password_blocking(&pw).map(|h| (pw, h))
                })
                .collect::<Result<Vec<_>, _>>()
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.extend(t.await.map_err(|e| AppError::Internal(Box::new(e)))??);
    }
    Ok(out)
}

fn row_writes(r: &Prepared) -> usize {
    1 + usize::from(r.record.email_index.is_some())
        + usize::from(r.record.login_index.is_some())
        + 2 * usize::from(r.invitation.is_some())
        + r.groups.len()
}

/// Splits rows into runs whose writes (plus the `fixed` writes of every transaction, and one counter per
/// group and per custom role touched) fit one transaction. Only the counters a transaction will hold are
/// counted: built-in roles count no holders, so rows of the default role fill a transaction to its last
/// item (24 rows of 4 items beside the seat counter and the audit entry, the most DynamoDB allows).
fn pack(rows: &[Prepared], fixed: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = fixed;
    let mut groups: HashSet<&GroupId> = HashSet::new();
    let mut roles: HashSet<&str> = HashSet::new();
    let counted = |role: &str| crate::domain::permissions::builtin(role).is_none();
    for (i, r) in rows.iter().enumerate() {
        let role = r.record.role_id.as_str();
        let counters = r.groups.iter().filter(|g| !groups.contains(g)).count()
            + usize::from(counted(role) && !roles.contains(role));
        let need = row_writes(r) + counters;
        if i > start && used + need > MAX_TRANSACTION_ITEMS {
            out.push(start..i);
            start = i;
            used = fixed;
            groups.clear();
            roles.clear();
        }
        used += row_writes(r)
            + r.groups.iter().filter(|g| groups.insert(g)).count()
            + usize::from(counted(role) && roles.insert(role));
    }
    if start < rows.len() {
        out.push(start..rows.len());
    }
    out
}

/// The transaction that creates `rows` (for [`commit_user_rows`] to commit).
// The progress write is what background imports add; bundling the arguments would only rename them.
#[allow(clippy::too_many_arguments)]
fn write_rows(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    log_key: &crypto::TenantKey,
    rows: &[Prepared],
    seat_limit: i64,
    progress: Option<(Write, Option<Write>)>,
    now: OffsetDateTime,
) -> Tx {
    let k = rows.len() as i64;
    let mut tx = Tx::new();
    // First, so that when another run of the same import got here before (or the import was cancelled),
    // that is the failure reported.
    if let Some((p, invites)) = progress {
        tx.guard(p, || {
            AppError::conflict(
                PROGRESS_MOVED,
                "another run of this import committed these rows already, or it was cancelled",
            )
        });
        if let Some(w) = invites {
            tx.push(w);
        }
    }
    tx.guard(
        Write::Update {
            table: Table::Data,
            pk: scope.pk(),
            sk: layout::META.into(),
            changes: vec![Change::Add(attr::SEATS_USED, k)],
            // used + k <= limit, with the limit the checks were made against.
            cond: Some(Cond::And(vec![
                Cond::Eq(attr::SEAT_LIMIT, Value::N(seat_limit)),
                Cond::Lt(attr::SEATS_USED, seat_limit - k + 1),
            ])),
        },
        move || {
            AppError::conflict(
                "seat_limit_reached",
                format!("all {seat_limit} seats of the contract are taken"),
            )
        },
    );
    let mut per_group: BTreeMap<&GroupId, i64> = BTreeMap::new();
    for r in rows {
        let id = &r.record.id;
        tx.push(Write::put_new(Table::Data, r.record.to_item(scope)));
        if let Some(i) = &r.record.email_index {
            tx.guard(
                Write::put_new(
                    Table::Data,
                    Item::new(scope.pk(), layout::email_guard_sk(i))
                        .with(attr::USER, Value::S(id.to_string())),
                ),
                || {
                    AppError::conflict(
                        "email_taken",
                        "this e-mail address is already used by another user of this tenant",
                    )
                },
            );
        }
        if let Some(i) = &r.record.login_index {
            tx.guard(
                Write::put_new(
                    Table::Data,
                    Item::new(scope.pk(), layout::login_guard_sk(i))
                        .with(attr::USER, Value::S(id.to_string())),
                ),
                || {
                    AppError::conflict(
                        "login_id_taken",
                        "this login id is already used by another user of this tenant",
                    )
                },
            );
        }
        if let Some((_, hash)) = &r.invitation {
            for w in user::link_writes(
                scope,
                &r.record,
                hash,
                token::INVITATION,
                now + svc.settings.invitation_ttl,
            ) {
                tx.push(w);
            }
        }
        for g in &r.groups {
            tx.push(Write::put_new(
                Table::Data,
                Item::new(scope.pk(), layout::member_sk(g, id))
                    .with(attr::CREATED, Value::N(now.unix_timestamp())),
            ));
            *per_group.entry(g).or_default() += 1;
        }
    }
    for (g, n) in per_group {
        tx.guard(
            Write::Update {
                table: Table::Data,
                pk: scope.pk(),
                sk: layout::group_sk(g),
                changes: vec![Change::Add(attr::MEMBER_COUNT, n)],
                cond: Some(Cond::Exists),
            },
            || AppError::invalid("groups", "a group of this row was deleted meanwhile"),
        );
    }
    let targets = rows
        .iter()
        .map(|r| r.record.id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    tx.push(audit::entry(
        &scope.tenant,
        log_key,
        actor,
        Entry {
            action: "user.import",
            target_type: "user",
            target_id: &targets,
        },
        now,
    ));
    // Custom roles count their holders.
    let mut holders: BTreeMap<&str, i64> = BTreeMap::new();
    for r in rows {
        *holders.entry(r.record.role_id.as_str()).or_default() += 1;
    }
    for (role, n) in holders {
        if let Some(w) = role::holder_change(scope, role, n) {
            tx.guard(w, || {
                AppError::invalid("role", "the role was deleted meanwhile")
            });
        }
    }
    tx
}

// ---- groups -----------------------------------------------------------------------------------------------

pub struct GroupImportReport {
    pub created: usize,
    pub updated: usize,
    pub failed: Vec<RowFailure>,
}

/// `group_name,members`: creates missing groups and adds the members, named by e-mail or login id
/// separated by `;`. A line whose members are partly unknown adds the known ones and reports the rest.
pub async fn import_groups(
    svc: &Services,
    scope: &Scope,
    actor: &Actor,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<GroupImportReport, AppError> {
    let text = csv_file::decode(bytes)?;
    let rows = csv_file::rows(&text, &["group_name"], &["members"])?;
    if rows.len() > MAX_ROWS {
        return Err(AppError::invalid(
            "file",
            format!("at most {MAX_ROWS} rows per file"),
        ));
    }
    let mut report = GroupImportReport {
        created: 0,
        updated: 0,
        failed: Vec::new(),
    };
    for row in rows {
        let name = match Name::parse("group_name", row.get("group_name")) {
            Ok(n) => n,
            Err(e) => {
                report.failed.push(fail(row.line, e.into()));
                continue;
            }
        };
        let (gid, created) = match group::by_name(svc, scope, name.as_str()).await? {
            Some(id) => (id, false),
            None => match group::create(svc, scope, actor, name.clone(), now).await {
                Ok(g) => (g.id, true),
                Err(AppError::Conflict { .. }) => {
                    match group::by_name(svc, scope, name.as_str()).await? {
                        Some(id) => (id, false),
                        None => {
                            report.failed.push(fail(
                                row.line,
                                AppError::conflict("conflict", "the group changed while importing"),
                            ));
                            continue;
                        }
                    }
                }
                Err(e) => return Err(e),
            },
        };
        let tokens: Vec<&str> = row
            .get("members")
            .split(';')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .collect();
        let (ids, unknown) = resolve_logins(svc, scope, &tokens).await?;
        let (_, failed) = membership::add_members(svc, scope, actor, &gid, ids, now).await?;
        let mut problems: Vec<String> = unknown.iter().map(|m| format!("no user {m:?}")).collect();
        problems.extend(failed.iter().map(|f| format!("user {} not added", f.id)));
        if created {
            report.created += 1;
        } else {
            report.updated += 1;
        }
        if !problems.is_empty() {
            report.failed.push(fail(
                row.line,
                AppError::invalid("members", problems.join("; ")),
            ));
        }
    }
    Ok(report)
}

/// User ids for e-mails or login ids (batched guard reads); the tokens that match nobody.
async fn resolve_logins<'a>(
    svc: &Services,
    scope: &Scope,
    tokens: &[&'a str],
) -> Result<(Vec<String>, Vec<&'a str>), AppError> {
    let mut keys = Vec::new();
    let mut unknown = Vec::new();
    let mut by_sk: HashMap<String, &'a str> = HashMap::new();
    for t in tokens {
        let sk = match Login::parse(t) {
            Some(Login::Email(e)) => layout::email_guard_sk(&email_index(&scope.key, &e)),
            Some(Login::LoginId(l)) => layout::login_guard_sk(&login_index(&scope.key, &l)),
            None => {
                unknown.push(*t);
                continue;
            }
        };
        by_sk.insert(sk.clone(), t);
        keys.push((scope.pk(), sk));
    }
    let mut found = HashMap::new();
    for chunk in keys.chunks(BATCH_GET_CHUNK) {
        for item in svc.store.batch_get(Table::Data, chunk).await? {
            if let Some(u) = item.s(attr::USER) {
                found.insert(item.sk.clone(), u.to_owned());
            }
        }
    }
    let mut ids = Vec::new();
    for (_, sk) in &keys {
        match found.get(sk) {
            Some(u) => ids.push(u.clone()),
            None => unknown.extend(by_sk.get(sk).copied()),
        }
    }
    Ok((ids, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invited(role: &str) -> Prepared {
        Prepared {
            line: 1,
            record: UserRecord {
                id: UserId::generate(),
                name: "n".into(),
                email: Some("a@example.jp".into()),
                login_id: None,
                email_index: Some("e".into()),
                login_index: None,
                role_id: role.into(),
                org_admin: false,
                group_ids: vec![],
                status: Status::Invited,
                must_change_password: false,
                password_hash: None,
                mfa: false,
                created: 0,
                updated: 0,
            },
            invitation: Some((SecretString::from("t"), "h".into())),
            password: None,
            groups: vec![],
            seat_limit: 1000,
            tenant_name: "t".into(),
        }
    }

    #[test]
    fn rows_of_a_builtin_role_fill_each_transaction() {
        // 4 items a row (profile, address guard, the invitation's two items) beside the seat counter and
        // the audit entry (sync import), or also the progress and the list of mails (background import).
        let rows: Vec<_> = (0..100).map(|_| invited("member")).collect();
        for fixed in [2, 4] {
            let runs = pack(&rows, fixed);
            assert_eq!(runs[0], 0..24);
            assert_eq!(runs.len(), 5);
            assert!(
                runs.iter()
                    .all(|r| r.len() * 4 + fixed <= MAX_TRANSACTION_ITEMS)
            );
        }
        // A custom role's holder counter takes an item of each transaction it is in.
        let rows: Vec<_> = (0..100).map(|_| invited("R1")).collect();
        let runs = pack(&rows, 4);
        assert_eq!(runs[0], 0..23);
        assert!(runs.iter().all(|r| r.len() * 4 + 4 < MAX_TRANSACTION_ITEMS));
    }
}
