//! The catalogue: every check's identity, default severity and explanation.
//!
//! A check is declared with [`declare_check!`] in its own file; its doc comment becomes the
//! explanation `istio-peer explain CODE` prints, so code and documentation cannot drift.

use serde::Serialize;

use crate::context::Context;
use crate::finding::{Category, Finding, Severity};

/// The identity of a check.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckInfo {
    /// Stable code (`T001`). Never reused.
    pub code: &'static str,
    /// Stable kebab-case name (`client-does-not-trust-server-ca`).
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// One line: what the check finds.
    pub summary: &'static str,
    /// The full explanation (markdown): what it checks, why it breaks, how to fix.
    #[serde(skip)]
    pub explanation: &'static str,
}

/// A registered check: its identity and its pure function over the context.
pub struct Check {
    pub info: CheckInfo,
    pub run: fn(&Context) -> Vec<Finding>,
}

/// Declares a check. The doc comment's first line is the summary; all of it is the
/// explanation.
#[macro_export]
macro_rules! declare_check {
    (
        $(#[doc = $first:literal])+
        pub static $ident:ident = {
            code: $code:literal,
            name: $name:literal,
            category: $category:ident,
            severity: $severity:ident,
            run: $run:path $(,)?
        };
    ) => {
        $(#[doc = $first])+
        pub static $ident: $crate::registry::Check = $crate::registry::Check {
            info: $crate::registry::CheckInfo {
                code: $code,
                name: $name,
                category: $crate::finding::Category::$category,
                severity: $crate::finding::Severity::$severity,
                summary: $crate::registry::first_line(concat!($($first, "\n"),+)),
                explanation: concat!($($first, "\n"),+),
            },
            run: $run,
        };
    };
}

/// The first non-empty line of a doc comment, trimmed (const so the registry is static).
pub const fn first_line(doc: &'static str) -> &'static str {
    let bytes = doc.as_bytes();
    let mut start = 0;
    while start < bytes.len() && (bytes[start] == b' ' || bytes[start] == b'\n') {
        start += 1;
    }
    let mut end = start;
    while end < bytes.len() && bytes[end] != b'\n' {
        end += 1;
    }
    match std::str::from_utf8(bytes.split_at(end).0.split_at(start).1) {
        Ok(s) => s,
        Err(_) => "",
    }
}

/// Codes the catalogue reserves for checks that are not implemented yet. They are listed so
/// that the public contract is visible and no code is ever given another meaning.
pub const RESERVED: &[(&str, &str)] = &[];

/// Retired codes: never reused. Empty so far.
pub const RETIRED: &[(&str, &str)] = &[];

/// Every implemented check, in catalogue order.
pub fn all() -> &'static [&'static Check] {
    ALL
}

static ALL: &[&Check] = {
    use crate::checks::*;
    &[
        &t001_client_does_not_trust_server_ca::CHECK,
        &t002_server_does_not_trust_client_ca::CHECK,
        &t003_extra_roots_not_effective::CHECK,
        &t004_ca_bundle_invalid::CHECK,
        &t005_chain_incomplete::CHECK,
        &t006_duplicate_root_subject::CHECK,
        &t007_self_signed_ca::CHECK,
        &t008_root_rotation_skew::CHECK,
        &t009_plugin_ca_not_in_effect::CHECK,
        &i001_trust_domain_not_accepted::CHECK,
        &i002_server_identity_mismatch::CHECK,
        &i003_authz_denies_client::CHECK,
        &i004_trust_domain_collision::CHECK,
        &i005_trust_domain_migration::CHECK,
        &c001_certificate_expired::CHECK,
        &c002_certificate_expiring::CHECK,
        &c003_certificate_not_yet_valid::CHECK,
        &c004_ca_constraints_violated::CHECK,
        &c005_certificate_unparseable::CHECK,
        &g001_no_cross_mesh_listener::CHECK,
        &g002_sni_not_routable::CHECK,
        &g003_alpn_missing::CHECK,
        &g004_no_mtls_endpoints::CHECK,
        &g005_gateway_credential_invalid::CHECK,
        &g006_gateway_requires_sni::CHECK,
        &g007_gateway_service_unexposed::CHECK,
        &g008_gateway_terminates_identity::CHECK,
        &g009_passthrough_double_wrap::CHECK,
        &r001_no_service_entry::CHECK,
        &r002_plaintext_origination::CHECK,
        &r003_dr_credential_ignored::CHECK,
        &r004_not_in_scope::CHECK,
        &r005_dns_or_vip::CHECK,
        &r006_verification_disabled::CHECK,
        &r007_conflicting_destination_rules::CHECK,
        &s001_peer_authentication_mode::CHECK,
        &s002_inbound_bypass::CHECK,
        &p001_tls_version_disjoint::CHECK,
        &p002_cipher_or_group_disjoint::CHECK,
        &n001_network_topology::CHECK,
        &v001_version_skew::CHECK,
        &l001_gateway_unreachable::CHECK,
        &l002_closed_before_server_hello::CHECK,
        &l003_server_chain_untrusted::CHECK,
        &l004_server_identity_unexpected::CHECK,
        &l005_client_certificate_rejected::CHECK,
        &l006_client_auth_not_enforced::CHECK,
        &l007_tls_parameters_rejected::CHECK,
        &l008_handshake_ok::CHECK,
        &l009_proxy_config_drift::CHECK,
        &l010_proxy_handshake_failures::CHECK,
        &e001_input_unavailable::CHECK,
        &e002_input_invalid::CHECK,
        &e003_waiver_unused::CHECK,
        &e004_user_check_failed::CHECK,
    ]
};

/// Finds a check by code (`T001`) or name (`client-does-not-trust-server-ca`), any case.
pub fn find(query: &str) -> Option<&'static Check> {
    all().iter().copied().find(|c| {
        c.info.code.eq_ignore_ascii_case(query) || c.info.name.eq_ignore_ascii_case(query)
    })
}

/// The explanation of a check without the one-space indent doc comments carry.
pub fn explanation(info: &CheckInfo) -> String {
    info.explanation
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}
