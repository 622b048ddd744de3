//! The key layout and attribute names, written once. Tenant data lives under `T#<tenant>`, so isolation is
//! structural; global look-ups (slug, token) have their own partitions. See DESIGN.md "Data".

use crate::domain::ids::{GroupId, TenantId, UserId};

pub fn tenant_pk(t: &TenantId) -> String {
    format!("T#{t}")
}
pub const META: &str = "META";
/// The tenant's single sign-on provider (`app::sso`).
pub const SSO_SK: &str = "SSO";
/// Keys table: the tenant's wrapped data key.
pub const DATA_KEY_SK: &str = "DEK";

pub const USER_PREFIX: &str = "USER#";
pub fn user_sk(u: &UserId) -> String {
    format!("USER#{u}")
}
pub fn email_guard_sk(index: &str) -> String {
    format!("EMAIL#{index}")
}
pub fn login_guard_sk(index: &str) -> String {
    format!("LOGIN#{index}")
}
/// The user's side of a token (session, invitation, reset), so all of a user's tokens are one query.
pub fn user_token_sk(u: &UserId, hash: &str) -> String {
    format!("UTOK#{u}#{hash}")
}
pub fn user_tokens_prefix(u: &UserId) -> String {
    format!("UTOK#{u}#")
}
pub const ROLE_PREFIX: &str = "ROLE#";
pub fn role_sk(id: &str) -> String {
    format!("ROLE#{id}")
}
pub const GROUP_PREFIX: &str = "GROUP#";
pub fn group_sk(g: &GroupId) -> String {
    format!("GROUP#{g}")
}
/// Group-name guard, keyed by a digest of the comparison form.
pub fn group_name_sk(digest: &str) -> String {
    format!("GNAME#{digest}")
}
/// Membership, group side: the members of a group are one query.
pub const MEMBER_PREFIX: &str = "GMEM#";
pub fn member_sk(g: &GroupId, u: &UserId) -> String {
    format!("GMEM#{g}#{u}")
}
pub fn members_prefix(g: &GroupId) -> String {
    format!("GMEM#{g}#")
}
/// Whether a sort key is `prefix` followed by an id: a key of a list of entities (e.g. a cursor's).
pub fn is_id_key(prefix: &str, sk: &str) -> bool {
    sk.strip_prefix(prefix)
        .is_some_and(crate::domain::ids::looks_like_id)
}

/// Role-name guard, keyed by a digest of the comparison form (names are not personal data).
pub fn role_name_sk(digest: &str) -> String {
    format!("RNAME#{digest}")
}

/// Global: slug → tenant.
pub fn slug_pk(slug: &str) -> String {
    format!("SLUG#{slug}")
}
pub const SLUG_SK: &str = "SLUG";
/// Global: token hash → token record.
pub fn token_pk(hash: &str) -> String {
    format!("TOKEN#{hash}")
}
pub const TOKEN_SK: &str = "TOKEN";

// Log table.
pub fn audit_pk(t: &TenantId) -> String {
    format!("AUDIT#{t}")
}
pub fn mail_pk(t: &TenantId) -> String {
    format!("MAIL#{t}")
}
/// Time-ordered sort key for log entries: milliseconds, then a unique id.
pub fn log_sk(at_ms: i64, id: &str) -> String {
    format!("{at_ms:013}#{id}")
}
/// Whether a sort key is a log entry's ([`log_sk`] with an id), e.g. a cursor of a log.
pub fn is_log_sk(sk: &str) -> bool {
    sk.split_once('#').is_some_and(|(ms, id)| {
        ms.len() == 13
            && ms.bytes().all(|b| b.is_ascii_digit())
            && crate::domain::ids::looks_like_id(id)
    })
}
/// Global: one item per tenant (contract end, purge progress), so the purge finds tenants without a scan.
pub const REGISTRY_PK: &str = "TENANTS";
pub fn registry_sk(t: &TenantId) -> String {
    t.to_string()
}
pub const QUESTIONNAIRE_PREFIX: &str = "QNR#";
pub fn questionnaire_sk(id: &str) -> String {
    format!("QNR#{id}")
}
pub fn response_sk(q: &str, r: &str) -> String {
    format!("QRESP#{q}#{r}")
}
pub fn responses_prefix(q: &str) -> String {
    format!("QRESP#{q}#")
}
/// Log table: a purged tenant's questionnaires, anonymised and sealed under its log key.
pub fn archive_pk(t: &TenantId) -> String {
    format!("QARCHIVE#{t}")
}

/// The tenant's log key, which the purge keeps so the logs stay readable to the operator.
pub fn log_key_pk(t: &TenantId) -> String {
    format!("TLOG#{t}")
}
pub const LOG_KEY_SK: &str = "KEY";

/// Global: the notices, newest last by id; `notices_kind_pk` holds a copy per kind for the `kind` filter.
pub const NOTICES_PK: &str = "NOTICES";
pub fn notices_kind_pk(kind: &str) -> String {
    format!("NOTICES#{kind}")
}
/// A user's subscription to one kind of notice: a tenant's subscribers of a kind are one query.
pub fn subscription_sk(kind: &str, u: &UserId) -> String {
    format!("SUB#{kind}#{u}")
}
pub fn subscriptions_prefix(kind: &str) -> String {
    format!("SUB#{kind}#")
}
/// The claim that a notice mail to a user is sent (or being sent, or failed, or not mailable): a retried
/// task never mails twice, and one that resumes after a crash mails exactly the rest.
pub fn notice_sent_sk(notice: &str, u: &UserId) -> String {
    format!("NSENT#{notice}#{u}")
}
pub fn notice_sent_prefix(notice: &str) -> String {
    format!("NSENT#{notice}#")
}
/// A tenant's part of a notice's mailing: its subscribers counted at fan-out, settled at the last page.
pub fn notice_mailing_sk(notice: &str) -> String {
    format!("NMAIL#{notice}")
}
/// Global: read by the readiness check (`GET /v1/health`); never written.
pub const HEALTH_PK: &str = "HEALTH";
pub const HEALTH_SK: &str = "PROBE";

/// An upload's record in the tenant partition.
pub const UPLOAD_PREFIX: &str = "UPLOAD#";
pub fn upload_sk(id: &str) -> String {
    format!("UPLOAD#{id}")
}
/// Global: uploads to look at again at a time (pending ones, import files), ordered by that time.
pub const UPLOAD_EXPIRY_PK: &str = "UPLOAD_EXPIRY";
pub fn upload_expiry_sk(at_ms: i64, t: &TenantId, id: &str) -> String {
    format!("{at_ms:013}#{t}#{id}")
}
pub fn parse_upload_expiry_sk(sk: &str) -> Option<(TenantId, String)> {
    let mut parts = sk.splitn(3, '#');
    let (_, t, id) = (parts.next()?, parts.next()?, parts.next()?);
    Some((TenantId::parse(t)?, id.to_owned()))
}
/// A background import's record, and the rows it could not create (by line, so rewriting is harmless).
pub const IMPORT_PREFIX: &str = "IMPORT#";
pub fn import_sk(id: &str) -> String {
    format!("IMPORT#{id}")
}
pub fn import_failure_sk(import: &str, line: u64) -> String {
    format!("IMPFAIL#{import}#{line:010}")
}
pub fn import_failures_prefix(import: &str) -> String {
    format!("IMPFAIL#{import}#")
}
/// Users a background import created whose invitations are not mailed yet, one item per transaction of
/// rows (keyed by its first line); written with the users, deleted once their mails went.
pub fn import_invites_sk(import: &str, line: u64) -> String {
    format!("IMPINV#{import}#{line:010}")
}
pub fn import_invites_prefix(import: &str) -> String {
    format!("IMPINV#{import}#")
}

/// What SCIM keeps of a user beside the profile (externalId, name parts, enterprise fields), sealed.
pub const SCIM_USER_PREFIX: &str = "SCIMU#";
pub fn scim_user_sk(u: &UserId) -> String {
    format!("SCIMU#{u}")
}
/// SCIM's `externalId` of a group.
pub const SCIM_GROUP_PREFIX: &str = "SCIMG#";
pub fn scim_group_sk(g: &GroupId) -> String {
    format!("SCIMG#{g}")
}
/// A SCIM token of the tenant (its name, hash and times); the global `TOKEN#<hash>` record points to it.
pub const SCIM_TOKEN_PREFIX: &str = "SCIMTOK#";
pub fn scim_token_sk(id: &str) -> String {
    format!("SCIMTOK#{id}")
}

/// Attribute names.
pub mod attr {
    pub const TENANT: &str = "tenant";
    pub const USER: &str = "user";
    pub const SLUG: &str = "slug";
    pub const NAME: &str = "name";
    pub const SEAT_LIMIT: &str = "seat_limit";
    pub const SEATS_USED: &str = "seats_used";
    /// How many org admins the tenant has; never below 1.
    pub const ORG_ADMINS: &str = "org_admins";
    pub const DEFAULT_ROLE: &str = "default_role";
    pub const CONTRACT_END: &str = "contract_end";
    /// The tenant's sign-in policy on its META item (`app::sign_in_policy`), as JSON.
    pub const SIGN_IN_POLICY: &str = "sign_in_policy";
    /// When a session was last seen (epoch seconds), refreshed only while an idle timeout applies.
    pub const SEEN: &str = "seen";
    pub const DATA_KEY: &str = "dek";
    pub const LOG_KEY: &str = "lk";
    pub const CREATED: &str = "created";
    pub const UPDATED: &str = "updated";
    pub const EMAIL: &str = "email";
    pub const EMAIL_INDEX: &str = "email_bi";
    pub const LOGIN_ID: &str = "login_id";
    pub const LOGIN_INDEX: &str = "login_bi";
    pub const ROLE: &str = "role";
    pub const ORG_ADMIN: &str = "org_admin";
    pub const STATUS: &str = "status";
    pub const MUST_CHANGE: &str = "must_change";
    pub const PASSWORD: &str = "pwd";
    pub const GROUPS: &str = "groups";
    /// How many membership writes changed a user's `groups` (only ever grows): the optimistic condition
    /// of the writes that act on the whole set, like deleting the user.
    pub const GROUPS_REV: &str = "groups_rev";
    pub const KIND: &str = "kind";
    pub const EXPIRES: &str = "expires";
    /// DynamoDB TTL attribute (epoch seconds): the backstop that removes expired tokens.
    pub const TTL: &str = "ttl";
    pub const GRANTS: &str = "grants";
    /// How many users hold a custom role; it can be deleted only at 0.
    pub const HOLDERS: &str = "holders";
    pub const COUNT: &str = "count";
    pub const MEMBER_COUNT: &str = "member_count";
    pub const GROUP: &str = "group";
    pub const PURGE: &str = "purge";
    pub const TITLE: &str = "title";
    pub const QUESTIONS: &str = "questions";
    pub const RESPONDENT: &str = "respondent";
    pub const ANSWERS: &str = "answers";
    pub const RESPONSES: &str = "responses";
    pub const ACTOR: &str = "actor";
    pub const ACTOR_NAME: &str = "actor_name";
    pub const ACTION: &str = "action";
    pub const TARGET_TYPE: &str = "target_type";
    pub const TARGET_ID: &str = "target_id";
    pub const RESULT: &str = "result";
    pub const BODY: &str = "body";
    /// Background imports: the last line committed, rows handled, users created.
    pub const DONE_LINE: &str = "done_line";
    pub const PROCESSED: &str = "processed";
    pub const CREATED_COUNT: &str = "created_n";
    pub const TOTAL: &str = "total";
    /// Background imports: runs in a row that failed without progress.
    pub const ATTEMPTS: &str = "attempts";
    pub const UPLOAD: &str = "upload";
    pub const IMPORT: &str = "import";
    /// How many imports took an upload (0 or 1): the condition that one file is imported once.
    pub const IMPORTS: &str = "imports";
    pub const PURPOSE: &str = "purpose";
    pub const FILENAME: &str = "filename";
    pub const CONTENT_TYPE: &str = "content_type";
    pub const SIZE: &str = "size";
    pub const EXPIRY: &str = "expiry";
    pub const MESSAGE: &str = "message";
    pub const CODE: &str = "code";
    pub const LINE: &str = "line";
    pub const PUBLISHED: &str = "published";
    pub const OCCURRED: &str = "occurred";
    pub const MAILS_SENT: &str = "mails_sent";
    pub const MAILS_FAILED: &str = "mails_failed";
    /// Recipients of a notice counted at fan-out (settled per tenant at its last page).
    pub const MAILS_DUE: &str = "mails_due";
    /// Subscribers found not mailable (deleted, no address) by the mailing.
    pub const MAILS_SKIPPED: &str = "mails_skipped";
    /// A claim's state: pending (held until `lease`), sent, failed or skipped.
    pub const STATE: &str = "state";
    /// Until when (ms since the epoch) a worker holds a pending claim or invitation batch.
    pub const LEASE: &str = "lease";
    pub const DUE: &str = "due";
    /// The worker that holds a pending claim or invitation list (see `Settings::worker_id`).
    pub const HOLDER: &str = "holder";
    pub const SETTLED: &str = "settled";
    pub const USERS: &str = "users";
    /// A SCIM token's SHA-256, its id (on the global record) and when it was last used.
    pub const HASH: &str = "hash";
    pub const TOKEN_ID: &str = "token_id";
    pub const EXTERNAL_ID: &str = "external_id";
    pub const LAST_USED: &str = "last_used";
    pub const AT: &str = "at";
    pub const TO: &str = "to";
    pub const MESSAGE_ID: &str = "message_id";
    /// The user's active TOTP secret, sealed (`app::mfa`); present only once an enrolment is confirmed.
    pub const MFA_SECRET: &str = "mfa";
    /// A TOTP secret waiting for its first code, sealed.
    pub const MFA_PENDING: &str = "mfa_pending";
    /// The last TOTP time step accepted: a code of that step or an earlier one is refused.
    pub const MFA_STEP: &str = "mfa_step";
    /// Single sign-on (`app::sso`): the provider's issuer URL, the client id, the identifying claim, the
    /// allowed e-mail domains (one a line) and the mode.
    pub const ISSUER: &str = "issuer";
    pub const CLIENT_ID: &str = "client_id";
    pub const CLAIM: &str = "claim";
    pub const DOMAINS: &str = "domains";
    pub const MODE: &str = "mode";
    /// A pending sign-in's nonce and PKCE verifier, sealed, on its `sso_state` token record.
    pub const PENDING: &str = "pending";
}
