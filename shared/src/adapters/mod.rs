//! Both sets of adapters behind the ports.

pub mod aws;
pub mod embedded;
pub mod web;
