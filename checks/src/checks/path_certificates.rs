//! The certificates a cross-mesh handshake depends on, each once, with where it lives.

use std::sync::Arc;

use crate::context::{Context, MeshView};
use crate::finding::Evidence;
use crate::model::Source;
use crate::pki::Certificate;

/// A certificate on the path, with the object and field that hold it.
pub struct PathCertificate<'a> {
    pub cert: Arc<Certificate>,
    pub view: &'a MeshView<'a>,
    pub source: Option<Source>,
    pub field: String,
    pub role: &'static str,
}

impl PathCertificate<'_> {
    pub fn evidence(&self, note: impl Into<String>) -> Evidence {
        let e = match &self.source {
            Some(src) => Evidence::object(self.view.side, src, Some(&self.field), note),
            None => Evidence::fact(self.view.side, note),
        };
        e.with_certificate(&self.cert)
    }
}

/// Issuing chains and trusted roots of both meshes, deduplicated by fingerprint.
pub fn collect<'a>(cx: &'a Context<'a>) -> Vec<PathCertificate<'a>> {
    let mut out: Vec<PathCertificate<'a>> = Vec::new();
    for view in cx.meshes() {
        let trust = &view.trust;
        for (i, cert) in trust.signing_chain.iter().enumerate() {
            let (field, role) = if i == 0 {
                ("data.ca-cert.pem", "issuing CA")
            } else {
                ("data.cert-chain.pem", "chain certificate")
            };
            push(
                &mut out,
                cert,
                view,
                trust.signing_source.clone(),
                field,
                role,
            );
        }
        for cert in &trust.own_roots {
            push(
                &mut out,
                cert,
                view,
                trust.own_roots_source.clone(),
                "data.root-cert.pem",
                "trusted root",
            );
        }
        for extra in trust.extra_roots.iter().filter(|e| e.effective) {
            for cert in &extra.certs {
                push(
                    &mut out,
                    cert,
                    view,
                    view.mesh.config_source.clone(),
                    "data.mesh",
                    "extra trusted root",
                );
            }
        }
    }
    for credential in cx
        .routes
        .iter()
        .filter_map(|r| r.gateway.as_ref()?.credential.as_ref())
    {
        for cert in &credential.chain {
            push(
                &mut out,
                cert,
                &cx.server,
                credential.secret.clone(),
                "data.tls.crt",
                "gateway certificate",
            );
        }
        if let Some((src, key)) = &credential.client_cas_source {
            for cert in &credential.client_cas {
                push(
                    &mut out,
                    cert,
                    &cx.server,
                    Some(src.clone()),
                    &format!("data.{key}"),
                    "gateway client CA",
                );
            }
        }
    }
    out
}

fn push<'a>(
    out: &mut Vec<PathCertificate<'a>>,
    cert: &Arc<Certificate>,
    view: &'a MeshView<'a>,
    source: Option<Source>,
    field: &str,
    role: &'static str,
) {
    if out.iter().any(|p| p.cert.fingerprint == cert.fingerprint) {
        return;
    }
    out.push(PathCertificate {
        cert: cert.clone(),
        view,
        source,
        field: field.to_string(),
        role,
    });
}
