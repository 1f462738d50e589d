//! Integration tests: one binary, one module per area (as ripgrep does).

mod common;

mod catalogue;
mod cli;
mod crds;
mod interop;
mod scenarios;
