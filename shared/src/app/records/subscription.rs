//! A user's notice subscriptions as stored, and the writes that remove them.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::app::layout;
use crate::domain::ids::UserId;
use crate::ports::{Table, Write};

/// The deletes that remove a user's subscriptions, for the transaction that deletes the user.
pub fn unsubscribe_writes(scope: &Scope, user: &UserId) -> Vec<Write> {
    Kind::ALL
        .iter()
        .map(|k| {
            Write::delete(
                Table::Data,
                scope.pk(),
                layout::subscription_sk(k.as_str(), user),
            )
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Release,
    Incident,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Release, Kind::Incident];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Release => "release",
            Kind::Incident => "incident",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
