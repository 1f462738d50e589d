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
