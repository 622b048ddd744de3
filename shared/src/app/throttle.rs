//! Rate limits kept in the item store (so every Lambda instance sees the same counts): a counter per
//! subject and fixed window, with a TTL so old windows disappear by themselves.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::layout::attr;
use crate::app::{AppError, Services};
use crate::ports::{Change, Cond, StoreError, Table, Value, Write};

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window_secs: i64,
}

/// Failed logins per account from one source address in 15 minutes: beyond it that source is locked out of
/// that account (429) until the window ends. Other sources are not.
pub const LOGIN_PER_ACCOUNT_SOURCE: Limit = Limit {
    name: "login-account-source",
    max: 10,
    window_secs: 900,
};
/// Failed logins per account (tenant + login, whether or not it exists) from all sources in 15 minutes
/// before the account is slowed. Past it the account is not locked (that would let anyone who knows the
/// address keep its owner out) but takes at most [`LOGIN_ACCOUNT_SLOWED`] password checks.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    name: "login-account",
    max: 20,
    window_secs: 900,
};
/// A slowed account's budget: one password check every 2 seconds, whoever asks (a 429 with a Retry-After
/// of a second or two for the others).
pub const LOGIN_ACCOUNT_SLOWED: Limit = Limit {
    name: "login-account-slowed",
    max: 1,
    window_secs: 2,
};
/// Failed logins per source address in 15 minutes.
pub const LOGIN_PER_SOURCE: Limit = Limit {
    name: "login-source",
    max: 100,
    window_secs: 900,
};
/// Wrong second-factor codes per user (from all sources) in 15 minutes, then locked (429) until the window
/// ends. Unlike the password's account limit this one locks: whoever sends codes has passed the password
/// step, so only someone who knows the password can keep the owner out, and a six-digit code must not be
/// guessable by spreading attempts over many addresses.
pub const MFA_PER_USER: Limit = Limit {
    name: "mfa-user",
    max: 10,
    window_secs: 900,
};
/// Reset mails per account in an hour (beyond it the request is accepted but nothing is sent).
pub const RESET_PER_ACCOUNT: Limit = Limit {
    name: "reset-account",
    max: 3,
    window_secs: 3600,
};
/// Reset requests per source address in an hour.
pub const RESET_PER_SOURCE: Limit = Limit {
    name: "reset-source",
    max: 20,
    window_secs: 3600,
};

fn key(limit: &Limit, subject: &str, now: OffsetDateTime) -> (String, String, i64) {
    let digest = crate::util::hex(&Sha256::digest(subject.as_bytes())[..16]);
    let start = now.unix_timestamp().div_euclid(limit.window_secs) * limit.window_secs;
    (
        format!("RATE#{}#{digest}", limit.name),
        start.to_string(),
        start + limit.window_secs,
    )
}

/// A limit that had no unit left: which of the pairs given to [`take`], and how long until its window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    pub index: usize,
    pub retry_after: u64,
}

impl From<Full> for AppError {
    fn from(f: Full) -> Self {
        AppError::RateLimited {
            retry_after: f.retry_after,
        }
    }
}

/// The write that takes one unit of the subject's current window, on condition that one is left (`count <
/// max`, a missing counter being 0): [`take`]'s, or one write of a larger transaction that the limit must
/// refuse whole (a reset mail's link).
pub(crate) fn unit(limit: &Limit, subject: &str, now: OffsetDateTime) -> Write {
    let (pk, sk, end) = key(limit, subject, now);
    Write::Update {
        table: Table::Data,
        pk,
        sk,
        changes: vec![
            Change::Add(attr::COUNT, 1),
            Change::Set(attr::TTL, Value::N(end + 60)),
        ],
        cond: Some(Cond::Not(Box::new(Cond::Ge(attr::COUNT, limit.max)))),
    }
}

/// Takes one unit from each (limit, subject) pair's current window, all or none, counting first: each
/// increment is conditioned on the count still being below the limit (`count < max`, a missing counter
/// being 0), so however many requests arrive at once, no more than `max` get through a window. `Full`
/// names the first pair that had none left.
pub async fn take(
    svc: &Services,
    pairs: &[(&Limit, &str)],
    now: OffsetDateTime,
) -> Result<Result<(), Full>, AppError> {
    let writes = pairs
        .iter()
        .map(|(limit, subject)| unit(limit, subject, now))
        .collect();
    match svc.store.transact(writes).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::ConditionFailed { index }) => {
            let end = pairs
                .get(index)
                .map(|(limit, subject)| key(limit, subject, now).2)
                .unwrap_or_else(|| now.unix_timestamp());
            Ok(Err(Full {
                index,
                retry_after: (end - now.unix_timestamp()).max(1) as u64,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

/// The write that gives one unit back (a login that succeeded does not count as a failure), for the
/// transaction of the success itself (the session or challenge it opens). The unit was taken at the same
/// `now`, so it names the same window's item, which holds at least that unit: no condition (one that could
/// fail would refuse the login), and the TTL again, so that even an item swept meanwhile goes away.
pub(crate) fn give_back(limit: &Limit, subject: &str, now: OffsetDateTime) -> Write {
    let (pk, sk, end) = key(limit, subject, now);
    Write::Update {
        table: Table::Data,
        pk,
        sk,
        changes: vec![
            Change::Add(attr::COUNT, -1),
            Change::Set(attr::TTL, Value::N(end + 60)),
        ],
        cond: None,
    }
}

/// The write that forgets the subject's count in the current window (a successful login clears its
/// account's failures), for the success's transaction.
pub(crate) fn clear(limit: &Limit, subject: &str, now: OffsetDateTime) -> Write {
    let (pk, sk, _) = key(limit, subject, now);
    Write::delete(Table::Data, pk, sk)
}
