//! Rate limits kept in the item store (so every Lambda instance sees the same counts): a counter per
//! subject and fixed window, with a TTL so old windows disappear by themselves.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::app::layout::attr;
use crate::app::{AppError, Services};
use crate::ports::{BatchWrite, Change, Table, Value, Write};

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub name: &'static str,
    pub max: i64,
    pub window_secs: i64,
}

/// Failed logins per account (tenant + login, whether or not it exists) in 15 minutes.
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    name: "login-account",
    max: 10,
    window_secs: 900,
};
/// Failed logins per source address in 15 minutes.
pub const LOGIN_PER_SOURCE: Limit = Limit {
    name: "login-source",
    max: 100,
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

/// `RateLimited` when the subject has used up the current window.
pub async fn check(
    svc: &Services,
    limit: &Limit,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let (pk, sk, end) = key(limit, subject, now);
    let count = svc
        .store
        .get(Table::Data, &pk, &sk)
        .await?
        .and_then(|i| i.n(attr::COUNT))
        .unwrap_or(0);
    if count >= limit.max {
        return Err(AppError::RateLimited {
            retry_after: (end - now.unix_timestamp()).max(1) as u64,
        });
    }
    Ok(())
}

/// Counts one event for each (limit, subject) pair, in one transaction.
pub async fn hit(
    svc: &Services,
    hits: &[(&Limit, &str)],
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let writes = hits
        .iter()
        .map(|(limit, subject)| {
            let (pk, sk, end) = key(limit, subject, now);
            Write::Update {
                table: Table::Data,
                pk,
                sk,
                changes: vec![
                    Change::Add(attr::COUNT, 1),
                    Change::Set(attr::TTL, Value::N(end + 60)),
                ],
                cond: None,
            }
        })
        .collect();
    svc.store.transact(writes).await?;
    Ok(())
}

/// Forgets the subject's count in the current window (a successful login clears its account's failures).
pub async fn clear(
    svc: &Services,
    limit: &Limit,
    subject: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let (pk, sk, _) = key(limit, subject, now);
    svc.store
        .batch_write(Table::Data, vec![BatchWrite::Delete { pk, sk }])
        .await?;
    Ok(())
}
