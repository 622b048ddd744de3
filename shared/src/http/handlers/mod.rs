//! Handlers: parse, call one use case, render. Grouped as the API groups its endpoints.

pub mod groups;
pub mod logs;
pub mod me;
pub mod notices;
pub mod ops;
pub mod questionnaires;
pub mod roles;
pub mod scim_tokens;
pub mod session;
pub mod system;
pub mod tenant;
pub mod uploads;
pub mod users;
