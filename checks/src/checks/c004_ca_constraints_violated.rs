use crate::context::Context;
use crate::finding::Finding;
use crate::pki::{PathProblem, Verification, verify};

crate::declare_check! {
    /// A CA on the path breaks the rules peers enforce for issuers.
    ///
    /// **What it checks.** Issuing CAs and intermediates must be `CA:TRUE`, carry
    /// `keyCertSign` when they have a keyUsage extension, respect their issuers' pathLen, not
    /// be signed with SHA-1, and not use RSA keys under 2048 bits. A plug-in CA with an
    /// extendedKeyUsage must not exclude serverAuth.
    ///
    /// **Why it breaks.** BoringSSL (Envoy) and webpki reject such chains although the
    /// signatures are fine: `CERTIFICATE_VERIFY_FAILED` or `UNSUPPORTED_CERTIFICATE`.
    ///
    /// **How to fix.** Re-issue the CA with `basicConstraints=critical,CA:TRUE`,
    /// `keyUsage=critical,keyCertSign,cRLSign,digitalSignature`, SHA-256 and a key of at least
    /// 2048 bits (RSA) or P-256 (ECDSA).
    pub static CHECK = {
        code: "C004",
        name: "ca-constraints-violated",
        category: Certificates,
        severity: Error,
        run: run,
    };
}

fn run(cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for view in cx.meshes() {
        let Some((issuing, rest)) = view.trust.signing_chain.split_first() else {
            continue;
        };
        let mut problems: Vec<String> = Vec::new();
        let mut anchors = view.trust.own_roots.clone();
        anchors.extend(rest.iter().filter(|c| c.self_issued).cloned());
        match verify(issuing, rest, &anchors, cx.at()) {
            Verification::Trusted {
                path,
                problems: found,
            } => {
                problems.extend(
                    found
                        .iter()
                        .filter(|p| {
                            !matches!(
                                p,
                                PathProblem::Expired { .. } | PathProblem::NotYetValid { .. }
                            )
                        })
                        .map(PathProblem::describe),
                );
                // The issuing CA is the chain's leaf here: it must itself be a CA.
                if let Some(first) = path.first() {
                    if !first.is_ca {
                        problems.push(format!(
                            "`{}` issues workload certificates but is not a CA",
                            first.subject
                        ));
                    }
                    if first.key_usage.as_ref().is_some_and(|k| !k.key_cert_sign) {
                        problems.push(format!(
                            "`{}` issues workload certificates but its keyUsage lacks keyCertSign",
                            first.subject
                        ));
                    }
                }
            }
            Verification::Untrusted(_) => {} // T004/T005 report unverifiable chains.
        }
        if let Some(eku) = &issuing.extended_key_usage
            && !eku.iter().any(|u| u == "serverAuth" || u == "any")
        {
            problems.push(format!(
                "`{}` has an extendedKeyUsage without serverAuth",
                issuing.subject
            ));
        }
        problems.dedup();
        if problems.is_empty() {
            continue;
        }
        let mut finding = Finding::new(
            &CHECK.info,
            view.side,
            format!(
                "{}'s CA chain breaks issuer rules: {}.",
                view.mesh.name,
                problems.join("; ")
            ),
        );
        if let Some(e) = super::evidence::signer(view, "issuing CA") {
            finding = finding.evidence(e);
        }
        out.push(finding.fix(
            "Re-issue the CA with basicConstraints=critical,CA:TRUE, keyUsage=critical,keyCertSign,cRLSign,digitalSignature, \
             a SHA-256 signature and an RSA key of at least 2048 bits (or ECDSA P-256).",
        ));
    }
    out
}
