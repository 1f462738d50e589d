//! Evidence shared by several checks.

use std::sync::Arc;

use crate::analysis::trust::{CA_CERT, ROOT_CERT};
use crate::context::MeshView;
use crate::finding::Evidence;
use crate::pki::Certificate;

/// The object that holds a mesh's issuing CA, pointing at `ca-cert.pem`.
pub fn signer(view: &MeshView, note: &str) -> Option<Evidence> {
    let source = view.trust.signing_source.as_ref()?;
    let mut e = Evidence::object(view.side, source, Some(&format!("data.{CA_CERT}")), note);
    if let Some(ca) = view.trust.issuing_ca() {
        e = e.with_certificate(ca);
    }
    Some(e)
}

/// The object holding the roots a mesh's proxies trust, one evidence per root.
pub fn trusted_roots(view: &MeshView, roots: &[Arc<Certificate>], note: &str) -> Vec<Evidence> {
    let Some(source) = &view.trust.own_roots_source else {
        return roots
            .iter()
            .map(|r| Evidence::fact(view.side, note).with_certificate(r))
            .collect();
    };
    roots
        .iter()
        .map(|r| {
            Evidence::object(view.side, source, Some(&format!("data.{ROOT_CERT}")), note)
                .with_certificate(r)
        })
        .collect()
}

/// The client's deciding DestinationRule, pointing at a field under its `tls` block.
pub fn client_rule(
    route: &crate::analysis::Route,
    tls_field: &str,
    note: impl Into<String>,
) -> Option<Evidence> {
    let (source, path) = route.client.destination_rule.as_ref()?;
    let field = if tls_field.is_empty() {
        path.clone()
    } else {
        format!("{path}.{tls_field}")
    };
    Some(Evidence::object(
        crate::model::Side::Client,
        source,
        Some(&field),
        note,
    ))
}

/// The client's ServiceEntry for the route.
pub fn service_entry(
    route: &crate::analysis::Route,
    field: &str,
    note: impl Into<String>,
) -> Option<Evidence> {
    let source = route.service_entry.as_ref()?;
    Some(Evidence::object(
        crate::model::Side::Client,
        source,
        Some(field),
        note,
    ))
}

/// The server's Gateway server the route lands on (`field` below `spec.servers[i]`).
pub fn gateway_server(
    route: &crate::analysis::Route,
    field: &str,
    note: impl Into<String>,
) -> Option<Evidence> {
    let hop = route.gateway.as_ref()?;
    let path = if field.is_empty() {
        format!("spec.servers[{}]", hop.server)
    } else {
        format!("spec.servers[{}].{field}", hop.server)
    };
    Some(Evidence::object(
        crate::model::Side::Server,
        &hop.gateway,
        Some(&path),
        note,
    ))
}

/// Adds evidence that may be absent.
pub fn with(
    finding: crate::finding::Finding,
    evidence: Option<Evidence>,
) -> crate::finding::Finding {
    match evidence {
        Some(e) => finding.evidence(e),
        None => finding,
    }
}
