//! Facts derived from the model once and shared by the checks: trust per mesh, routes.

pub mod index;
pub mod route;
pub mod tls;
pub mod trust;

pub use route::{Route, Topology};
pub use trust::{CaMode, MeshTrust};
