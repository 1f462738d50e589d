use std::sync::Arc;

use crate::context::{Context, MeshView};
use crate::finding::{Evidence, Finding};
use crate::pki::Certificate;

crate::declare_check! {
    /// Two different roots in one trust set share a subject name, and a chain cannot say which.
    ///
    /// **What it checks.** In a mesh's trust set (own root plus effective extra roots), roots
    /// with the same subject DN but different keys are ambiguous. That is harmless while every
    /// certificate they issue carries an authorityKeyIdentifier equal to the right root's
    /// subjectKeyIdentifier. The check reports such roots when an intermediate of either mesh
    /// issued under that name has no AKID, or an AKID matching none of them.
    ///
    /// **Why it breaks.** BoringSSL looks up the issuer by name and may try the wrong root:
    /// the signature check fails with `TLSV1_ALERT_DECRYPT_ERROR` for some connections and
    /// works for others.
    ///
    /// **How to fix.** Give every root a distinct subject name, and issue intermediates with
    /// subjectKeyIdentifier/authorityKeyIdentifier extensions.
    pub static CHECK = {
        code: "T006",
        name: "duplicate-root-subject",
        category: Trust,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let chains: Vec<Arc<Certificate>> = cx
        .meshes()
        .iter()
        .flat_map(|v| v.trust.signing_chain.iter().cloned())
        .collect();
    cx.meshes()
        .into_iter()
        .flat_map(|view| check_mesh(view, &chains))
        .collect()
}

fn check_mesh(view: &MeshView, chains: &[Arc<Certificate>]) -> Vec<Finding> {
    let roots = view.trust.trust_set();
    let mut out = Vec::new();
    let mut seen: Vec<&[u8]> = Vec::new();
    for root in &roots {
        if seen.contains(&root.raw_subject()) {
            continue;
        }
        seen.push(root.raw_subject());
        let namesakes: Vec<&Arc<Certificate>> = roots
            .iter()
            .filter(|r| r.raw_subject() == root.raw_subject())
            .collect();
        let distinct_keys = namesakes
            .iter()
            .any(|r| r.spki_fingerprint != namesakes[0].spki_fingerprint);
        if !distinct_keys {
            continue;
        }
        let ambiguous: Vec<&Arc<Certificate>> = chains
            .iter()
            .filter(|c| !c.self_issued && c.raw_issuer() == root.raw_subject())
            .filter(|c| match &c.authority_key_id {
                None => true,
                Some(akid) => !namesakes
                    .iter()
                    .any(|r| r.subject_key_id.as_ref() == Some(akid)),
            })
            .collect();
        if ambiguous.is_empty() {
            continue;
        }
        let mut finding = Finding::new(
            &CHECK.info,
            view.side,
            format!(
                "{} trusts {} different roots named `{}`, and `{}` does not say by key identifier which one issued it; \
                 Envoy may pick the wrong root and fail with decrypt_error.",
                view.mesh.name,
                namesakes.len(),
                root.subject,
                ambiguous[0].subject
            ),
        );
        for r in &namesakes {
            finding = finding
                .evidence(Evidence::fact(view.side, "root with this subject").with_certificate(r));
        }
        for c in &ambiguous {
            finding = finding.evidence(
                Evidence::fact(
                    view.side,
                    "intermediate without a matching authorityKeyIdentifier",
                )
                .with_certificate(c),
            );
        }
        out.push(finding.fix(
            "Re-issue one of the roots under a distinct subject name, and re-issue intermediates with \
             authorityKeyIdentifier (openssl: `authorityKeyIdentifier=keyid:always`).",
        ));
    }
    out
}
