//! T001 and T002 are one check in two directions: can the verifying mesh chain the
//! presenting mesh's workload certificates to a root it trusts?

use super::evidence;
use crate::context::{Context, MeshView};
use crate::finding::Finding;
use crate::pki::{Verification, verify};
use crate::registry::CheckInfo;

/// Reports when `verifier` cannot chain `presenter`'s CA to any root it trusts.
pub fn check(
    cx: &Context,
    info: &CheckInfo,
    verifier: &MeshView,
    presenter: &MeshView,
) -> Vec<Finding> {
    let trust_set = verifier.trust.trust_set();
    if trust_set.is_empty() || !presenter.trust.is_known() {
        return Vec::new(); // E001 names what is missing.
    }
    let (who_verifies, who_presents) = (&verifier.mesh.name, &presenter.mesh.name);
    let reason = match presenter.trust.signing_chain.split_first() {
        Some((issuing, rest)) => match verify(issuing, rest, &trust_set, cx.at()) {
            Verification::Trusted { .. } => return Vec::new(),
            Verification::Untrusted(why) => why.describe(),
        },
        // Only the published root is known: compare roots.
        None => {
            let shared = presenter
                .trust
                .own_roots
                .iter()
                .any(|r| trust_set.iter().any(|t| t.same_key_and_name(r)));
            if shared {
                return Vec::new();
            }
            format!("{who_verifies} trusts none of the roots {who_presents} publishes")
        }
    };
    let mut finding = Finding::new(
        info,
        verifier.side,
        format!(
            "{who_verifies} cannot verify certificates issued by {who_presents}'s CA: {reason}. \
             Handshakes fail with CERTIFICATE_VERIFY_FAILED on {who_verifies}'s side \
             (and `tlsv1 alert unknown ca` on {who_presents}'s)."
        ),
    );
    if let Some(e) = evidence::signer(
        presenter,
        &format!("{who_presents} issues workload certificates with this CA"),
    ) {
        finding = finding.evidence(e);
    }
    for e in evidence::trusted_roots(
        verifier,
        &trust_set,
        &format!("a root {who_verifies}'s proxies trust"),
    ) {
        finding = finding.evidence(e);
    }
    if presenter.trust.signing_chain.is_empty() {
        for e in evidence::trusted_roots(
            presenter,
            &presenter.trust.own_roots,
            &format!("{who_presents}'s root"),
        ) {
            finding = finding.evidence(e);
        }
    }
    vec![finding
        .fix(format!(
            "Issue both meshes' CAs from one shared root (plug-in `cacerts` with per-mesh intermediates), \
             or add {who_presents}'s root to {who_verifies}'s trust with meshConfig.caCertificates \
             (requires ISTIO_MULTIROOT_MESH=true on istiod and PROXY_CONFIG_XDS_AGENT=\"true\" on proxies)."
        ))
        .fix_yaml(format!(
            "# {who_verifies}: ConfigMap istio-system/istio, key `mesh`\n\
             caCertificates:\n\
             - pem: |\n    <{who_presents}'s root-cert.pem>\n\
             defaultConfig:\n  proxyMetadata:\n    PROXY_CONFIG_XDS_AGENT: \"true\"\n\
             # and on istiod: env ISTIO_MULTIROOT_MESH=true; then restart the proxies"
        ))]
}
