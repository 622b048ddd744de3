//! Operation-log and mail-log entries, written to the log table (which outlives the tenant's purge).
//! Personal data in them is sealed under the tenant's log key, not its data key.

use time::OffsetDateTime;

use crate::app::layout::{self, attr};
use crate::crypto::TenantKey;
use crate::domain::ids::{TenantId, new_id};
use crate::ports::{Item, Table, Value, Write};

/// Who made a change.
#[derive(Clone, Debug)]
pub enum Actor {
    Operator,
    User {
        id: String,
        name: String,
    },
    /// A change made with a one-time link (set-password) by the user it belongs to.
    LinkHolder {
        id: String,
    },
    /// A change made through SCIM with the tenant's token of this id and name (issue 18).
    ScimToken {
        id: String,
        name: String,
    },
    /// Someone not (yet) identified: a single sign-on that failed before it named a user.
    Anonymous,
}

pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
}

/// The entry of an attempt that was refused (result `failure`), such as a single sign-on that failed.
pub fn failure(
    tenant: &TenantId,
    log_key: &TenantKey,
    actor: &Actor,
    e: Entry<'_>,
    now: OffsetDateTime,
) -> Write {
    match entry(tenant, log_key, actor, e, now) {
        Write::Put {
            table,
            mut item,
            cond,
        } => {
            item = item.with(attr::RESULT, Value::S("failure".into()));
            Write::Put { table, item, cond }
        }
        other => other,
    }
}

/// The audit entry as a write, to go into the same transaction as the change it records.
pub fn entry(
    tenant: &TenantId,
    log_key: &TenantKey,
    actor: &Actor,
    e: Entry<'_>,
    now: OffsetDateTime,
) -> Write {
    let id = new_id();
    let at = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let (actor_id, actor_name) = match actor {
        Actor::Operator => ("operator".to_owned(), Some("operator".to_owned())),
        Actor::User { id, name } => (id.clone(), Some(name.clone())),
        Actor::LinkHolder { id } => (id.clone(), None),
        Actor::ScimToken { id, name } => (format!("scim_token:{id}"), Some(name.clone())),
        Actor::Anonymous => ("anonymous".to_owned(), None),
    };
    let mut item = Item::new(layout::audit_pk(tenant), layout::log_sk(at, &id))
        .with(attr::AT, Value::N(at))
        .with(attr::ACTOR, Value::S(actor_id))
        .with(attr::ACTION, Value::S(e.action.to_owned()))
        .with(attr::TARGET_TYPE, Value::S(e.target_type.to_owned()))
        .with(attr::TARGET_ID, Value::S(e.target_id.to_owned()))
        .with(attr::RESULT, Value::S("success".into()));
    if let Some(name) = actor_name {
        let ctx = format!("{tenant}/audit/{id}/actor_name");
        item = item.with(attr::ACTOR_NAME, Value::B(log_key.seal(&ctx, &name)));
    }
    Write::put_new(Table::Log, item)
}

/// A mail-log record (recipient sealed under the log key).
pub fn mail_record(
    tenant: &TenantId,
    log_key: &TenantKey,
    to: &str,
    kind: &str,
    message_id: Option<&str>,
    now: OffsetDateTime,
) -> Item {
    let id = new_id();
    let at = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let ctx = format!("{tenant}/mail/{id}/to");
    Item::new(layout::mail_pk(tenant), layout::log_sk(at, &id))
        .with(attr::AT, Value::N(at))
        .with(attr::TO, Value::B(log_key.seal(&ctx, to)))
        .with(attr::KIND, Value::S(kind.to_owned()))
        .with(
            attr::MESSAGE_ID,
            Value::S(message_id.unwrap_or_default().to_owned()),
        )
        .with(
            attr::STATUS,
            Value::S(
                if message_id.is_some() {
                    "sent"
                } else {
                    "failed"
                }
                .into(),
            ),
        )
}
