//! istio-peer: explains why mutual TLS between two Istio meshes fails, and how to fix it.
//!
//! This crate does the I/O — reading inputs, rendering reports — around the pure check engine
//! in the `checks` crate.

// Input-derived data must never be unwrapped: errors become findings.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
pub mod config;
pub mod doctor;
pub mod inspect;
pub mod live;
pub mod load;
pub mod probe;
pub mod probe_command;

pub mod render;
pub mod rules_test;
pub mod snapshot;
pub mod user_checks;

/// The current instant. The `checks` crate never reads the clock; the binary reads it here.
pub fn now() -> checks::time::Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    checks::time::Timestamp(secs)
}
