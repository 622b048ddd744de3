//! The second factor as stored: the login challenge token, the recovery-code kind, whether a user item
//! has an active factor.

use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use crate::app::records::token;
use crate::app::records::user::UserRecord;
use crate::app::tx::Tx;
use crate::app::{AppError, Scope, Services};
use crate::crypto;

/// The token kind of a login challenge.
pub const CHALLENGE: &str = "mfa_challenge";

/// The token kind of a recovery code.
pub const RECOVERY: &str = "recovery";

/// How long a login challenge can be completed.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);

/// What the password step hands a user with a second factor: a challenge to complete, no session.
pub struct Challenge {
    pub token: SecretString,
    pub expires: OffsetDateTime,
}

/// Issues a login challenge for a user whose password verified (`auth::login`), writing `with` (the
/// login's throttle bookkeeping) in the same transaction.
pub(crate) async fn challenge(
    svc: &Services,
    scope: &Scope,
    user: &UserRecord,
    now: OffsetDateTime,
    with: Tx,
) -> Result<Challenge, AppError> {
    let (token, hash) = crypto::new_token();
    let expires = now + CHALLENGE_TTL;
    let mut tx = with;
    for w in token::token_writes(scope, &user.id, &hash, CHALLENGE, expires) {
        tx.push(w);
    }
    tx.commit(svc.store.as_ref()).await?;
    Ok(Challenge { token, expires })
}
