//! The istio-peer check engine: a snapshot model of two Istio meshes and pure, I/O-free checks
//! over it.
//!
//! Nothing here reads files, the network or the clock: inputs arrive as [`model::RawObject`]s,
//! the evaluation instant is part of the [`model::Snapshot`], and checks return data.

// Input-derived data must never be unwrapped: errors become findings.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod analysis;
pub mod checks;
pub mod context;
pub mod engine;
pub mod error_text;
pub mod finding;
pub mod model;
pub mod pki;
pub mod policy;
pub mod redact;
pub mod registry;
pub mod spiffe;
pub mod time;
pub mod user;
pub mod yaml;
