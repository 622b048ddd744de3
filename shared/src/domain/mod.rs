//! Types and rules with no I/O.

pub mod common_passwords;
pub mod ids;
pub mod permissions;
pub mod time;
pub mod values;
