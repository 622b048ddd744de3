//! The one integration test binary of the black-box suite: every former `tests/tests/*.rs` is a module here,
//! so the crate links once and the tests share one moto (zero2prod's `tests/api/main.rs` layout). A test is
//! named by its module, e.g. `cargo test -p kanri-tests --test api credentials::`.

mod api;
mod authz;
mod aws_faults;
mod bulk_delete;
mod contract_end;
mod credentials;
mod disabled;
mod faults;
mod groups;
mod import_limits;
mod import_preview;
mod imports;
mod input;
mod layout;
mod link_pages;
mod mfa;
mod mfa_pages;
mod mfa_reset;
mod notices;
mod pages;
mod paging;
mod prefetch;
mod races;
mod retention;
mod roles;
mod scim;
mod session_token;
mod sign_in_policy;
mod sso;
mod store_conformance;
mod tiers;
mod uploads;
