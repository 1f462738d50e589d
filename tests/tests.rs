//! Integration tests: one binary, one module per area (as ripgrep does).

mod common;
mod fake_api;
mod fake_envoy;

mod catalogue;
mod ci_gate;
mod cli;
mod crds;
mod hardening;
mod inspect;
mod interop;
mod live;
mod probes;
mod properties;
mod scenarios;
mod user_checks;
