//! The lower tier: one file per stored entity (the record, its codec, its loaders, the writes that make and
//! change it). Records import support modules and other records, never a use case (`tests/tests/api/tiers.rs`).

pub mod factor;
pub mod group;
pub mod import;
pub mod membership;
pub mod policy;
pub mod questionnaire;
pub mod role;
pub mod scim;
pub mod sso;
pub mod subscription;
pub mod tenant;
pub mod token;
pub mod upload;
pub mod user;
