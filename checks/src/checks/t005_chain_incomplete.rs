use std::sync::Arc;

use crate::analysis::trust::CaSecret;
use crate::context::Context;
use crate::finding::{Evidence, Finding};
use crate::pki::{Certificate, Untrusted, Verification, verify};

crate::declare_check! {
    /// `cert-chain.pem` lacks an intermediate between the issuing CA and the root.
    ///
    /// **What it checks.** Workloads present their leaf plus `cert-chain.pem`. When the issuing
    /// CA (`ca-cert.pem`) is not signed by the root directly, every intermediate in between
    /// must be in `cert-chain.pem`. The check walks from `ca-cert.pem` towards `root-cert.pem`
    /// and reports the first issuer that is neither presented nor a root.
    ///
    /// **Why it breaks.** The peer holds only the root; it cannot bridge the gap and reports
    /// an unknown issuer (`CERTIFICATE_VERIFY_FAILED`), even though both meshes share the root.
    ///
    /// **How to fix.** List every intermediate in `cert-chain.pem`, leaf side first:
    /// `cat ca-cert.pem intermediate.pem root-cert.pem > cert-chain.pem`, update `cacerts` and
    /// restart istiod, then the workloads.
    pub static CHECK = {
        code: "T005",
        name: "chain-incomplete",
        category: Trust,
        severity: Error,
        run: run,
    };
}

/// Whether `stuck` could not be chained because its issuer is absent from the bundle (a gap),
/// rather than because the bundle's root is a different one.
pub fn is_gap(ca: &CaSecret, stuck: &Arc<Certificate>) -> bool {
    let named_in_bundle = ca
        .root_certs
        .iter()
        .chain(&ca.cert_chain)
        .any(|c| c.raw_subject() == stuck.raw_issuer());
    !stuck.self_issued && !named_in_bundle
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        let Some(ca) = &view.trust.plug_in else {
            continue;
        };
        let Some(cert) = &ca.ca_cert else { continue };
        if ca.root_certs.is_empty() {
            continue;
        }
        let Verification::Untrusted(Untrusted::UnknownIssuer {
            cert: stuck,
            issuer,
        }) = verify(cert, &ca.cert_chain, &ca.root_certs, cx.at())
        else {
            continue;
        };
        if !is_gap(ca, &stuck) {
            continue;
        }
        out.push(
            Finding::new(
                &CHECK.info,
                view.side,
                format!(
                    "{}'s chain stops short: nothing in cert-chain.pem issued `{}`; its issuer `{issuer}` is missing \
                     between it and the root. Peers holding only the root cannot verify {}'s workloads.",
                    view.mesh.name, stuck.subject, view.mesh.name
                ),
            )
            .evidence(
                Evidence::object(view.side, &ca.source, Some("data.cert-chain.pem"), format!("no certificate for issuer `{issuer}`"))
                    .with_certificate(&stuck),
            )
            .fix("Add every intermediate to cert-chain.pem (issuing CA first, root last), update the Secret and restart istiod.")
            .fix_command(format!(
                "cat ca-cert.pem <intermediate for `{issuer}`>.pem root-cert.pem > cert-chain.pem && \
                 kubectl -n {ns} create secret generic cacerts --from-file=ca-cert.pem --from-file=ca-key.pem \
                 --from-file=root-cert.pem --from-file=cert-chain.pem --dry-run=client -o yaml | kubectl apply -f -",
                ns = ca.source.object.namespace
            )),
        );
    }
    out
}
