//! Kanri: the account and data-lifecycle core of a multi-tenant security-management SaaS.
//!
//! Layers: `domain` (types and rules, no I/O), `app` (use cases), `ports` (traits for the outside world),
//! `adapters` (AWS and embedded), `http` (the route table, handlers, the local server and Lambda glue).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adapters;
pub mod app;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod lambda;
pub mod ports;
pub mod telemetry;
pub mod util;
pub mod wiring;
pub mod worker;
