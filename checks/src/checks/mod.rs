//! One file per check. Each file's doc comment is the explanation users read with
//! `istio-peer explain CODE`.

pub mod c001_certificate_expired;
pub mod c002_certificate_expiring;
pub mod c003_certificate_not_yet_valid;
pub mod c004_ca_constraints_violated;
pub mod c005_certificate_unparseable;
pub mod e001_input_unavailable;
pub mod e002_input_invalid;
pub mod g008_gateway_terminates_identity;
pub mod i001_trust_domain_not_accepted;
pub mod i002_server_identity_mismatch;
pub mod i003_authz_denies_client;
pub mod i004_trust_domain_collision;
pub mod i005_trust_domain_migration;
pub mod t001_client_does_not_trust_server_ca;
pub mod t002_server_does_not_trust_client_ca;
pub mod t003_extra_roots_not_effective;
pub mod t004_ca_bundle_invalid;
pub mod t005_chain_incomplete;
pub mod t006_duplicate_root_subject;
pub mod t007_self_signed_ca;
pub mod t008_root_rotation_skew;
pub mod t009_plugin_ca_not_in_effect;

mod evidence;
mod path_certificates;
pub(crate) mod trust_direction;
