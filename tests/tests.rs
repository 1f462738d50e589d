//! Integration tests: one binary, one module per area (as ripgrep does).

mod common;
mod fake_api;

mod catalogue;
mod ci_gate;
mod cli;
mod crds;
mod hardening;
mod interop;
mod live;
mod probes;
mod properties;
mod scenarios;
